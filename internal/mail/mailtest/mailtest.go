// Package mailtest is a real SMTP server for tests, listening on loopback in the test
// process: rowguard's sender talks to it over TCP exactly as to a production relay, and
// tests read the delivered messages (e.g. the sign-in code) from it. It speaks the
// subset of RFC 5321 a submission client uses — EHLO/HELO, STARTTLS, AUTH PLAIN, MAIL,
// RCPT, DATA, RSET, NOOP, QUIT — over net/textproto; a few dozen lines are clearer
// than a dependency.
package mailtest

import (
	"crypto/tls"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one accepted message.
type Message struct {
	From    string   // envelope sender (MAIL FROM)
	To      []string // envelope recipients (RCPT TO)
	Header  mail.Header
	Subject string // decoded
	Body    string // decoded (quoted-printable undone), LF line ends
	Raw     []byte
	TLS     bool   // the message came over TLS (implicit or STARTTLS)
	User    string // the AUTH PLAIN user, if any
}

// Options shape a Server.
type Options struct {
	// TLS: with ImplicitTLS the listener speaks TLS from the first byte; otherwise
	// STARTTLS is offered when TLS is set.
	TLS         *tls.Config
	ImplicitTLS bool
	// Users maps user → password; non-empty: AUTH PLAIN is offered and required.
	Users map[string]string
}

// Server is a running SMTP server. Start it with Start.
type Server struct {
	Addr string // host:port
	opts Options
	ln   net.Listener

	mu       sync.Mutex
	msgs     []Message
	arrived  chan struct{} // closed and replaced on every message
	failRcpt int           // answer the next n RCPT commands with 451
}

// Start listens on 127.0.0.1 and serves until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.ImplicitTLS {
		ln = tls.NewListener(ln, opts.TLS)
	}
	s := &Server{Addr: ln.Addr().String(), opts: opts, ln: ln, arrived: make(chan struct{})}
	go s.accept()
	t.Cleanup(func() { ln.Close() })
	return s
}

// Host and Port of the listener.
func (s *Server) Host() string { h, _, _ := net.SplitHostPort(s.Addr); return h }
func (s *Server) Port() int    { return s.ln.Addr().(*net.TCPAddr).Port }

// FailNextRecipients makes the next n RCPT commands fail with a temporary error (451).
func (s *Server) FailNextRecipients(n int) {
	s.mu.Lock()
	s.failRcpt = n
	s.mu.Unlock()
}

// Messages returns every message accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// WaitFor returns the first message whose recipients include to and for which match
// (if not nil) holds, waiting up to timeout.
func (s *Server) WaitFor(t testing.TB, to string, timeout time.Duration, match func(Message) bool) Message {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		arrived := s.arrived
		for _, m := range s.msgs {
			for _, rcpt := range m.To {
				if strings.EqualFold(rcpt, to) && (match == nil || match(m)) {
					s.mu.Unlock()
					return m
				}
			}
		}
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-deadline:
			t.Fatalf("mailtest: no message to %s within %s", to, timeout)
		}
	}
}

func (s *Server) accept() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.serve(conn)
	}
}

// session is one client connection's state.
type session struct {
	conn     net.Conn
	tp       *textproto.Conn
	tls      bool
	user     string
	from     string
	to       []string
	greeted  bool
	authDone bool
}

func (s *Server) serve(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	ss := &session{conn: conn, tp: textproto.NewConn(conn), tls: s.opts.ImplicitTLS}
	_ = ss.tp.PrintfLine("220 mailtest ESMTP ready")
	for {
		line, err := ss.tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		if !s.handle(ss, strings.ToUpper(verb), arg) {
			return
		}
	}
}

// handle answers one command; false ends the connection.
func (s *Server) handle(ss *session, verb, arg string) bool {
	reply := func(format string, args ...any) bool { return ss.tp.PrintfLine(format, args...) == nil }
	needAuth := len(s.opts.Users) > 0 && !ss.authDone
	switch verb {
	case "EHLO":
		ss.greeted = true
		lines := []string{"mailtest", "8BITMIME"}
		if s.opts.TLS != nil && !ss.tls {
			lines = append(lines, "STARTTLS")
		}
		if len(s.opts.Users) > 0 {
			lines = append(lines, "AUTH PLAIN")
		}
		for i, l := range lines {
			sep := "-"
			if i == len(lines)-1 {
				sep = " "
			}
			if !reply("250%s%s", sep, l) {
				return false
			}
		}
		return true
	case "HELO":
		ss.greeted = true
		return reply("250 mailtest")
	case "STARTTLS":
		if s.opts.TLS == nil || ss.tls {
			return reply("502 STARTTLS not offered")
		}
		if !reply("220 go ahead") {
			return false
		}
		tc := tls.Server(ss.conn, s.opts.TLS)
		if err := tc.Handshake(); err != nil {
			return false
		}
		ss.conn, ss.tp, ss.tls, ss.greeted = tc, textproto.NewConn(tc), true, false
		return true
	case "AUTH":
		mech, resp, _ := strings.Cut(arg, " ")
		if !strings.EqualFold(mech, "PLAIN") || resp == "" {
			return reply("504 only AUTH PLAIN with an initial response")
		}
		raw, err := base64.StdEncoding.DecodeString(resp)
		parts := strings.Split(string(raw), "\x00")
		if err != nil || len(parts) != 3 || s.opts.Users[parts[1]] != parts[2] || parts[1] == "" {
			return reply("535 authentication failed")
		}
		ss.user, ss.authDone = parts[1], true
		return reply("235 authenticated")
	case "MAIL":
		if needAuth {
			return reply("530 authentication required")
		}
		ss.from, ss.to = addrArg(arg, "FROM:"), nil
		return reply("250 ok")
	case "RCPT":
		s.mu.Lock()
		fail := s.failRcpt > 0
		if fail {
			s.failRcpt--
		}
		s.mu.Unlock()
		if fail {
			return reply("451 try again later")
		}
		ss.to = append(ss.to, addrArg(arg, "TO:"))
		return reply("250 ok")
	case "DATA":
		if ss.from == "" || len(ss.to) == 0 {
			return reply("503 need MAIL and RCPT first")
		}
		if !reply("354 end with <CRLF>.<CRLF>") {
			return false
		}
		raw, err := ss.tp.ReadDotBytes()
		if err != nil {
			return false
		}
		s.store(ss, raw)
		ss.from, ss.to = "", nil
		return reply("250 queued")
	case "RSET":
		ss.from, ss.to = "", nil
		return reply("250 ok")
	case "NOOP":
		return reply("250 ok")
	case "QUIT":
		reply("221 bye")
		return false
	}
	return reply("502 command not implemented")
}

func addrArg(arg, prefix string) string {
	a := strings.TrimSpace(arg)
	if len(a) >= len(prefix) && strings.EqualFold(a[:len(prefix)], prefix) {
		a = strings.TrimSpace(a[len(prefix):])
	}
	if i := strings.IndexByte(a, '>'); strings.HasPrefix(a, "<") && i > 0 {
		a = a[1:i]
	}
	return a
}

func (s *Server) store(ss *session, raw []byte) {
	m := Message{From: ss.from, To: ss.to, Raw: raw, TLS: ss.tls, User: ss.user}
	if pm, err := mail.ReadMessage(strings.NewReader(string(raw))); err == nil {
		m.Header = pm.Header
		m.Subject, _ = new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject"))
		var body io.Reader = pm.Body
		if strings.EqualFold(pm.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(body)
		}
		b, _ := io.ReadAll(body)
		m.Body = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
	s.mu.Unlock()
}
