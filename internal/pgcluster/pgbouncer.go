package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PgBouncer is a pgbouncer process started in front of a PostgreSQL server, listening
// on loopback TCP only (tests of the API behind transaction pooling).
type PgBouncer struct {
	// Addr is the host:port clients connect to.
	Addr string
	dir  string
	cmd  *exec.Cmd
	done chan error
}

// PgBouncerOptions configure StartPgBouncer.
type PgBouncerOptions struct {
	// ServerHost and ServerPort reach PostgreSQL (a socket directory works as host).
	ServerHost string
	ServerPort int
	// Users may connect (auth_type trust: loopback tests only).
	Users []string
	// PoolMode is session, transaction or statement (default transaction).
	PoolMode string
	// PoolSize is the number of server connections per database and user (default 2).
	PoolSize int
	// MaxClientConn bounds client connections (default 500).
	MaxClientConn int
	// ServerLoginRetry is how long pgbouncer waits after a failed server connection
	// before it tries again (0: pgbouncer's default, 15 s).
	ServerLoginRetry time.Duration
	// QueryWaitTimeout bounds a client's wait for a server connection; past it the
	// client gets an error (0: pgbouncer's default, 120 s).
	QueryWaitTimeout time.Duration
}

// EnsurePgBouncer returns the path of the pgbouncer program, installing Debian's
// pgbouncer package first when it is missing and the process runs as root (under the
// same apt lock as the PostgreSQL packages).
func EnsurePgBouncer(ctx context.Context, log io.Writer) (string, error) {
	find := func() (string, error) {
		for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"} {
			if isExecutable(p) {
				return p, nil
			}
		}
		return exec.LookPath("pgbouncer")
	}
	if p, err := find(); err == nil {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", errors.New("pgcluster: pgbouncer is not installed; install it with: sudo apt-get install -y pgbouncer")
	}
	err := withAptLock(func() error {
		if _, err := find(); err == nil {
			return nil
		}
		return aptInstall(ctx, log, "pgbouncer")
	})
	if err != nil {
		return "", err
	}
	p, err := find()
	if err != nil {
		return "", fmt.Errorf("pgcluster: pgbouncer still missing after apt-get install: %w", err)
	}
	return p, nil
}

// StartPgBouncer starts program (see EnsurePgBouncer) in a new directory under dir
// and waits until it accepts connections. Stop it with Stop.
func StartPgBouncer(ctx context.Context, program, dir string, opts PgBouncerOptions) (*PgBouncer, error) {
	if opts.PoolMode == "" {
		opts.PoolMode = "transaction"
	}
	if opts.PoolSize == 0 {
		opts.PoolSize = 2
	}
	if opts.MaxClientConn == 0 {
		opts.MaxClientConn = 500
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	runAs, err := serverCredential() // pgbouncer refuses to run as root, like postgres
	if err != nil {
		return nil, err
	}
	dir, err = os.MkdirTemp(dir, "pgbouncer-")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	b := &PgBouncer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, done: make(chan error, 1)}
	var users strings.Builder
	for _, u := range opts.Users {
		fmt.Fprintf(&users, "%q \"\"\n", u)
	}
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = %s
default_pool_size = %d
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = %d
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = %s
`, opts.ServerHost, opts.ServerPort, port, filepath.Join(dir, "userlist.txt"), opts.PoolMode,
		opts.PoolSize, opts.MaxClientConn, filepath.Join(dir, "pgbouncer.log"))
	if opts.ServerLoginRetry > 0 {
		ini += fmt.Sprintf("server_login_retry = %g\n", opts.ServerLoginRetry.Seconds())
	}
	if opts.QueryWaitTimeout > 0 {
		ini += fmt.Sprintf("query_wait_timeout = %g\n", opts.QueryWaitTimeout.Seconds())
	}
	for name, content := range map[string]string{"pgbouncer.ini": ini, "userlist.txt": users.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return nil, fmt.Errorf("pgcluster: %w", err)
		}
	}
	if runAs != nil {
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, fmt.Errorf("pgcluster: %w", err)
		}
		if err := os.Chown(dir, int(runAs.Uid), int(runAs.Gid)); err != nil {
			return nil, fmt.Errorf("pgcluster: %w", err)
		}
	}
	b.cmd = exec.Command(program, filepath.Join(dir, "pgbouncer.ini"))
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: runAs, Setpgid: true}
	var out strings.Builder
	b.cmd.Stdout, b.cmd.Stderr = &out, &out
	if err := b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("pgcluster: start pgbouncer: %w", err)
	}
	go func() { b.done <- b.cmd.Wait() }()
	deadline := time.Now().Add(2 * time.Minute) // generous: a busy machine is slow, not broken
	for {
		c, err := net.DialTimeout("tcp", b.Addr, time.Second)
		if err == nil {
			c.Close()
			return b, nil
		}
		select {
		case err := <-b.done:
			logText, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			return nil, fmt.Errorf("pgcluster: pgbouncer exited (%v):\n%s%s", err, out.String(), logText)
		case <-ctx.Done():
			b.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Stop()
			return nil, fmt.Errorf("pgcluster: pgbouncer did not listen on %s within 2 minutes", b.Addr)
		}
	}
}

// URL connects to database through the bouncer as user. pgx's default cache of
// protocol-level prepared statements breaks behind PgBouncer before 1.21 in transaction
// mode, so the URL asks for default_query_exec_mode=exec (see docs/operations.md).
func (b *PgBouncer) URL(user, database string) string {
	u := url.URL{Scheme: "postgres", User: url.User(user), Host: b.Addr, Path: "/" + database,
		RawQuery: "sslmode=disable&default_query_exec_mode=exec"}
	return u.String()
}

// PID is the pgbouncer process's pid.
func (b *PgBouncer) PID() int { return b.cmd.Process.Pid }

// Log returns pgbouncer's log so far.
func (b *PgBouncer) Log() string {
	data, _ := os.ReadFile(filepath.Join(b.dir, "pgbouncer.log"))
	return string(data)
}

// Stop ends pgbouncer (SIGINT: immediate shutdown) and removes its directory.
func (b *PgBouncer) Stop() error {
	if b.cmd.Process != nil {
		_ = b.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-b.done:
		case <-time.After(10 * time.Second):
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	}
	return os.RemoveAll(b.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
