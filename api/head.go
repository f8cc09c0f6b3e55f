package api

import (
	"net/http"
	"strconv"
)

// headAsGet serves HEAD on a GET route (RFC 9110, 9.3.2): the GET handler runs as for
// GET, its body is counted and dropped, and the answer carries GET's status and headers,
// with the Content-Length GET's body has (net/http alone would omit it for a body over
// its 2 KiB buffer, where GET is sent chunked).
func headAsGet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		hw := &headWriter{ResponseWriter: w}
		next.ServeHTTP(hw, r)
		hw.finish()
	})
}

// headWriter holds back the status until the handler is done, and counts the body.
type headWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	// streamed: the handler answered HEAD without producing GET's body (an export, whose
	// length is known only once it ran): no Content-Length is made up for it.
	streamed bool
}

// answerHeadOnly tells a HEAD's writer that the handler answers with headers only, for
// a GET whose body is streamed (sent chunked, without Content-Length).
func answerHeadOnly(w http.ResponseWriter) {
	for {
		switch x := w.(type) {
		case *headWriter:
			x.streamed = true
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return
		}
	}
}

func (w *headWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 { // (1xx interim answers are not held)
		w.status = code
	}
}

func (w *headWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.bytes += int64(len(b))
	return len(b), nil
}

func (w *headWriter) finish() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	h := w.Header()
	bodyAllowed := w.status != http.StatusNoContent && w.status != http.StatusNotModified
	if bodyAllowed && !w.streamed && h.Get("Content-Length") == "" && h.Get("Transfer-Encoding") == "" {
		h.Set("Content-Length", strconv.FormatInt(w.bytes, 10))
	}
	w.ResponseWriter.WriteHeader(w.status)
}
