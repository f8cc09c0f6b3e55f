package pgcluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Options configures Start.
type Options struct {
	// Dir holds the cluster: Dir/data is the data directory, Dir/postgresql.log the
	// server log, Dir/run the Unix socket directory (or /tmp/rowguard-<hash> when Dir
	// is too long for a socket path). Required.
	Dir string
	// Log receives progress messages (initdb, start, apt-get); nil discards them.
	Log io.Writer
	// Ephemeral trades durability for speed (fsync=off and friends): for test
	// clusters that are thrown away. Never use it for data you want to keep.
	Ephemeral bool
	// Settings are extra server settings (name → value), given on the server's command
	// line at every start (e.g. a benchmark's shared_buffers sized to its data).
	Settings map[string]string
}

// Cluster is a running private PostgreSQL server reachable on a Unix socket.
type Cluster struct {
	install   *Install
	dir       string
	dataDir   string
	socketDir string
	port      int
	runAs     *syscall.Credential
	log       io.Writer
	settings  map[string]string // Options.Settings
	started   bool              // this process started the server (see Stop)

	stopOnce sync.Once
	stopErr  error
}

// Superuser is the bootstrap superuser created by initdb.
const Superuser = "postgres"

// socketPort names the socket file (.s.PGSQL.<port>); there is no TCP listener, so the
// number never conflicts with another server.
const socketPort = 5432

// Start starts the cluster in opts.Dir, creating it with initdb when Dir/data is empty.
// When a server is already running on that data directory it is reused: Start then
// returns a Cluster whose Stop leaves it running.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, errors.New("pgcluster: Options.Dir is required")
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	dir, err := makeDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	// Serialise concurrent Starts on the same directory (two processes sharing a dev dir).
	unlock, err := lockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()

	in, err := EnsureInstall(ctx, logw)
	if err != nil {
		return nil, err
	}
	runAs, err := serverCredential()
	if err != nil {
		return nil, err
	}
	c := &Cluster{install: in, dir: dir, dataDir: filepath.Join(dir, "data"), runAs: runAs, log: logw, settings: opts.Settings}
	if runAs != nil {
		if err := c.prepareForPostgresUser(); err != nil {
			return nil, err
		}
	}

	// Use the binaries of the version that created the data directory.
	if v, err := os.ReadFile(filepath.Join(c.dataDir, "PG_VERSION")); err == nil {
		if err := c.matchInstall(strings.TrimSpace(string(v))); err != nil {
			return nil, err
		}
	}

	if running, err := c.reuseRunning(ctx); err != nil || running {
		if running {
			fmt.Fprintf(logw, "pgcluster: reusing the server already running in %s\n", c.dataDir)
		}
		return c, err
	}

	if err := c.initdb(ctx, opts.Ephemeral); err != nil {
		return nil, err
	}
	c.socketDir, err = c.prepareSocketDir()
	if err != nil {
		return nil, err
	}
	c.port = socketPort
	if err := c.start(ctx, opts.Ephemeral); err != nil {
		return nil, err
	}
	c.started = true
	return c, nil
}

// makeDir creates a cluster's directory (absolute path returned) and its parents.
func makeDir(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("pgcluster: %w", err)
	}
	// Parents are created searchable: when we are root, the postgres user must reach dir.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("pgcluster: create %s: %w", filepath.Dir(dir), err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("pgcluster: create %s: %w", dir, err)
	}
	return dir, nil
}

// URL returns a connection string for dbname as user over the Unix socket, in URL form
// (accepted by pgx, psql and libpq): postgres://user@/dbname?host=/socket/dir&port=5432.
func (c *Cluster) URL(dbname, user string) string {
	u := url.URL{Scheme: "postgres", User: url.User(user), Host: "", Path: "/" + dbname}
	q := "host=" + queryEscape(c.socketDir) +
		"&port=" + strconv.Itoa(c.port) + "&sslmode=disable"
	return u.String() + "?" + q
}

// CreateDatabase creates database name (owned by the superuser) unless it exists.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres", Superuser))
	if err != nil {
		return fmt.Errorf("pgcluster: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return CreateDatabase(ctx, conn, name)
}

// CreateDatabase creates database name on the server conn is connected to, unless it
// already exists. It is safe to call concurrently.
func CreateDatabase(ctx context.Context, conn *pgx.Conn, name string) error {
	var exists bool
	if err := conn.QueryRow(ctx, "select exists(select from pg_catalog.pg_database where datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("pgcluster: look up database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err := conn.Exec(ctx, "create database "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P04" /* duplicate_database */ || pgErr.Code == "23505") {
		return nil // created concurrently
	}
	if err != nil {
		return fmt.Errorf("pgcluster: create database %q: %w", name, err)
	}
	return nil
}

// Stop shuts the server down (pg_ctl stop -m fast) if this Cluster started it. A server
// that was already running when Start was called belongs to whoever started it and is
// left running. Stop is idempotent.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		if !c.started {
			return
		}
		c.stopErr = c.stop(context.Background(), "fast")
	})
	return c.stopErr
}

// Started reports whether this Cluster started the server (false when Start reused a
// server that was already running).
func (c *Cluster) Started() bool { return c.started }

// SocketDir is the directory holding the server's Unix socket.
func (c *Cluster) SocketDir() string { return c.socketDir }

// Port is the port number in the socket's name (.s.PGSQL.<port>); there is no TCP listener.
func (c *Cluster) Port() int { return c.port }

// Dir is the cluster's directory (Options.Dir, made absolute).
func (c *Cluster) Dir() string { return c.dir }

// DataDir is the PostgreSQL data directory.
func (c *Cluster) DataDir() string { return c.dataDir }

// LogFile is the server's log file.
func (c *Cluster) LogFile() string { return filepath.Join(c.dir, "postgresql.log") }

// Install is the PostgreSQL installation running the cluster.
func (c *Cluster) Install() *Install { return c.install }

// StopDir stops a server running on dir's data directory, if any, with pg_ctl's
// immediate mode. It is meant for cleaning up clusters left behind by a process that
// died (a killed test binary); it does nothing when no server runs there.
func StopDir(ctx context.Context, dir string) error {
	in, err := FindInstall()
	if err != nil {
		return err
	}
	runAs, err := serverCredential()
	if err != nil {
		return err
	}
	c := &Cluster{install: in, dir: dir, dataDir: filepath.Join(dir, "data"), runAs: runAs, log: io.Discard}
	if _, err := livePostmaster(c.dataDir); err != nil {
		return nil // no server runs there; pg_ctl would signal whatever process has the pid now
	}
	if v, err := os.ReadFile(filepath.Join(c.dataDir, "PG_VERSION")); err == nil {
		_ = c.matchInstall(strings.TrimSpace(string(v)))
	}
	running, err := c.status(ctx)
	if err != nil || !running {
		return err
	}
	return c.stop(ctx, "immediate")
}

// livePostmaster reads the pid in dataDir's postmaster.pid and checks that the process
// is a postmaster of dataDir. A server killed with SIGKILL leaves its postmaster.pid
// behind, and on a busy machine its pid soon belongs to another process (once another
// test's initdb, which a sweep then signalled): that process must never be signalled.
func livePostmaster(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("pgcluster: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pgcluster: %s/postmaster.pid: bad pid %q", dataDir, line)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), dataDir) {
		return 0, fmt.Errorf("pgcluster: %s/postmaster.pid names pid %d, which is not its postmaster (stale)", dataDir, pid)
	}
	return pid, nil
}

func (c *Cluster) initdb(ctx context.Context, ephemeral bool) error {
	entries, err := os.ReadDir(c.dataDir)
	switch {
	case err == nil && len(entries) > 0:
		if !fileExists(filepath.Join(c.dataDir, "PG_VERSION")) {
			return fmt.Errorf("pgcluster: %s is not empty and is not a PostgreSQL data directory", c.dataDir)
		}
		return nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("pgcluster: %w", err)
	}
	fmt.Fprintf(c.log, "pgcluster: creating a PostgreSQL %d cluster in %s\n", c.install.Major, c.dataDir)
	var lastErr error
	for _, locale := range []string{"C.UTF-8", "C"} {
		if err := c.mkdirOwned(c.dataDir); err != nil {
			return err
		}
		args := []string{"-D", c.dataDir, "-U", Superuser, "--auth=trust", "--encoding=UTF8", "--locale=" + locale}
		if c.install.Major >= 14 {
			args = append(args, "--no-instructions")
		}
		if ephemeral {
			args = append(args, "--no-sync")
		}
		out, err := c.run(ctx, "initdb", args...)
		if err == nil {
			return nil
		}
		lastErr = fmt.Errorf("pgcluster: initdb: %w\n%s", err, tail(out, 3000))
		// A failed initdb may leave files behind; start the next attempt from scratch.
		if err := os.RemoveAll(c.dataDir); err != nil {
			return fmt.Errorf("%w\n(and removing %s failed: %v)", lastErr, c.dataDir, err)
		}
	}
	return lastErr
}

func (c *Cluster) start(ctx context.Context, ephemeral bool) error {
	opts := []string{
		"-c listen_addresses=''",
		"-k " + shellQuote(c.socketDir),
		"-c port=" + strconv.Itoa(c.port),
		"-c unix_socket_permissions=0700",
	}
	if ephemeral {
		opts = append(opts, "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")
	}
	names := make([]string, 0, len(c.settings))
	for name := range c.settings {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		opts = append(opts, "-c "+shellQuote(name+"="+c.settings[name]))
	}
	fmt.Fprintf(c.log, "pgcluster: starting PostgreSQL %d on %s\n", c.install.Major, c.socketDir)
	out, err := c.run(ctx, "pg_ctl", "start", "-w", "-t", "120", "-D", c.dataDir, "-l", c.LogFile(), "-o", strings.Join(opts, " "))
	if err != nil {
		logTail, _ := os.ReadFile(c.LogFile())
		return fmt.Errorf("pgcluster: pg_ctl start: %w\n%s\nserver log (%s):\n%s", err, tail(out, 2000), c.LogFile(), tail(string(logTail), 3000))
	}
	return nil
}

func (c *Cluster) stop(ctx context.Context, mode string) error {
	out, err := c.run(ctx, "pg_ctl", "stop", "-w", "-t", "120", "-m", mode, "-D", c.dataDir)
	if err != nil {
		if running, serr := c.status(ctx); serr == nil && !running {
			return nil // already stopped
		}
		return fmt.Errorf("pgcluster: pg_ctl stop: %w\n%s", err, tail(out, 2000))
	}
	if c.socketDir != "" && strings.HasPrefix(c.socketDir, os.TempDir()+"/rowguard-") {
		_ = os.Remove(c.socketDir) // only succeeds when empty
	}
	return nil
}

// status reports whether a server is running on the data directory.
func (c *Cluster) status(ctx context.Context) (bool, error) {
	if !fileExists(filepath.Join(c.dataDir, "PG_VERSION")) {
		return false, nil
	}
	out, err := c.run(ctx, "pg_ctl", "status", "-D", c.dataDir)
	if err == nil {
		return true, nil
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && exitErr.ExitCode() == 3 { // not running
		return false, nil
	}
	return false, fmt.Errorf("pgcluster: pg_ctl status: %w\n%s", err, tail(out, 2000))
}

// reuseRunning adopts a server already running on the data directory.
func (c *Cluster) reuseRunning(ctx context.Context) (bool, error) {
	running, err := c.status(ctx)
	if err != nil || !running {
		return false, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		pid, err := os.ReadFile(filepath.Join(c.dataDir, "postmaster.pid"))
		if err == nil {
			// Lines: pid, data dir, start time, port, socket dir, listen address, shmem key, status.
			lines := strings.Split(string(pid), "\n")
			if len(lines) >= 8 {
				port, perr := strconv.Atoi(strings.TrimSpace(lines[3]))
				sock := strings.TrimSpace(lines[4])
				if perr == nil && sock != "" {
					c.port, c.socketDir = port, sock
					if strings.TrimSpace(lines[7]) == "ready" {
						if conn, err := pgx.Connect(ctx, c.URL("postgres", Superuser)); err == nil {
							conn.Close(ctx)
							return true, nil
						}
					}
				}
			}
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("pgcluster: a server is running on %s but does not accept connections on a Unix socket (see %s)", c.dataDir, c.LogFile())
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// prepareSocketDir returns the socket directory: Dir/run, or a short private directory
// under /tmp when Dir is so long that the socket path would exceed the kernel's limit
// (108 bytes including ".s.PGSQL.5432.lock").
func (c *Cluster) prepareSocketDir() (string, error) {
	dir := filepath.Join(c.dir, "run")
	if len(dir)+len("/.s.PGSQL.5432.lock") >= 100 {
		sum := sha256.Sum256([]byte(c.dir))
		dir = filepath.Join(os.TempDir(), "rowguard-"+hex.EncodeToString(sum[:6]))
	}
	if err := c.mkdirOwned(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// mkdirOwned creates dir (mode 0700) owned by the server's user and refuses a
// directory that someone else owns or a symlink (dir may be under /tmp).
func (c *Cluster) mkdirOwned(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("pgcluster: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("pgcluster: %s is not a directory", dir)
	}
	uid, gid := os.Geteuid(), os.Getegid()
	if c.runAs != nil {
		uid, gid = int(c.runAs.Uid), int(c.runAs.Gid)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid {
		if os.Geteuid() != 0 {
			return fmt.Errorf("pgcluster: %s belongs to uid %d, not to us (uid %d)", dir, st.Uid, uid)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	return nil
}

// matchInstall switches to the binaries of the major version that created the data
// directory, when the default installation is another one.
func (c *Cluster) matchInstall(pgVersion string) error {
	if pgVersion == strconv.Itoa(c.install.Major) {
		return nil
	}
	binDir := filepath.Join(debianRoot, pgVersion, "bin")
	if isExecutable(filepath.Join(binDir, "pg_ctl")) {
		in := *c.install
		in.BinDir = binDir
		in.Major, _ = strconv.Atoi(pgVersion)
		in.ShareDir = fmt.Sprintf("/usr/share/postgresql/%s", pgVersion)
		c.install = &in
		return nil
	}
	return fmt.Errorf("pgcluster: %s was created by PostgreSQL %s but PostgreSQL %d is installed; "+
		"install postgresql-%s, or remove %s to start again with an empty database",
		c.dataDir, pgVersion, c.install.Major, pgVersion, c.dir)
}

// run runs a PostgreSQL program from the installation as the server's user, in its own
// process group (a Ctrl-C meant for rowguard must not reach the server directly).
func (c *Cluster) run(ctx context.Context, prog string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.install.Bin(prog), args...)
	cmd.Dir = "/"
	cmd.Env = serverEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.runAs}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// pg_ctl start leaves the postmaster holding the output pipes when they are not
	// files; WaitDelay bounds how long Wait waits for them after pg_ctl exits.
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	return out.String(), err
}

// serverEnv is the environment for PostgreSQL programs: ours without PG* variables
// (PGOPTIONS, PGDATA... would change what the programs do).
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_MESSAGES=C")
}

// queryEscape percent-encodes s for a URL query value, keeping '/' readable (both pgx
// and libpq decode %XX but not '+').
func queryEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || strings.IndexByte("-._~/", ch) >= 0 {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// lockFile takes an exclusive flock on path and returns the function releasing it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if err := flock(f, syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("pgcluster: lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
