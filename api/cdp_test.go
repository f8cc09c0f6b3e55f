package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// browser is headless chromium driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe: the browser reads requests from fd 3 and writes
// answers and events to fd 4, each a JSON message ended by a NUL byte), so
// a test can load a page and evaluate a script in it without a WebSocket
// client or another dependency.
type browser struct {
	cmd    *exec.Cmd
	in     *os.File // our end of the browser's fd 3
	stderr *syncBuffer

	mu      sync.Mutex
	nextID  int
	pending map[int]chan cdpMessage
	events  []string // console messages and uncaught exceptions, as text
	done    chan struct{}
}

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// startBrowser starts chromium; the test's cleanup closes it.
func startBrowser(t *testing.T, chromium string) *browser {
	t.Helper()
	toBrowser, in, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	out, fromBrowser, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{in: in, stderr: &syncBuffer{}, pending: map[int]chan cdpMessage{}, done: make(chan struct{})}
	b.cmd = exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--user-data-dir="+t.TempDir(), "--enable-logging=stderr", "--v=0",
		"--remote-debugging-pipe", "about:blank")
	b.cmd.ExtraFiles = []*os.File{toBrowser, fromBrowser} // fd 3, fd 4
	b.cmd.Stderr = b.stderr
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	toBrowser.Close()
	fromBrowser.Close()
	go b.read(out)
	t.Cleanup(func() {
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		_ = b.cmd.Wait()
		in.Close()
		<-b.done
	})
	return b
}

// read dispatches the browser's messages: answers to their callers, console
// messages and exceptions to events.
func (b *browser) read(out *os.File) {
	defer close(b.done)
	defer out.Close()
	r := bufio.NewReaderSize(out, 1<<20)
	for {
		raw, err := r.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			for id, ch := range b.pending {
				close(ch)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var m cdpMessage
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		b.mu.Lock()
		switch {
		case m.ID != 0:
			if ch, ok := b.pending[m.ID]; ok {
				ch <- m
				delete(b.pending, m.ID)
			}
		case m.Method == "Runtime.consoleAPICalled" || m.Method == "Runtime.exceptionThrown" ||
			m.Method == "Log.entryAdded":
			b.events = append(b.events, m.Method+" "+string(m.Params))
		}
		b.mu.Unlock()
	}
}

// call sends one request (to the page's session, or to the browser when
// session is empty) and decodes its result into result (when not nil).
func (b *browser) call(ctx context.Context, session, method string, params, result any) error {
	p, err := json.Marshal(params)
	if err != nil {
		return err
	}
	ch := make(chan cdpMessage, 1)
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	b.pending[id] = ch
	b.mu.Unlock()
	msg, _ := json.Marshal(cdpMessage{ID: id, Method: method, Params: p, SessionID: session})
	if _, err := b.in.Write(append(msg, 0)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: browser exited\n%s", method, tailString(b.stderr.String(), 2000))
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// eval opens url in a new tab, evaluates the expression script there (a
// promise is awaited) and decodes its JSON value into result. Console
// messages and exceptions of the page, and the browser's CONSOLE log lines
// (a CSP refusal is one), fail the test. It returns the tab's session.
func (b *browser) eval(t *testing.T, url, script string, result any) string {
	t.Helper()
	// A hang detector, not a speed requirement: on a quiet machine the docs check takes
	// about a minute, on a 2-core machine at load average 20–26 it took 8–12 minutes.
	// tests/run's go test -timeout (30 m) is the outer bound.
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	b.mu.Lock()
	b.events = nil
	b.mu.Unlock()
	logStart := len(b.stderr.String())
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		t.Fatal(err)
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		t.Fatal(err)
	}
	s := attached.SessionID
	for _, m := range []string{"Runtime.enable", "Log.enable", "Page.enable"} {
		if err := b.call(ctx, s, m, map[string]any{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.call(ctx, s, "Page.navigate", map[string]any{"url": url}, nil); err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := b.call(ctx, s, "Runtime.evaluate", map[string]any{
		"expression": script, "awaitPromise": true, "returnByValue": true,
	}, &ev); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	if ev.ExceptionDetails != nil {
		t.Fatalf("%s: script: %s %s", url, ev.ExceptionDetails.Text, ev.ExceptionDetails.Exception.Description)
	}
	b.mu.Lock()
	events := append([]string(nil), b.events...)
	b.mu.Unlock()
	for _, e := range events {
		if strings.Contains(e, `/favicon.ico"`) {
			continue // the browser asks for one; /docs has none (404)
		}
		t.Errorf("%s: browser: %s", url, tailString(e, 1000))
	}
	for _, line := range strings.Split(b.stderr.String()[logStart:], "\n") {
		if strings.Contains(line, "CONSOLE") {
			t.Errorf("%s: browser console: %s", url, line)
		}
	}
	if err := json.Unmarshal(ev.Result.Value, result); err != nil {
		t.Fatalf("%s: script result %s: %v", url, tailString(string(ev.Result.Value), 500), err)
	}
	return s
}

// screenshot evaluates script in the tab of session (a promise is awaited)
// and writes a PNG of the whole page, 1280 pixels wide, to path.
func (b *browser) screenshot(t *testing.T, session, script, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := b.call(ctx, session, "Runtime.evaluate", map[string]any{"expression": script, "awaitPromise": true}, nil); err != nil {
		t.Fatal(err)
	}
	var shot struct {
		Data []byte `json:"data"` // base64 in JSON
	}
	if err := b.call(ctx, session, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": false,
	}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.call(ctx, session, "Page.captureScreenshot", map[string]any{
		"format": "png", "captureBeyondViewport": true,
	}, &shot); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, shot.Data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}
