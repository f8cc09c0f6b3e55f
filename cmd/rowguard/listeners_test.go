package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rowguard/rowguard/internal/syncbuf"
	"github.com/rowguard/rowguard/internal/testdb"
)

// freeAddr is a loopback address whose port was free a moment ago (the variables want
// a real port, not :0).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// served is a `rowguard serve` running in this process.
type served struct {
	base, management string // URLs; management "" when serve printed no management listener
	stdout, stderr   *syncbuf.Buffer
	exited           chan int
}

var (
	listeningRE  = regexp.MustCompile(`listening on (http://\S+)`)
	managementRE = regexp.MustCompile(`management listener on (http://\S+)`)
)

// startServe runs serve with the environment as set and waits until it listens.
func startServe(t *testing.T) *served {
	t.Helper()
	s := &served{stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, exited: make(chan int, 1)}
	go func() { s.exited <- run([]string{"serve"}, s.stdout, s.stderr) }()
	for deadline := time.Now().Add(2 * time.Minute); ; {
		if m := listeningRE.FindStringSubmatch(s.stdout.String()); m != nil && strings.Contains(s.stdout.String(), "Press Ctrl-C") {
			s.base = m[1]
			if m := managementRE.FindStringSubmatch(s.stdout.String()); m != nil {
				s.management = m[1]
			}
			return s
		}
		select {
		case code := <-s.exited:
			t.Fatalf("serve exited %d before listening:\n%s%s", code, s.stdout.String(), s.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not listen:\n%s%s", s.stdout.String(), s.stderr.String())
		}
	}
}

// stop sends SIGTERM (serve handles it: it is listening) and wants exit 0.
func (s *served) stop(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-s.exited:
		if code != 0 {
			t.Errorf("serve exited %d after SIGTERM, want 0\n%s", code, s.stderr.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("serve did not exit after SIGTERM")
	}
}

// get answers a GET (status 0 and the error when nothing answered).
func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// listeningPorts are the TCP ports this process listens on (Linux: read from /proc).
func listeningPorts(t *testing.T) []int {
	t.Helper()
	fds, err := filepath.Glob("/proc/self/fd/*")
	if err != nil || len(fds) == 0 {
		t.Skip("no /proc/self/fd: cannot list this process's sockets")
	}
	ours := map[string]bool{}
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && strings.HasPrefix(target, "socket:[") {
			ours[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	var ports []int
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" || !ours[fields[9]] { // 0A: LISTEN
				continue
			}
			_, hexPort, _ := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil {
				ports = append(ports, int(p))
			}
		}
		f.Close()
	}
	slices.Sort(ports)
	return ports
}

func portOf(t *testing.T, rawURL string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(strings.TrimPrefix(rawURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return p
}

// sample returns one sample's value in a /metrics answer ("" when absent).
func sample(body, name string) string {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

// ROWGUARD_MANAGEMENT_ADDR as `rowguard serve` applies it: a second listener serving
// the metrics (and health) while the API port does not; off; api; and a taken address.
func TestServeManagementListener(t *testing.T) {
	db := testdb.New(t)
	setup := func(t *testing.T, management string) {
		clearEnv(t)
		setSigningKey(t)
		t.Setenv("DATABASE_URL", db.AppURL)
		t.Setenv("ROWGUARD_ADDR", freeAddr(t))
		t.Setenv("ROWGUARD_MANAGEMENT_ADDR", management)
		t.Setenv("ROWGUARD_LOG_LEVEL", "info")
	}
	register := func(t *testing.T, base, email string) {
		t.Helper()
		resp, err := http.Post(base+"/v1/auth/register", "application/json",
			strings.NewReader(`{"email":"`+email+`","password":"correct horse battery"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("register: %d", resp.StatusCode)
		}
	}
	const registered = `rowguard_http_requests_total{method="POST",route="/v1/auth/register",status="202"}`
	const unmatched = `rowguard_http_requests_total{method="GET",route="unmatched",status="404"}`

	t.Run("address", func(t *testing.T) {
		addr := freeAddr(t)
		setup(t, addr)
		s := startServe(t)
		if s.management != "http://"+addr {
			t.Fatalf("management listener %q, want http://%s:\n%s", s.management, addr, s.stdout.String())
		}
		// The start-up log line names both addresses.
		var line map[string]any
		for _, l := range strings.Split(s.stderr.String(), "\n") {
			if strings.Contains(l, `"msg":"serving"`) {
				if err := json.Unmarshal([]byte(l), &line); err != nil {
					t.Fatal(err)
				}
			}
		}
		if line["addr"] != strings.TrimPrefix(s.base, "http://") || line["management_addr"] != addr {
			t.Errorf("serving log line %v: want addr %s and management_addr %s", line, s.base, addr)
		}

		register(t, s.base, "listener@example.com")
		if status, body := get(s.base + "/metrics"); status != http.StatusNotFound || !strings.Contains(body, "not-found") {
			t.Errorf("/metrics on the API port: %d %s", status, body)
		}
		status, body := get(s.management + "/metrics")
		if status != http.StatusOK || sample(body, registered) != "1" || sample(body, unmatched) != "1" {
			t.Errorf("/metrics on the management listener: %d, %s = %q, %s = %q\n%s", status,
				registered, sample(body, registered), unmatched, sample(body, unmatched), body)
		}
		for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/v1/auth/me": 404, "/openapi.json": 404} {
			if status, body := get(s.management + path); status != want {
				t.Errorf("management %s: %d %s, want %d", path, status, body, want)
			}
		}
		if ports := listeningPorts(t); !slices.Equal(ports, sorted(portOf(t, s.base), portOf(t, s.management))) {
			t.Errorf("listening on %v, want the API's and the management listener's ports", ports)
		}
		s.stop(t)
		for _, u := range []string{s.base, s.management} {
			if status, _ := get(u + "/healthz"); status != 0 {
				t.Errorf("%s still answers after SIGTERM", u)
			}
		}
		if ports := listeningPorts(t); len(ports) != 0 {
			t.Errorf("still listening on %v after serve returned", ports)
		}
	})

	t.Run("off", func(t *testing.T) {
		setup(t, "off")
		s := startServe(t)
		if s.management != "" || !strings.Contains(s.stdout.String(), "ROWGUARD_MANAGEMENT_ADDR=off") {
			t.Errorf("stdout:\n%s", s.stdout.String())
		}
		if status, body := get(s.base + "/metrics"); status != http.StatusNotFound {
			t.Errorf("/metrics on the API port: %d %s", status, body)
		}
		if ports := listeningPorts(t); !slices.Equal(ports, []int{portOf(t, s.base)}) {
			t.Errorf("listening on %v, want the API's port only: metrics are served nowhere", ports)
		}
		s.stop(t)
	})

	t.Run("api", func(t *testing.T) {
		setup(t, "api")
		s := startServe(t)
		if s.management != "" || !strings.Contains(s.stdout.String(), "metrics at "+s.base+"/metrics") {
			t.Errorf("stdout:\n%s", s.stdout.String())
		}
		register(t, s.base, "one-port@example.com")
		if status, body := get(s.base + "/metrics"); status != http.StatusOK || sample(body, registered) != "1" {
			t.Errorf("/metrics on the API port: %d\n%s", status, body)
		}
		if ports := listeningPorts(t); !slices.Equal(ports, []int{portOf(t, s.base)}) {
			t.Errorf("listening on %v, want the API's port only", ports)
		}
		s.stop(t)
	})

	t.Run("taken", func(t *testing.T) {
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer taken.Close()
		setup(t, taken.Addr().String())
		apiAddr := os.Getenv("ROWGUARD_ADDR")
		code, stdout, stderr := runArgs(t, "serve")
		if code != 1 || !strings.Contains(stderr, "ROWGUARD_MANAGEMENT_ADDR: ") || !strings.Contains(stderr, "address already in use") {
			t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
		}
		if strings.Contains(stdout, "listening on") {
			t.Errorf("serve announced itself although it could not start:\n%s", stdout)
		}
		// The API's port, bound first, was let go.
		l, err := net.Listen("tcp", apiAddr)
		if err != nil {
			t.Errorf("the API's port is still held after the failed start: %v", err)
		} else {
			l.Close()
		}
	})
}

func sorted(ports ...int) []int {
	slices.Sort(ports)
	return ports
}

// A bad ROWGUARD_MANAGEMENT_ADDR stops serve before anything starts, naming the variable.
func TestServeRefusesBadManagementAddr(t *testing.T) {
	for value, want := range map[string]string{
		"9464":           "ROWGUARD_MANAGEMENT_ADDR: must be host:port",
		"on":             "ROWGUARD_MANAGEMENT_ADDR: must be host:port",
		"localhost:http": "ROWGUARD_MANAGEMENT_ADDR: port must be a number",
		"127.0.0.1:8080": "ROWGUARD_MANAGEMENT_ADDR: must not share the port of ROWGUARD_ADDR",
	} {
		clearEnv(t)
		setSigningKey(t)
		t.Setenv("DATABASE_URL", "postgres://rowguard_app@localhost/rowguard") // never reached
		t.Setenv("ROWGUARD_ADDR", "127.0.0.1:8080")
		t.Setenv("ROWGUARD_MANAGEMENT_ADDR", value)
		if code, _, stderr := runArgs(t, "serve"); code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("%q: exit %d, stderr %q; want %q", value, code, stderr, want)
		}
	}
}
