package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard/internal/syncbuf"
)

// A Formation is a PostgreSQL cluster under pg_auto_failover (Debian's
// postgresql-<major>-auto-failover): a monitor and data nodes, each a `pg_autoctl`
// process that supervises its own postgres, all on loopback TCP. The monitor promotes a
// standby when the primary fails and turns the failed primary into a standby when it
// comes back; nothing here decides a failover. For tests only: trust authentication,
// no TLS.
type Formation struct {
	// Monitor is the pg_auto_failover monitor.
	Monitor *AutoctlNode
	// Nodes are the data nodes, in the order they joined: Nodes[0] starts as primary.
	Nodes []*AutoctlNode
	// DBName is the application database pg_autoctl created on the nodes.
	DBName string

	program string
	install *Install
	dir     string
	env     []string
	runAs   *syscall.Credential
	super   string // the nodes' bootstrap superuser: the system user running them
}

// AutoctlNode is one `pg_autoctl` process (monitor or data node) and its postgres.
type AutoctlNode struct {
	Name   string
	Port   int
	PGData string
	cmd    *exec.Cmd
	out    *syncbuf.Buffer
	done   chan struct{}
}

// FormationOptions configure StartFormation.
type FormationOptions struct {
	// Nodes is the number of data nodes (default 2: a primary and a synchronous standby).
	Nodes int
	// DBName is the application database created on the primary (default "rowguard").
	DBName string
	// Log receives progress messages; nil discards them.
	Log io.Writer
	// Timeouts tune how fast a lost primary is replaced; zero keeps pg_auto_failover's
	// defaults.
	Timeouts FailoverTimeouts
}

// FailoverTimeouts decide how soon the monitor replaces a lost primary: it declares
// the primary unhealthy after Unhealthy without health checks answered (one every
// HealthCheckPeriod), then waits PrimaryDemote before promoting, time for an isolated
// primary to have shut itself down: its pg_autoctl does so after NetworkPartition
// without reaching the monitor or its standby. NetworkPartition < PrimaryDemote is what
// rules out two primaries at once. A zero field keeps the default (5 s, 20 s, 30 s,
// 20 s: a lost primary is replaced after about 50 s).
type FailoverTimeouts struct {
	HealthCheckPeriod, Unhealthy, PrimaryDemote, NetworkPartition time.Duration
}

// monitorSettings are the monitor's settings for t, in ALTER SYSTEM form.
func (t FailoverTimeouts) monitorSettings() []string {
	var out []string
	set := func(name string, d time.Duration) {
		if d > 0 {
			out = append(out, fmt.Sprintf("alter system set pgautofailover.%s = %d", name, d.Milliseconds()))
		}
	}
	set("health_check_period", t.HealthCheckPeriod)
	if t.HealthCheckPeriod > 0 {
		// A check times out, and is retried, within the period.
		set("health_check_timeout", t.HealthCheckPeriod)
		set("health_check_retry_delay", t.HealthCheckPeriod/2)
	}
	set("node_considered_unhealthy_timeout", t.Unhealthy)
	set("primary_demote_timeout", t.PrimaryDemote)
	return out
}

func (t FailoverTimeouts) validate() error {
	demote, partition := t.PrimaryDemote, t.NetworkPartition
	if demote == 0 {
		demote = 30 * time.Second
	}
	if partition == 0 {
		partition = 20 * time.Second
	}
	if partition >= demote {
		return fmt.Errorf("pgcluster: network partition timeout %s must be below the primary demote timeout %s, or an isolated primary may still accept writes when its standby is promoted", partition, demote)
	}
	if t.NetworkPartition%time.Second != 0 {
		return fmt.Errorf("pgcluster: network partition timeout %s: pg_autoctl counts it in whole seconds", t.NetworkPartition)
	}
	return nil
}

// EnsureAutoFailover returns the path of pg_autoctl for in's major version, installing
// Debian's postgresql-<major>-auto-failover first when it is missing and the process
// runs as root (under the same apt lock as the other packages).
func EnsureAutoFailover(ctx context.Context, in *Install, log io.Writer) (string, error) {
	pkg := fmt.Sprintf("postgresql-%d-auto-failover", in.Major)
	ext := filepath.Join(in.ShareDir, "extension", "pgautofailover.control")
	find := func() (string, error) {
		if !fileExists(ext) {
			return "", fmt.Errorf("pgcluster: %s is missing (package %s)", ext, pkg)
		}
		for _, p := range []string{"/usr/bin/pg_autoctl", in.Bin("pg_autoctl")} {
			if isExecutable(p) {
				return p, nil
			}
		}
		return exec.LookPath("pg_autoctl")
	}
	if p, err := find(); err == nil {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("pgcluster: pg_auto_failover is not installed; install it with: sudo apt-get install -y %s", pkg)
	}
	err := withAptLock(func() error {
		if _, err := find(); err == nil {
			return nil
		}
		return aptInstall(ctx, log, pkg)
	})
	if err != nil {
		return "", err
	}
	p, err := find()
	if err != nil {
		return "", fmt.Errorf("pgcluster: pg_auto_failover still missing after apt-get install %s: %w", pkg, err)
	}
	return p, nil
}

// StartFormation creates and runs a monitor and opts.Nodes data nodes in a new
// directory under dir (ScratchDir when empty), and returns once the first node is
// primary and every other one a secondary (with opts.Nodes 2, replicating
// synchronously: pg_auto_failover's default replication quorum). Stop it with Stop.
func StartFormation(ctx context.Context, program string, in *Install, dir string, opts FormationOptions) (f *Formation, err error) {
	if opts.Nodes == 0 {
		opts.Nodes = 2
	}
	if opts.DBName == "" {
		opts.DBName = "rowguard"
	}
	if err := opts.Timeouts.validate(); err != nil {
		return nil, err
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	if dir == "" {
		dir = ScratchDir()
	}
	runAs, err := serverCredential()
	if err != nil {
		return nil, err
	}
	sweepFormations(dir)
	dir, err = os.MkdirTemp(dir, formationPrefix)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	// Who owns the formation, and the pg_autoctl processes it started: what a later
	// StartFormation needs to stop them if this process dies without Stop.
	if err := os.WriteFile(filepath.Join(dir, formationOwnerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	f = &Formation{DBName: opts.DBName, program: program, install: in, dir: dir, runAs: runAs}
	defer func() {
		if err != nil {
			_ = f.Stop()
		}
	}()
	if runAs != nil {
		f.super = serverUser
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, fmt.Errorf("pgcluster: %w", err)
		}
		if err := os.Chown(dir, int(runAs.Uid), int(runAs.Gid)); err != nil {
			return nil, fmt.Errorf("pgcluster: %w", err)
		}
	} else {
		u, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("pgcluster: %w", err)
		}
		f.super = u.Username
	}
	// pg_autoctl keeps its configuration and state under XDG directories: the
	// formation's own, never the invoking user's. PGHOST makes it (and the postgres
	// it starts) talk TCP on loopback, not a system socket directory. The runtime
	// directory must exist, or pg_autoctl puts its pid files in /tmp/pg_autoctl.
	if err := os.Mkdir(f.runtimeDir(), 0o700); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if runAs != nil {
		if err := os.Chown(f.runtimeDir(), int(runAs.Uid), int(runAs.Gid)); err != nil {
			return nil, fmt.Errorf("pgcluster: %w", err)
		}
	}
	f.env = []string{
		"PATH=" + in.BinDir + ":/usr/bin:/bin",
		"HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_DATA_HOME=" + filepath.Join(dir, "share"),
		"XDG_RUNTIME_DIR=" + f.runtimeDir(),
		"PGHOST=127.0.0.1",
		"LANG=C.UTF-8",
	}
	start := func(name string, args ...string) (*AutoctlNode, error) {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		n := &AutoctlNode{Name: name, Port: port, PGData: filepath.Join(dir, name), out: &syncbuf.Buffer{}}
		args = append(args, "--pgdata", n.PGData, "--pgport", strconv.Itoa(port), "--hostname", "127.0.0.1",
			"--auth", "trust", "--no-ssl", "--pgctl", in.Bin("pg_ctl"), "--run")
		fmt.Fprintf(logw, "pgcluster: pg_autoctl %s\n", strings.Join(args, " "))
		return n, f.launch(n, args...)
	}

	// Generous bounds: a busy machine is slow, not broken.
	const step = 3 * time.Minute
	if f.Monitor, err = start("monitor", "create", "monitor"); err != nil {
		return nil, err
	}
	if err := f.waitFor(ctx, step, "the monitor to accept nodes", f.Monitor, func() bool {
		_, err := f.States(ctx)
		return err == nil
	}); err != nil {
		return nil, err
	}
	if settings := opts.Timeouts.monitorSettings(); len(settings) > 0 {
		for _, sql := range append(settings, "select pg_reload_conf()") {
			if err := f.exec(ctx, f.Monitor, "pg_auto_failover", sql); err != nil {
				return nil, fmt.Errorf("pgcluster: monitor: %s: %w", sql, err)
			}
		}
	}
	for i := range opts.Nodes {
		name := "node" + strconv.Itoa(i+1)
		n, err := start(name, "create", "postgres", "--name", name, "--listen", "127.0.0.1",
			"--dbname", opts.DBName, "--monitor", f.MonitorURL())
		if err != nil {
			return nil, err
		}
		f.Nodes = append(f.Nodes, n)
		if d := opts.Timeouts.NetworkPartition; d > 0 {
			if err := f.setKeeper(ctx, n, "timeout.network_partition_timeout", strconv.Itoa(int(d/time.Second))); err != nil {
				return nil, err
			}
		}
		want := "single"
		if i > 0 {
			want = "secondary"
		}
		if err := f.waitFor(ctx, step, name+" to be "+want, n, func() bool {
			if i > 0 {
				// pg_basebackup of the new standby waits for a checkpoint on the primary,
				// spread over minutes unless one is asked for: ask.
				_ = f.exec(ctx, f.Nodes[0], "postgres", "checkpoint")
			}
			st, err := f.States(ctx)
			return err == nil && st[name].Reported == want && st[name].Assigned == want
		}); err != nil {
			return nil, err
		}
	}
	if opts.Nodes > 1 {
		if err := f.WaitStates(ctx, step, map[string]string{"node1": "primary"}); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// launch starts n's pg_autoctl with args, in the formation's environment and its own
// process group, and records its pid for sweepFormations.
func (f *Formation) launch(n *AutoctlNode, args ...string) error {
	n.cmd = exec.Command(f.program, args...)
	n.cmd.Env = f.env
	n.cmd.Dir = f.dir
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: f.runAs, Setpgid: true}
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	n.done = make(chan struct{})
	if err := n.cmd.Start(); err != nil {
		return fmt.Errorf("pgcluster: start pg_autoctl %s: %w", n.Name, err)
	}
	cmd, done := n.cmd, n.done
	go func() { _ = cmd.Wait(); close(done) }()
	if pf, err := os.OpenFile(filepath.Join(f.dir, formationPIDsFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		fmt.Fprintln(pf, n.cmd.Process.Pid)
		pf.Close()
	}
	return nil
}

// Lose makes n's machine die: SIGKILL to its pg_autoctl (the whole process group, so
// nothing restarts postgres), then to its postmaster. Its backends live on until they
// notice. Only the monitor can now act: with n's pg_autoctl alive, a killed postmaster
// is restarted in place, often before the monitor sees the primary down (no failover).
// It returns the postmaster's pid.
func (f *Formation) Lose(n *AutoctlNode) (int, error) {
	pid, err := n.PostmasterPID()
	if err != nil {
		return 0, err
	}
	if err := syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return 0, fmt.Errorf("pgcluster: SIGKILL pg_autoctl %s: %w", n.Name, err)
	}
	<-n.done
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return 0, fmt.Errorf("pgcluster: SIGKILL postmaster of %s: %w", n.Name, err)
	}
	return pid, nil
}

// Restart runs n's pg_autoctl again on its data directory, as after a reboot of its
// machine: it starts postgres and follows what the monitor assigns (a lost primary
// comes back as a standby of the new one).
func (f *Formation) Restart(n *AutoctlNode) error {
	if n.Running() {
		return fmt.Errorf("pgcluster: pg_autoctl %s is still running", n.Name)
	}
	if err := f.forgetPIDs(n); err != nil {
		return err
	}
	return f.launch(n, "run", "--pgdata", n.PGData)
}

// forgetPIDs does what a reboot does to n's process ids: none of them is alive any more.
// Here they soon are (pid_max is 32768 on many hosts and parallel tests fork a lot), and
// pg_autoctl, pg_ctl and postgres trust postmaster.pid and pg_autoctl.pid: a restarted
// keeper signalled the stranger holding the dead postmaster's pid (another test's
// initdb: "caught signal"), or postgres would refuse to start beside it. So: wait until
// the killed postmaster is gone, then remove both files, as a tmpfs /run is on reboot.
func (f *Formation) forgetPIDs(n *AutoctlNode) error {
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if _, err := n.PostmasterPID(); err != nil {
			break // no process with that pid runs on n's data directory
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgcluster: the postmaster of %s outlived SIGKILL for a minute", n.Name)
		}
	}
	// Both files are left behind by SIGKILL: one missing means this code looks in the
	// wrong place, not that there is nothing to forget.
	for _, pidFile := range []string{
		filepath.Join(n.PGData, "postmaster.pid"),
		filepath.Join(f.runtimeDir(), "pg_autoctl", n.PGData, "pg_autoctl.pid"),
	} {
		if err := os.Remove(pidFile); err != nil {
			return fmt.Errorf("pgcluster: forget %s's pids: %w", n.Name, err)
		}
	}
	return nil
}

// runtimeDir is the formation's XDG_RUNTIME_DIR, where pg_autoctl keeps its pid files.
func (f *Formation) runtimeDir() string { return filepath.Join(f.dir, "run") }

// setKeeper sets one of n's pg_autoctl settings and has it reload its configuration.
// The configuration file exists once `create postgres` has begun: wait for it.
func (f *Formation) setKeeper(ctx context.Context, n *AutoctlNode, key, value string) error {
	var out string
	err := f.waitFor(ctx, 3*time.Minute, n.Name+"'s configuration", n, func() bool {
		var err error
		out, err = f.Autoctl(ctx, "config", "set", "--pgdata", n.PGData, key, value)
		return err == nil
	})
	if err != nil {
		return fmt.Errorf("pgcluster: pg_autoctl config set %s %s on %s: %w (%s)", key, value, n.Name, err, out)
	}
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		return fmt.Errorf("pgcluster: reload pg_autoctl %s: %w", n.Name, err)
	}
	return nil
}

// waitFor polls cond until it holds, failing after limit or when n's pg_autoctl exits.
func (f *Formation) waitFor(ctx context.Context, limit time.Duration, what string, n *AutoctlNode, cond func() bool) error {
	for deadline := time.Now().Add(limit); !cond(); {
		select {
		case <-n.done:
			return fmt.Errorf("pgcluster: pg_autoctl %s exited while waiting for %s:\n%s", n.Name, what, tail(n.Log(), 4000))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgcluster: waited %s for %s:\n%s", limit, what, tail(n.Log(), 4000))
		}
	}
	return nil
}

// NodeState is a data node's state as the monitor knows it.
type NodeState struct {
	Reported, Assigned string
	// Healthy: the monitor's last health check of the node succeeded.
	Healthy bool
}

// States returns every data node's reported and assigned state, by node name.
func (f *Formation) States(ctx context.Context) (map[string]NodeState, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, f.MonitorURL())
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `select nodename, reportedstate::text, goalstate::text, health = 1 from pgautofailover.node`)
	if err != nil {
		return nil, err
	}
	out := map[string]NodeState{}
	for rows.Next() {
		var name string
		var s NodeState
		if err := rows.Scan(&name, &s.Reported, &s.Assigned, &s.Healthy); err != nil {
			return nil, err
		}
		out[name] = s
	}
	return out, rows.Err()
}

// WaitStates waits until every named node has reported and been assigned its state.
func (f *Formation) WaitStates(ctx context.Context, limit time.Duration, want map[string]string) error {
	var last map[string]NodeState
	for deadline := time.Now().Add(limit); ; {
		st, err := f.States(ctx)
		if err == nil {
			last = st
			ok := true
			for name, w := range want {
				if st[name].Reported != w || st[name].Assigned != w {
					ok = false
				}
			}
			if ok {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgcluster: waited %s for node states %v; last seen %v (%v)", limit, want, last, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// MonitorURL connects to the monitor's database as pg_autoctl's own node role.
func (f *Formation) MonitorURL() string {
	return fmt.Sprintf("postgres://autoctl_node@127.0.0.1:%d/pg_auto_failover?sslmode=disable", f.Monitor.Port)
}

// Superuser is the nodes' bootstrap superuser (trusted on loopback).
func (f *Formation) Superuser() string { return f.super }

// NodeURL connects to one node only.
func (f *Formation) NodeURL(n *AutoctlNode, user, db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", queryEscape(user), n.Port, queryEscape(db))
}

// URL is a multi-host URL listing every data node with target_session_attrs=read-write:
// libpq and pgx connect to whichever node is primary now.
func (f *Formation) URL(user, db string) string {
	hosts := make([]string, len(f.Nodes))
	for i, n := range f.Nodes {
		hosts[i] = "127.0.0.1:" + strconv.Itoa(n.Port)
	}
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable&target_session_attrs=read-write",
		queryEscape(user), strings.Join(hosts, ","), queryEscape(db))
}

func (f *Formation) exec(ctx context.Context, n *AutoctlNode, db, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, f.NodeURL(n, f.super, db))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// Node returns the data node called name, nil when there is none.
func (f *Formation) Node(name string) *AutoctlNode {
	for _, n := range f.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Autoctl runs one pg_autoctl command (e.g. set node replication-quorum false --pgdata
// …) as the formation's user, in its environment, and returns its output.
func (f *Formation) Autoctl(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.program, args...)
	cmd.Env = f.env
	cmd.Dir = f.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: f.runAs}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// PostmasterPID is the pid of n's running postmaster (see livePostmaster).
func (n *AutoctlNode) PostmasterPID() (int, error) { return livePostmaster(n.PGData) }

// Running reports whether n's pg_autoctl process is still running.
func (n *AutoctlNode) Running() bool {
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// Log is what n's pg_autoctl wrote so far.
func (n *AutoctlNode) Log() string { return n.out.String() }

// PostgresLog is the tail of the newest server log file in n's data directory.
func (n *AutoctlNode) PostgresLog(max int) string {
	files, _ := filepath.Glob(filepath.Join(n.PGData, "log", "*"))
	if len(files) == 0 {
		return ""
	}
	b, _ := os.ReadFile(files[len(files)-1])
	return tail(string(b), max)
}

// Stop stops every pg_autoctl (SIGTERM: each stops its postgres), the data nodes
// first, and removes the formation's directory.
func (f *Formation) Stop() error {
	var errs []error
	nodes := append(append([]*AutoctlNode{}, f.Nodes...), f.Monitor)
	for _, n := range nodes {
		if n == nil || n.cmd == nil || n.cmd.Process == nil {
			continue
		}
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(time.Minute):
			_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
			<-n.done
			errs = append(errs, fmt.Errorf("pgcluster: pg_autoctl %s ignored SIGTERM for a minute", n.Name))
		}
		// A postgres that outlived its pg_autoctl (it is in its own session) is stopped too.
		if pid, err := n.PostmasterPID(); err == nil {
			_ = syscall.Kill(pid, syscall.SIGQUIT)
		}
	}
	if err := os.RemoveAll(f.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

const (
	formationPrefix    = "autofailover-"
	formationOwnerFile = "rowguard-owner.pid"    // the pid of the process that started the formation
	formationPIDsFile  = "rowguard-autoctl.pids" // the pg_autoctl processes it started, one a line
)

// sweepFormations stops and removes the formations in dir whose owner died without
// calling Stop (a test binary killed at its timeout): their pg_autoctl process groups
// (SIGKILL, so that nothing restarts postgres) and their postmasters (SIGQUIT). A pid
// is signalled only while its command line still names the formation's directory.
func sweepFormations(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), formationPrefix) {
			continue
		}
		fdir := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(filepath.Join(fdir, formationOwnerFile))
		if err != nil {
			continue // not ours, or being created right now
		}
		if owner, err := strconv.Atoi(strings.TrimSpace(string(b))); err != nil || processAlive(owner) {
			continue
		}
		names := func(pid int) bool {
			cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			return err == nil && strings.Contains(string(cmdline), fdir)
		}
		var postmasters []int
		if b, err := os.ReadFile(filepath.Join(fdir, formationPIDsFile)); err == nil {
			for _, line := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(line); err == nil && pid > 0 && names(pid) {
					_ = syscall.Kill(-pid, syscall.SIGKILL)
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		nodes, _ := os.ReadDir(fdir)
		for _, n := range nodes {
			if pid, err := (&AutoctlNode{PGData: filepath.Join(fdir, n.Name())}).PostmasterPID(); err == nil && names(pid) {
				_ = syscall.Kill(pid, syscall.SIGQUIT)
				postmasters = append(postmasters, pid)
			}
		}
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			alive := false
			for _, pid := range postmasters {
				alive = alive || (processAlive(pid) && names(pid))
			}
			if !alive {
				break
			}
		}
		_ = os.RemoveAll(fdir)
	}
}

// processAlive reports whether pid is a running process (signal 0 reaches it).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
