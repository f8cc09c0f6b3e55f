package pgcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// tempDir returns a fresh directory that the postgres user can reach when the tests run
// as root (t.TempDir's parent is private to us).
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(ScratchDir(), "rowguard-pgcluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	return dir
}

func start(t *testing.T, dir string) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{Dir: dir, Log: testWriter{t}, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	return c
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func query(t *testing.T, url, sql string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestStartReuseStopRestart(t *testing.T) {
	dir := tempDir(t)
	c := start(t, dir)
	if !c.Started() {
		t.Fatal("Started() = false for a new cluster")
	}
	if got := query(t, c.URL("postgres", Superuser), "show listen_addresses"); got != "" {
		t.Errorf("listen_addresses = %q, want '' (Unix socket only)", got)
	}
	if got := query(t, c.URL("postgres", Superuser), "show fsync"); got != "off" {
		t.Errorf("fsync = %q on an ephemeral cluster", got)
	}
	if got := query(t, c.URL("postgres", Superuser), "select pg_encoding_to_char(encoding) from pg_database where datname = current_database()"); got != "UTF8" {
		t.Errorf("encoding = %q", got)
	}
	if _, err := os.Stat(filepath.Join(c.SocketDir(), ".s.PGSQL.5432")); err != nil {
		t.Errorf("socket: %v", err)
	}
	if c.Port() != 5432 {
		t.Errorf("Port() = %d", c.Port())
	}

	ctx := context.Background()
	for range 2 { // idempotent
		if err := c.CreateDatabase(ctx, "rowguard-test"); err != nil {
			t.Fatal(err)
		}
	}
	if got := query(t, c.URL("rowguard-test", Superuser), "select current_database()"); got != "rowguard-test" {
		t.Errorf("current_database() = %q", got)
	}

	// A second Start on the same directory reuses the running server and its Stop
	// leaves it running.
	again, err := Start(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if again.Started() || again.SocketDir() != c.SocketDir() || again.Port() != c.Port() {
		t.Fatalf("reuse: started=%v socket=%q port=%d, want false %q %d", again.Started(), again.SocketDir(), again.Port(), c.SocketDir(), c.Port())
	}
	if err := again.Stop(); err != nil {
		t.Fatal(err)
	}
	query(t, c.URL("postgres", Superuser), "select 'still up'")

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil { // idempotent
		t.Fatal(err)
	}
	if conn, err := pgx.Connect(ctx, c.URL("postgres", Superuser)); err == nil {
		conn.Close(ctx)
		t.Fatal("connected after Stop")
	}

	// Restart keeps the data.
	c2 := start(t, dir)
	if !c2.Started() {
		t.Fatal("Started() = false after a restart")
	}
	if got := query(t, c2.URL("rowguard-test", Superuser), "select current_database()"); got != "rowguard-test" {
		t.Errorf("after restart: current_database() = %q", got)
	}
}

func TestLongDirUsesShortSocketDir(t *testing.T) {
	dir := filepath.Join(tempDir(t), strings.Repeat("d", 60), strings.Repeat("e", 40))
	c := start(t, dir)
	if len(c.SocketDir()) > 60 || !strings.HasPrefix(c.SocketDir(), os.TempDir()+"/rowguard-") {
		t.Fatalf("SocketDir() = %q, want a short directory under %s", c.SocketDir(), os.TempDir())
	}
	query(t, c.URL("postgres", Superuser), "select 'ok'")
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.SocketDir()); !os.IsNotExist(err) {
		t.Errorf("socket dir %s left behind after Stop (err=%v)", c.SocketDir(), err)
	}
}

func TestConcurrentClusters(t *testing.T) {
	var wg sync.WaitGroup
	clusters := make([]*Cluster, 3)
	errs := make([]error, 3)
	for i := range clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clusters[i], errs[i] = Start(context.Background(), Options{Dir: tempDir(t), Ephemeral: true})
		}()
	}
	wg.Wait()
	for i, c := range clusters {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Cleanup(func() { c.Stop() })
	}
	for _, c := range clusters {
		query(t, c.URL("postgres", Superuser), "select 1::text")
	}
}

func TestStopDir(t *testing.T) {
	dir := tempDir(t)
	c := start(t, dir)
	if err := StopDir(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if conn, err := pgx.Connect(context.Background(), c.URL("postgres", Superuser)); err == nil {
		conn.Close(context.Background())
		t.Fatal("connected after StopDir")
	}
	if err := StopDir(context.Background(), dir); err != nil { // nothing running: no-op
		t.Fatal(err)
	}
	if err := StopDir(context.Background(), tempDir(t)); err != nil { // no cluster at all
		t.Fatal(err)
	}
}

// A killed server's postmaster.pid outlives it, and its pid is soon another process's:
// StopDir (the orphan sweep) and a formation's PostmasterPID must leave that process be.
func TestStalePostmasterPIDSignalsNothing(t *testing.T) {
	dir := tempDir(t)
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "PG_VERSION"), []byte("15\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The bystander, the files and pg_ctl all belong to the server's user, as the initdb
	// of another test did: pg_ctl could signal it.
	runAs, err := serverCredential()
	if err != nil {
		t.Fatal(err)
	}
	if runAs != nil {
		for _, p := range []string{data, filepath.Join(data, "PG_VERSION")} {
			if err := os.Chown(p, int(runAs.Uid), int(runAs.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	bystander := exec.Command("sleep", "300")
	bystander.SysProcAttr = &syscall.SysProcAttr{Credential: runAs}
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- bystander.Wait() }()
	defer func() { _ = bystander.Process.Kill(); <-exited }()
	pidFile := fmt.Sprintf("%d\n%s\n", bystander.Process.Pid, data)
	if err := os.WriteFile(filepath.Join(data, "postmaster.pid"), []byte(pidFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if runAs != nil {
		if err := os.Chown(filepath.Join(data, "postmaster.pid"), int(runAs.Uid), int(runAs.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	if err := StopDir(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if _, err := (&AutoctlNode{Name: "stale", PGData: data}).PostmasterPID(); err == nil {
		t.Error("PostmasterPID took the bystander for the postmaster")
	}
	select {
	case err := <-exited:
		t.Fatalf("the process holding the stale pid was signalled: %v", err)
	case <-time.After(2 * time.Second): // pg_ctl stop -m immediate would have sent SIGQUIT at once
	}
}

func TestURL(t *testing.T) {
	c := &Cluster{socketDir: "/tmp/rowguard-abc def", port: 5432}
	got := c.URL("rowguard", "rowguard_app")
	want := "postgres://rowguard_app@/rowguard?host=/tmp/rowguard-abc%20def&port=5432&sslmode=disable"
	if got != want {
		t.Fatalf("URL = %q, want %q", got, want)
	}
	cfg, err := pgx.ParseConfig(got)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "/tmp/rowguard-abc def" || cfg.Port != 5432 || cfg.User != "rowguard_app" || cfg.Database != "rowguard" {
		t.Fatalf("parsed %q: host=%q port=%d user=%q db=%q", got, cfg.Host, cfg.Port, cfg.User, cfg.Database)
	}
}

func TestFindInstall(t *testing.T) {
	in, err := EnsureInstall(context.Background(), testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	if in.Major < 13 || !isExecutable(in.Bin("initdb")) || !isExecutable(in.Bin("pg_ctl")) {
		t.Fatalf("install = %+v", in)
	}
	if fi, err := os.Stat(in.ShareDir); err != nil || !fi.IsDir() {
		t.Fatalf("share dir %q: %v", in.ShareDir, err)
	}
}

func TestEnsurePgTAP(t *testing.T) {
	if testing.Short() {
		t.Skip("may install packages")
	}
	in, err := EnsureInstall(context.Background(), testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	_, statErr := os.Stat(in.PgTAPControlFile())
	if statErr != nil && os.Geteuid() != 0 {
		_, err := in.EnsurePgTAP(context.Background(), testWriter{t})
		if err == nil || !strings.Contains(err.Error(), "sudo apt-get install -y postgresql-") {
			t.Fatalf("EnsurePgTAP as non-root without pgTAP: err = %v, want the install command", err)
		}
		return
	}
	prove, err := in.EnsurePgTAP(context.Background(), testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	if !isExecutable(prove) {
		t.Fatalf("pg_prove %q is not executable", prove)
	}
	c := start(t, tempDir(t))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL("postgres", Superuser))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "create extension pgtap"); err != nil {
		t.Fatal(err)
	}
	var plan string
	if err := conn.QueryRow(ctx, "select plan(1)").Scan(&plan); err != nil || plan != "1..1" {
		t.Fatalf("select plan(1) = %q, %v", plan, err)
	}
}

// Options.Settings reach the server's command line, quoted: a value with a space too.
func TestSettingsReachTheServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{Dir: tempDir(t), Log: testWriter{t}, Ephemeral: true,
		Settings: map[string]string{"work_mem": "7MB", "application_name": "load bench"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	url := c.URL("postgres", Superuser)
	if got := query(t, url, "show work_mem"); got != "7MB" {
		t.Errorf("work_mem = %q, want 7MB", got)
	}
	if got := query(t, url, "select setting from pg_settings where name = 'application_name'"); got != "load bench" {
		t.Errorf("application_name default = %q, want %q", got, "load bench")
	}
}
