// Package pgcluster runs a private PostgreSQL cluster that rowguard starts itself: for
// development (`rowguard serve` without DATABASE_URL) and for tests. The cluster listens
// on a Unix socket only, so it never conflicts with another PostgreSQL on the machine
// (a system cluster on port 5432 is neither touched nor used).
//
// The PostgreSQL binaries come from the Debian/Ubuntu packages. When they are missing
// and the process runs as root, they are installed with apt-get; otherwise the error
// names the exact command to run.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Install is one PostgreSQL server installation.
type Install struct {
	// BinDir holds initdb, pg_ctl and postgres.
	BinDir string
	// Major is the major version (15 for 15.4).
	Major int
	// Version is the full version string reported by pg_ctl --version.
	Version string
	// ShareDir is the installation's share directory (extensions live in ShareDir/extension).
	ShareDir string
}

// Bin returns the path of the named program in the installation's bin directory.
func (in *Install) Bin(name string) string { return filepath.Join(in.BinDir, name) }

// ErrNotInstalled is returned (wrapped) when PostgreSQL server binaries cannot be found.
var ErrNotInstalled = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found")

// debianRoot is where Debian and Ubuntu install each PostgreSQL major version.
var debianRoot = "/usr/lib/postgresql"

// FindInstall locates the PostgreSQL server binaries without installing anything: the
// highest /usr/lib/postgresql/<major>/bin that has initdb and pg_ctl, else initdb and
// pg_ctl on PATH.
func FindInstall() (*Install, error) {
	binDir := ""
	if entries, err := os.ReadDir(debianRoot); err == nil {
		var majors []float64
		byMajor := map[float64]string{}
		for _, e := range entries {
			v, err := strconv.ParseFloat(e.Name(), 64)
			if err != nil {
				continue
			}
			dir := filepath.Join(debianRoot, e.Name(), "bin")
			if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "pg_ctl")) {
				majors = append(majors, v)
				byMajor[v] = dir
			}
		}
		if len(majors) > 0 {
			sort.Float64s(majors)
			binDir = byMajor[majors[len(majors)-1]]
		}
	}
	if binDir == "" {
		initdb, err := exec.LookPath("initdb")
		if err != nil {
			return nil, ErrNotInstalled
		}
		if resolved, err := filepath.EvalSymlinks(initdb); err == nil {
			initdb = resolved
		}
		binDir = filepath.Dir(initdb)
		if !isExecutable(filepath.Join(binDir, "pg_ctl")) {
			return nil, fmt.Errorf("%w: %s has initdb but no pg_ctl", ErrNotInstalled, binDir)
		}
	}
	in := &Install{BinDir: binDir}
	out, err := exec.Command(in.Bin("pg_ctl"), "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %s --version: %w", in.Bin("pg_ctl"), err)
	}
	in.Version = strings.TrimSpace(string(out))
	m := regexp.MustCompile(`\(PostgreSQL\) (\d+)`).FindStringSubmatch(in.Version)
	if m == nil {
		return nil, fmt.Errorf("pgcluster: cannot read the version from %q", in.Version)
	}
	in.Major, _ = strconv.Atoi(m[1])
	if in.Major < 13 {
		return nil, fmt.Errorf("pgcluster: PostgreSQL %d found in %s; rowguard needs 13 or later", in.Major, binDir)
	}
	in.ShareDir = fmt.Sprintf("/usr/share/postgresql/%d", in.Major)
	if pgConfig := in.Bin("pg_config"); isExecutable(pgConfig) {
		if out, err := exec.Command(pgConfig, "--sharedir").Output(); err == nil {
			if dir := strings.TrimSpace(string(out)); dir != "" {
				in.ShareDir = dir
			}
		}
	}
	return in, nil
}

// EnsureInstall returns the PostgreSQL installation, installing the distribution's
// packages with apt-get first when none is found and the process runs as root.
func EnsureInstall(ctx context.Context, log io.Writer) (*Install, error) {
	in, err := FindInstall()
	if err == nil || !errors.Is(err, ErrNotInstalled) {
		return in, err
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w; install them with: sudo apt-get install -y postgresql", err)
	}
	err = withAptLock(func() error {
		// Another process may have installed them while we waited for the lock.
		if _, err := FindInstall(); err == nil {
			return nil
		}
		return aptInstall(ctx, log, "postgresql")
	})
	if err != nil {
		return nil, err
	}
	return FindInstall()
}

// PgTAPControlFile returns where the pgTAP extension's control file must be.
func (in *Install) PgTAPControlFile() string {
	return filepath.Join(in.ShareDir, "extension", "pgtap.control")
}

// EnsurePgTAP makes sure the pgTAP extension files for this installation and the
// pg_prove program are present, installing postgresql-<major>-pgtap and
// libtap-parser-sourcehandler-pgtap-perl when they are missing and the process runs as
// root. It returns the path of pg_prove.
func (in *Install) EnsurePgTAP(ctx context.Context, log io.Writer) (pgProve string, err error) {
	pkgs := in.pgTAPPackages()
	missing := func() []string {
		var m []string
		if !fileExists(in.PgTAPControlFile()) {
			m = append(m, pkgs[0])
		}
		if _, err := exec.LookPath("pg_prove"); err != nil {
			m = append(m, pkgs[1])
		}
		return m
	}
	if m := missing(); len(m) > 0 {
		if os.Geteuid() != 0 {
			return "", fmt.Errorf("pgcluster: pgTAP is not installed for PostgreSQL %d (%s missing); install it with: sudo apt-get install -y %s",
				in.Major, strings.Join(m, ", "), strings.Join(pkgs, " "))
		}
		err := withAptLock(func() error {
			if m := missing(); len(m) > 0 {
				return aptInstall(ctx, log, m...)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		if m := missing(); len(m) > 0 {
			return "", fmt.Errorf("pgcluster: still missing after apt-get install: %s", strings.Join(m, ", "))
		}
	}
	return exec.LookPath("pg_prove")
}

func (in *Install) pgTAPPackages() []string {
	return []string{fmt.Sprintf("postgresql-%d-pgtap", in.Major), "libtap-parser-sourcehandler-pgtap-perl"}
}

// aptLockPath serialises apt-get between processes (test packages run concurrently).
const aptLockPath = "/tmp/rowguard-apt.lock"

func withAptLock(fn func() error) error {
	f, err := os.OpenFile(aptLockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("pgcluster: open %s: %w", aptLockPath, err)
	}
	defer f.Close()
	if err := flock(f, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("pgcluster: lock %s: %w", aptLockPath, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn()
}

// flock retries on EINTR (signals delivered to the Go runtime interrupt the wait).
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

func aptInstall(ctx context.Context, log io.Writer, pkgs ...string) error {
	if log == nil {
		log = io.Discard
	}
	fmt.Fprintf(log, "pgcluster: installing %s with apt-get\n", strings.Join(pkgs, " "))
	run := func(args ...string) error {
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout = io.MultiWriter(&out, log)
		cmd.Stderr = cmd.Stdout
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("pgcluster: apt-get %s: %w\n%s", strings.Join(args, " "), err, tail(out.String(), 2000))
		}
		return nil
	}
	if err := run("update"); err != nil {
		return err
	}
	return run(append([]string{"install", "-y"}, pkgs...)...)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
