package main

import (
	"fmt"
	"io"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/rowguard/rowguard"
)

func versionCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = nil
	}
	fmt.Fprint(stdout, versionText(rowguard.Version, rowguard.Commit, rowguard.BuildDate, info))
	return nil
}

// releaseVersion is a module version of a tagged release (go install …@v1.2.3), not a
// pseudo-version or a dirty one.
var releaseVersion = regexp.MustCompile(`^v\d+\.\d+\.\d+$`)

// versionText says which rowguard this is: the version (set with -ldflags, else the
// module's release version, else "dev"), the commit it was built from (vcs.revision,
// with -dirty when the checkout had uncommitted changes: vcs.modified) and its date
// (vcs.time), as the go command recorded them; else the commit and date given at link
// time (ldCommit, ldDate: the Docker build's); "unknown" when neither says (a build
// outside a git checkout, or with -buildvcs=false).
func versionText(version, ldCommit, ldDate string, info *debug.BuildInfo) string {
	commit, date, goVersion := "unknown", "unknown", "unknown"
	if ldCommit != "" {
		commit = ldCommit
	}
	if ldDate != "" {
		date = ldDate
	}
	if info != nil {
		if version == "dev" && releaseVersion.MatchString(info.Main.Version) {
			version = info.Main.Version
		}
		goVersion = info.GoVersion
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		if r := settings["vcs.revision"]; r != "" {
			commit = r
			if settings["vcs.modified"] == "true" {
				commit += "-dirty"
			}
		}
		if t := settings["vcs.time"]; t != "" {
			date = t
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rowguard %s\n", version)
	fmt.Fprintf(&b, "commit   %s\n", commit)
	fmt.Fprintf(&b, "date     %s\n", date)
	fmt.Fprintf(&b, "go       %s\n", goVersion)
	return b.String()
}
