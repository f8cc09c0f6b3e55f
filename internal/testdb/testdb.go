// Package testdb gives Go tests real, migrated PostgreSQL databases (never a mock).
//
// Each test package gets its own private, ephemeral cluster, started in a temporary
// directory on first use and stopped when the package's tests end, so packages run
// concurrently under `go test ./...` without sharing anything. When
// ROWGUARD_TEST_DATABASE_URL (or else DATABASE_URL) is set to a superuser URL, that
// server is used instead and every database created on it has a unique name and is
// dropped at the end.
//
// Usage:
//
//	func TestMain(m *testing.M) { testdb.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		db := testdb.New(t)  // a fresh database at the latest migration
//		pool := db.AppPool(t) // connected as rowguard_app, the serving role
//		...
//	}
//
// New clones a template database that is migrated once per package, so a fresh
// database costs a fraction of a second (a file copy), not a migration.
package testdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowguard/rowguard/internal/database"
	"github.com/rowguard/rowguard/internal/pgcluster"
)

// AppRole is the serving login role of test databases.
const AppRole = database.DevLoginRole

// externalAppPassword is given to AppRole on an external server (ROWGUARD_TEST_DATABASE_URL
// or DATABASE_URL), which may not trust local connections. The role is cluster-global and
// shared by concurrent test packages, so the password is fixed. Test servers only.
const externalAppPassword = "rowguard-test-only"

// DB is one migrated database.
type DB struct {
	// Name is the database's name.
	Name string
	// AdminURL connects to it as a superuser (fixtures, pgTAP, migrations).
	AdminURL string
	// AppURL connects to it as rowguard_app: LOGIN, NOSUPERUSER, NOBYPASSRLS, member of
	// rowguard_api. This is what the server uses.
	AppURL string
}

// AdminPool returns a pool on AdminURL, closed when t ends.
func (db *DB) AdminPool(t testing.TB) *pgxpool.Pool { return pool(t, db.AdminURL) }

// AppPool returns a pool on AppURL, closed when t ends.
func (db *DB) AppPool(t testing.TB) *pgxpool.Pool { return pool(t, db.AppURL) }

func pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// Main is a test package's whole TestMain: testdb.Main(m). It runs the tests, then
// stops the package's cluster (or drops its databases on an external server) and
// exits with the tests' status.
func Main(m *testing.M) { os.Exit(Run(m.Run)) }

// Run runs fn (usually m.Run, possibly wrapped with setup that calls NewDB) and then
// releases everything testdb created: it stops the private cluster and removes its
// directory, or drops the databases created on an external server. It returns fn's
// result.
func Run(fn func() int) int {
	mu.Lock()
	if current != nil {
		mu.Unlock()
		panic("testdb: Run/Main called twice")
	}
	s := &server{}
	current = s
	mu.Unlock()

	code := fn()

	mu.Lock()
	current = nil
	mu.Unlock()
	if err := s.close(); err != nil {
		fmt.Fprintf(os.Stderr, "testdb: cleanup: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// New returns a fresh database at the latest migration, with the code packages
// installed and the login role AppRole, dropped when t ends. The package's TestMain
// must call Main (or Run).
func New(t testing.TB) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	db, s, err := newDB(ctx)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() {
		if err := s.drop(context.Background(), db.Name); err != nil {
			t.Errorf("testdb: %v", err)
		}
	})
	return db
}

// NewEmpty returns a fresh, empty database (a copy of template0: no migration, no
// rowguard schema) on the same server as New's, dropped when t ends: for tests that
// migrate or install something themselves. The cluster-wide roles exist already (the
// package's template was migrated first), as they would on a shared server. The
// package's TestMain must call Main (or Run).
func NewEmpty(t testing.TB) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := server0(ctx)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	db, err := s.create(ctx, "template0")
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() {
		if err := s.drop(context.Background(), db.Name); err != nil {
			t.Errorf("testdb: %v", err)
		}
	})
	return db
}

// NewDB is New outside a test (for example in TestMain, inside Run): the database is
// dropped when Run returns.
func NewDB(ctx context.Context) (*DB, error) {
	db, _, err := newDB(ctx)
	return db, err
}

var (
	mu      sync.Mutex
	current *server
)

func newDB(ctx context.Context) (*DB, *server, error) {
	s, err := server0(ctx)
	if err != nil {
		return nil, nil, err
	}
	db, err := s.create(ctx, s.template)
	return db, s, err
}

// server0 returns the package's server, started (and its template migrated) on first use.
func server0(ctx context.Context) (*server, error) {
	mu.Lock()
	s := current
	mu.Unlock()
	if s == nil {
		return nil, errors.New("call testdb.Main(m) from the package's TestMain (or wrap m.Run in testdb.Run)")
	}
	s.once.Do(func() { s.err = s.init(ctx) })
	if s.err != nil {
		return nil, s.err
	}
	return s, nil
}

// server is the PostgreSQL server of one test package: a private cluster, or the
// external server named by ROWGUARD_TEST_DATABASE_URL / DATABASE_URL.
type server struct {
	once sync.Once
	err  error

	cluster  *pgcluster.Cluster // nil on an external server
	dir      string             // private cluster's directory
	adminURL string             // maintenance database as superuser
	external bool
	prefix   string // database names: <prefix>_template, <prefix>_1, ...
	template string
	strategy string // CREATE DATABASE's STRATEGY clause for clones ("" = the server's default)

	mu      sync.Mutex
	seq     int
	created map[string]bool // live databases, dropped by close
}

func (s *server) init(ctx context.Context) error {
	s.created = map[string]bool{}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	s.prefix = fmt.Sprintf("rowguard_test_%d_%s", os.Getpid(), hex.EncodeToString(suffix[:]))
	s.template = s.prefix + "_template"

	if ext := externalURL(); ext != "" {
		s.external = true
		s.adminURL = ext
		if err := checkSuperuser(ctx, ext); err != nil {
			return err
		}
		// Roles are cluster-global and advisory locks per database: serialise the
		// template migrations of concurrent test packages on this machine.
		unlock, err := lockFile(lockPath(ext))
		if err != nil {
			return err
		}
		defer unlock()
	} else {
		if err := s.startCluster(ctx); err != nil {
			return err
		}
		s.adminURL = s.cluster.URL("postgres", pgcluster.Superuser)
		// A clone by file copy costs half a WAL-logged one (25 ms against 50 ms for the
		// migrated template on tmpfs): the checkpoints it forces are cheap on a private,
		// fsync-less cluster. An external server keeps its default (WAL_LOG since
		// PostgreSQL 15): checkpoints there are not ours to force.
		if s.cluster.Install().Major >= 15 {
			s.strategy = " strategy file_copy"
		}
	}

	if err := s.exec(ctx, "create database "+pgx.Identifier{s.template}.Sanitize()); err != nil {
		return fmt.Errorf("create template database: %w", err)
	}
	s.created[s.template] = true
	tmplURL := withDB(s.adminURL, s.template, "", "")
	if err := database.Migrate(ctx, tmplURL, database.Latest, nil); err != nil {
		return err
	}
	if err := database.BootstrapLoginRole(ctx, tmplURL, AppRole); err != nil {
		return err
	}
	if s.external {
		if err := s.exec(ctx, "alter role "+pgx.Identifier{AppRole}.Sanitize()+" password '"+externalAppPassword+"'"); err != nil {
			return err
		}
	}
	return nil
}

func (s *server) startCluster(ctx context.Context) error {
	sweepOrphans(ctx)
	dir, err := os.MkdirTemp(pgcluster.ScratchDir(), orphanPrefix)
	if err != nil {
		return fmt.Errorf("testdb: %w", err)
	}
	s.dir = dir
	// When tests run as root the server runs as the postgres user, which must reach dir.
	if err := os.Chmod(dir, 0o711); err != nil {
		return fmt.Errorf("testdb: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("testdb: %w", err)
	}
	var log strings.Builder
	s.cluster, err = pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Log: &log, Ephemeral: true})
	if err != nil {
		return fmt.Errorf("testdb: start a private PostgreSQL cluster: %w\n%s", err, log.String())
	}
	return nil
}

// create clones template: s.template (migrated) or template0 (empty).
func (s *server) create(ctx context.Context, template string) (*DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock() // one clone at a time: the template must have no other user
	s.seq++
	name := fmt.Sprintf("%s_%d", s.prefix, s.seq)
	err := s.exec(ctx, "create database "+pgx.Identifier{name}.Sanitize()+" template "+pgx.Identifier{template}.Sanitize()+s.strategy)
	if err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	s.created[name] = true
	// Database privileges are not copied from the template: repeat migration 001's
	// grant, so that migrating the clone again (the owner creates schemas) works. An
	// empty database gets it from migration 001 like any other.
	if template == s.template {
		if err := s.exec(ctx, "grant create on database "+pgx.Identifier{name}.Sanitize()+" to rowguard_owner"); err != nil {
			return nil, fmt.Errorf("create database %s: %w", name, err)
		}
	}
	db := &DB{Name: name, AdminURL: withDB(s.adminURL, name, "", ""), AppURL: withDB(s.adminURL, name, AppRole, "")}
	if s.external {
		db.AppURL = withDB(s.adminURL, name, AppRole, externalAppPassword)
	}
	return db, nil
}

func (s *server) drop(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.created[name] {
		return nil
	}
	if err := s.exec(ctx, "drop database if exists "+pgx.Identifier{name}.Sanitize()+" with (force)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	delete(s.created, name)
	return nil
}

func (s *server) close() error {
	var errs []error
	if s.cluster == nil && !s.external {
		return nil // never started
	}
	if s.external {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s.mu.Lock()
		names := make([]string, 0, len(s.created))
		for name := range s.created {
			names = append(names, name)
		}
		s.mu.Unlock()
		for _, name := range names {
			errs = append(errs, s.drop(ctx, name))
		}
		return errors.Join(errs...)
	}
	errs = append(errs, s.cluster.Stop())
	if err := os.RemoveAll(s.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (s *server) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

func externalURL() string {
	if u := os.Getenv("ROWGUARD_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return os.Getenv("DATABASE_URL")
}

func checkSuperuser(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect to the test server (ROWGUARD_TEST_DATABASE_URL or DATABASE_URL): %w", err)
	}
	defer conn.Close(ctx)
	var role string
	var super bool
	if err := conn.QueryRow(ctx, "select current_user, rolsuper from pg_catalog.pg_roles where rolname = current_user").Scan(&role, &super); err != nil {
		return err
	}
	if !super {
		return fmt.Errorf("tests need a superuser URL in ROWGUARD_TEST_DATABASE_URL or DATABASE_URL (role %q is not a superuser); "+
			"unset both to let the tests start a private cluster", role)
	}
	return nil
}

// withDB returns base connecting to database db, as user/password when user is set.
func withDB(base, db, user, password string) string {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err == nil {
			u.Path = "/" + db
			u.RawPath = ""
			if user != "" {
				if password != "" {
					u.User = url.UserPassword(user, password)
				} else {
					u.User = url.User(user)
				}
			}
			return u.String()
		}
	}
	// Keyword/value form: a later keyword overrides an earlier one.
	kv := base + " dbname=" + quoteKV(db)
	if user != "" {
		kv += " user=" + quoteKV(user) + " password=" + quoteKV(password)
	}
	return kv
}

func quoteKV(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Orphan clusters: a test binary killed by a timeout cannot stop its cluster. The next
// run stops and removes clusters whose owning process is gone.
const (
	orphanPrefix = "rowguard-test-"
	ownerFile    = "owner.pid"
)

func sweepOrphans(ctx context.Context) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), orphanPrefix+"*"))
	if scratch := pgcluster.ScratchDir(); scratch != os.TempDir() {
		more, _ := filepath.Glob(filepath.Join(scratch, orphanPrefix+"*"))
		dirs = append(dirs, more...)
	}
	for _, dir := range dirs {
		fi, err := os.Lstat(dir)
		if err != nil || !fi.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			// Being created right now, or not ours: only very old ones are removed.
			if time.Since(fi.ModTime()) > time.Hour {
				_ = pgcluster.StopDir(ctx, dir)
				_ = os.RemoveAll(dir)
			}
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		if err := pgcluster.StopDir(ctx, dir); err == nil {
			_ = os.RemoveAll(dir)
		}
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func lockPath(url string) string {
	cfg, err := pgx.ParseConfig(url)
	key := url
	if err == nil {
		key = fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
	}
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(os.TempDir(), "rowguard-testdb-"+hex.EncodeToString(sum[:6])+".lock")
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("testdb: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("testdb: lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
