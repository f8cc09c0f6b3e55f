package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// An unknown command is one line on stderr naming every command, exit 2; so is an
// unknown command to help.
func TestUnknownCommandIsOneLine(t *testing.T) {
	const want = `rowguard: unknown command "srve"; commands: serve, migrate, policies, admin, purge-deleted, seed-demo, version, help` + "\n"
	for _, args := range [][]string{{"srve"}, {"help", "srve"}} {
		code, stdout, stderr := runArgs(t, args...)
		if code != 2 || stdout != "" || stderr != want {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and stderr %q", args, code, stdout, stderr, want)
		}
	}
}

// `rowguard help CMD` and `rowguard CMD -h` print that command's usage (its synopsis,
// what it does and its flags), exit 0; help alone lists every command and variable.
func TestHelpPerCommand(t *testing.T) {
	for _, c := range commands {
		want := "Usage: rowguard " + c.synopsis + "\n"
		code, stdout, stderr := runArgs(t, "help", c.name)
		if code != 0 || !strings.HasPrefix(stdout, want) || stderr != "" {
			t.Errorf("help %s: exit %d, stdout %q, stderr %q", c.name, code, stdout, stderr)
		}
		if strings.Contains(stdout, "Commands:") || strings.Contains(stdout, "ROWGUARD_ACCESS_TOKEN_TTL") {
			t.Errorf("help %s printed the whole help:\n%s", c.name, stdout)
		}
		if c.name == "help" {
			continue
		}
		code, stdout2, stderr2 := runArgs(t, c.name, "-h")
		if code != 0 || stdout2 != "" || stderr2 != stdout {
			t.Errorf("%s -h: exit %d, stdout %q, stderr %q; want exit 0 and, on stderr, what help %s prints", c.name, code, stdout2, stderr2, c.name)
		}
	}
	for cmd, flag := range map[string]string{"migrate": "-to", "policies": "-format", "seed-demo": "-password"} {
		if _, stdout, _ := runArgs(t, "help", cmd); !strings.Contains(stdout, "Flags:\n  "+flag) {
			t.Errorf("help %s does not list %s:\n%s", cmd, flag, stdout)
		}
	}
	code, stdout, _ := runArgs(t, "help")
	if code != 0 || !strings.Contains(stdout, "ROWGUARD_ACCESS_TOKEN_TTL") {
		t.Errorf("help: exit %d", code)
	}
	for _, c := range commands {
		if !strings.Contains(stdout, "\n  "+c.synopsis) {
			t.Errorf("help does not list %q", c.synopsis)
		}
	}
}

// Configuration errors: every one at once, each on its own line naming the variable, an
// unknown variable with the closest known one; nothing is started.
func TestServeReportsEveryConfigurationError(t *testing.T) {
	clearEnv(t)
	data := filepath.Join(t.TempDir(), "data")
	t.Setenv("ROWGUARD_DATA_DIR", data)
	t.Setenv("ROWGUARD_ADRR", "127.0.0.1:8081")
	t.Setenv("ROWGUARD_LOG_LEVEL", "loud")
	t.Setenv("ROWGUARD_TOKEN_LEEWAY", "a while")
	t.Setenv("ROWGUARD_REQUEST_TIMEOUT", "1h")
	code, stdout, stderr := runArgs(t, "serve")
	want := "rowguard: ROWGUARD_ADRR: unknown variable; did you mean ROWGUARD_ADDR?\n" +
		"rowguard: ROWGUARD_TOKEN_LEEWAY: must be a duration such as 30s, 15m or 1h (got \"a while\")\n" +
		"rowguard: ROWGUARD_LOG_LEVEL: must be debug, info, warn or error (got \"loud\")\n" +
		"rowguard: ROWGUARD_REQUEST_TIMEOUT: must be between 1s and 10m (got 1h)\n"
	if code != 1 || stdout != "" || stderr != want {
		t.Errorf("exit %d\nstdout %q\nstderr:\n%s\nwant:\n%s", code, stdout, stderr, want)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("%s was created by a start that was refused (%v)", data, err)
	}
	// migrate reads fewer variables, with the same rules.
	if code, _, stderr := runArgs(t, "migrate"); code != 1 || !strings.HasPrefix(stderr, "rowguard: ROWGUARD_ADRR: unknown variable; did you mean ROWGUARD_ADDR?\n") {
		t.Errorf("migrate: exit %d, stderr %q", code, stderr)
	}
}

// A port in use stops serve before the development cluster is created: both listeners
// are bound first.
func TestServePortInUseFailsBeforeTheCluster(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct{ api, management, want string }{
		{taken.Addr().String(), "off", "rowguard: ROWGUARD_ADDR: listen tcp " + taken.Addr().String() + ": bind: address already in use"},
		{freeAddr(t), taken.Addr().String(), "rowguard: ROWGUARD_MANAGEMENT_ADDR: the management listener (metrics, health): listen tcp " + taken.Addr().String() + ": bind: address already in use"},
	} {
		clearEnv(t)
		data := filepath.Join(t.TempDir(), "data")
		t.Setenv("ROWGUARD_DATA_DIR", data)
		t.Setenv("ROWGUARD_ADDR", tc.api)
		t.Setenv("ROWGUARD_MANAGEMENT_ADDR", tc.management)
		start := time.Now()
		code, stdout, stderr := runArgs(t, "serve")
		if code != 1 || !strings.HasPrefix(stderr, tc.want) {
			t.Errorf("exit %d\nstdout %s\nstderr %s\nwant %q", code, stdout, stderr, tc.want)
		}
		if _, err := os.Stat(filepath.Join(data, "postgres")); !os.IsNotExist(err) {
			t.Errorf("the development cluster directory exists after the failed start (%v)", err)
		}
		if strings.Contains(stdout, "development mode") {
			t.Errorf("serve went on to the database:\n%s", stdout)
		}
		t.Logf("refused in %s", time.Since(start).Round(time.Millisecond))
		if tc.api != taken.Addr().String() { // bound, then let go
			if l, err := net.Listen("tcp", tc.api); err != nil {
				t.Errorf("the API's port is still held after the failed start: %v", err)
			} else {
				l.Close()
			}
		}
	}
}

// version prints the version, the commit and its date from the build information.
func TestVersionText(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/rowguard/rowguard", Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "7c01b73c1f0e"},
			{Key: "vcs.time", Value: "2026-12-03T02:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	want := "rowguard dev\ncommit   7c01b73c1f0e-dirty\ndate     2026-12-03T02:00:00Z\ngo       go1.26.8\n"
	if got := versionText("dev", "", "", info); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	info.Settings[3].Value = "false"
	info.Main.Version = "v1.4.0" // go install …@v1.4.0
	if got := versionText("dev", "", "", info); !strings.HasPrefix(got, "rowguard v1.4.0\ncommit   7c01b73c1f0e\n") {
		t.Errorf("clean, released: %q", got)
	}
	if got := versionText("1.5.0", "", "", info); !strings.HasPrefix(got, "rowguard 1.5.0\n") {
		t.Errorf("-ldflags -X version: %q", got)
	}
	info.Main.Version = "v0.0.0-20261203020000-7c01b73c1f0e+dirty" // a pseudo-version is no release
	if got := versionText("dev", "", "", info); !strings.HasPrefix(got, "rowguard dev\n") {
		t.Errorf("pseudo-version: %q", got)
	}
	if got := versionText("dev", "", "", nil); got != "rowguard dev\ncommit   unknown\ndate     unknown\ngo       unknown\n" {
		t.Errorf("no build information: %q", got)
	}
	// Outside a git checkout (the Docker build): the commit and date given at link time.
	if got := versionText("1.5.0", "0123abcd", "2026-12-03T11:00:00Z", &debug.BuildInfo{GoVersion: "go1.26.8"}); got != "rowguard 1.5.0\ncommit   0123abcd\ndate     2026-12-03T11:00:00Z\ngo       go1.26.8\n" {
		t.Errorf("link-time commit and date: %q", got)
	}
	// The go command's own record wins over them.
	if got := versionText("dev", "0123abcd", "2026-12-03T11:00:00Z", info); !strings.Contains(got, "commit   7c01b73c1f0e\n") {
		t.Errorf("vcs.revision and a link-time commit: %q", got)
	}
}

// The real binary, built from this git checkout, reports its commit and that commit's
// date, with -dirty when the checkout has changes (as git status shows them). Built in
// place, so that the build cache serves it; in a git worktree, where the go command
// records no VCS information, or without git, there is nothing to compare with.
func TestVersionFromTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git")
	}
	goPath, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	sh := func(dir, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=") // whatever -buildvcs the environment sets
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	root := sh(".", gitPath, "rev-parse", "--show-toplevel")
	if fi, err := os.Stat(filepath.Join(root, ".git")); err != nil || !fi.IsDir() {
		t.Skipf("%s is not a git checkout with a .git directory (a worktree?): the go command stamps no commit", root)
	}
	bin := filepath.Join(t.TempDir(), "rowguard")
	sh(root, goPath, "build", "-buildvcs=true", "-o", bin, "./cmd/rowguard")
	dirty := ""
	if sh(root, gitPath, "status", "--porcelain") != "" {
		dirty = "-dirty"
	}
	unix, _ := strconv.ParseInt(sh(root, gitPath, "log", "-1", "--format=%ct"), 10, 64)
	want := "commit   " + sh(root, gitPath, "rev-parse", "HEAD") + dirty + "\n" +
		"date     " + time.Unix(unix, 0).UTC().Format(time.RFC3339) + "\n"
	if got := sh(root, bin, "version") + "\n"; !strings.HasPrefix(got, "rowguard ") || !strings.Contains(got, want) {
		t.Errorf("rowguard version:\n%s\nwant it to contain\n%s", got, want)
	}
}
