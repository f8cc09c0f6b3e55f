// Package ha proves rowguard outside one process on one PostgreSQL: several `rowguard
// serve` processes on one database behind a round-robin proxy (instances_test.go), and
// the API on a pg_auto_failover cluster whose primary is killed mid-load
// (failover_test.go, behind the build tag ha: run it with tests/ha/run).
//
// The API instances are real processes of the rowguard binary, built once per test
// run: they share nothing but the database and the signing key, as replicas behind a
// load balancer do.
package ha

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rowguard/rowguard/internal/inprocess"
	"github.com/rowguard/rowguard/internal/syncbuf"
	"github.com/rowguard/rowguard/internal/token"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
	buildDir  string
)

// rowguardBinary builds cmd/rowguard once per test process and returns its path.
func rowguardBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "rowguard-ha-bin-")
		if buildErr != nil {
			return
		}
		binary = filepath.Join(buildDir, "rowguard")
		out, err := exec.Command("go", "build", "-o", binary, "github.com/rowguard/rowguard/cmd/rowguard").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/rowguard: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// signingKeyPEM is one Ed25519 key, PEM PKCS#8, shared by every instance of a test.
func signingKeyPEM(t *testing.T) string {
	t.Helper()
	key, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := token.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// instance is one `rowguard serve` process.
type instance struct {
	name   string
	URL    string
	cmd    *exec.Cmd
	out    *syncbuf.Buffer
	exited chan struct{}
	pid    int
}

// startInstance runs `rowguard serve` with exactly env (plus PATH and HOME) and waits
// until /readyz answers 200. The process is stopped when t ends.
func startInstance(t *testing.T, name string, env map[string]string) *instance {
	t.Helper()
	addr := freeAddr(t)
	in := &instance{name: name, URL: "http://" + addr, out: &syncbuf.Buffer{}, exited: make(chan struct{})}
	in.cmd = exec.Command(rowguardBinary(t), "serve")
	in.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "ROWGUARD_ADDR=" + addr,
		"ROWGUARD_MANAGEMENT_ADDR=off"}
	for k, v := range env {
		in.cmd.Env = append(in.cmd.Env, k+"="+v)
	}
	in.cmd.Stdout, in.cmd.Stderr = in.out, in.out
	// Its own process group, and killed with this process (a test binary killed at its
	// timeout leaves no API behind).
	in.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in.pid = in.cmd.Process.Pid
	go func() { _ = in.cmd.Wait(); close(in.exited) }()
	t.Cleanup(func() {
		_ = in.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-in.exited:
		case <-time.After(time.Minute):
			_ = in.cmd.Process.Kill()
			<-in.exited
		}
		if t.Failed() {
			t.Logf("%s output (last 4000 bytes):\n%s", name, lastBytes(in.out.String(), 4000))
		}
	})
	client := &http.Client{Timeout: 5 * time.Second}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-in.exited:
			t.Fatalf("%s exited before it was ready:\n%s", name, in.out.String())
		default:
		}
		if resp, err := client.Get(in.URL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return in
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 2 minutes:\n%s", name, in.out.String())
		}
	}
}

// alive reports whether the process is still running (no restart happened).
func (in *instance) alive() bool {
	select {
	case <-in.exited:
		return false
	default:
		return true
	}
}

func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// roundRobin is the load balancer of the tests: a reverse proxy sending each request to
// the next instance in turn, and naming the instance that answered in X-Served-By.
type roundRobin struct {
	URL    string
	next   atomic.Uint64
	served []atomic.Int64
	srv    *http.Server
}

func startRoundRobin(t *testing.T, backends []*instance) *roundRobin {
	t.Helper()
	rr := &roundRobin{served: make([]atomic.Int64, len(backends))}
	targets := make([]*url.URL, len(backends))
	for i, b := range backends {
		u, err := url.Parse(b.URL)
		if err != nil {
			t.Fatal(err)
		}
		targets[i] = u
	}
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			i := int((rr.next.Add(1) - 1) % uint64(len(targets)))
			pr.SetURL(targets[i])
			// X-Forwarded-For: the client's address appended to the one the test client
			// set (it plays clients at many addresses), as a chain of proxies sends it.
			// (Rewrite gets the outbound request without it; SetXForwarded appends to
			// the outbound header.)
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Test-Backend", backends[i].name)
			rr.served[i].Add(1)
		},
		Transport: transport,
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set("X-Served-By", resp.Request.Header.Get("X-Test-Backend"))
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rr.URL = "http://" + ln.Addr().String()
	rr.srv = &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = rr.srv.Serve(ln) }()
	t.Cleanup(func() { _ = rr.srv.Close(); transport.CloseIdleConnections() })
	return rr
}

// answer is one HTTP response, read whole.
type answer struct {
	Status int
	Header http.Header
	Body   []byte
	Err    error
}

func (a answer) String() string {
	if a.Err != nil {
		return a.Err.Error()
	}
	return fmt.Sprintf("%d %s (served by %q)", a.Status, lastBytes(string(a.Body), 300), a.Header.Get("X-Served-By"))
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.Body, v); err != nil {
		t.Fatalf("decode %s: %v", a, err)
	}
}

// problemType is the last segment of a problem's type, "" when the body is not one.
func (a answer) problemType() string {
	var p struct{ Type string }
	if json.Unmarshal(a.Body, &p) != nil {
		return ""
	}
	return p.Type[strings.LastIndex(p.Type, "/")+1:]
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: time.Minute}

// call sends one request to base (an instance or the proxy); body, when not nil, as
// JSON. headers are name, value pairs.
func call(ctx context.Context, base, method, path, tok string, body any, headers ...string) answer {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{Err: err}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return answer{Err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: data, Err: err}
}

// session is a signed-in user's tokens.
type session struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	User         struct {
		ID string `json:"id"`
	} `json:"user"`
}

// sessionID reads the sid claim of the access token (the tests made the token; the
// servers verify it).
func (s session) sessionID(t *testing.T) string {
	t.Helper()
	parts := strings.Split(s.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q is not a JWS", s.AccessToken)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.SID == "" {
		t.Fatalf("access token claims %s: %v", payload, err)
	}
	return c.SID
}

// cheapHash is a password hash at minimal argon2id cost; the servers verify it with
// the parameters it names.
func cheapHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := inprocess.CheapPasswords().Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
