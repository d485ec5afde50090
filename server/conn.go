package server

import (
	"io"
	"net/http"
	"time"
)

// Connection limits of HTTPServer, unless Config says otherwise.
const (
	defaultReadHeaderTimeout = 10 * time.Second
	defaultStallTimeout      = 30 * time.Second
	defaultIdleTimeout       = 30 * time.Second
	defaultMaxHeaderBytes    = 64 << 10
)

// HTTPServer returns an http.Server that serves the server's handler with
// the connection limits of Config: request headers within
// ReadHeaderTimeout and MaxHeaderBytes, a request body and a response that
// each make progress at least every StallTimeout (so a large upload that
// keeps moving has no overall limit, and one that stops is cut off), and
// idle connections closed after IdleTimeout. Set Addr, TLSConfig and
// ErrorLog on it as needed.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
	}
}

// withStallDeadlines gives each read of the request body, and each write
// of the response, StallTimeout to make progress. Requests without a body
// get no read deadline: the connection is then watched by net/http, which
// a deadline would disturb.
func (s *Server) withStallDeadlines(h http.Handler) http.Handler {
	d := s.cfg.StallTimeout
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		rc.SetWriteDeadline(time.Now().Add(d)) // errors: a ResponseWriter without deadlines (tests)
		var body *stallBody
		if r.Body != nil && r.Body != http.NoBody {
			rc.SetReadDeadline(time.Now().Add(d))
			body = &stallBody{ReadCloser: r.Body, rc: rc, d: d}
			r.Body = body
		}
		h.ServeHTTP(&stallWriter{ResponseWriter: w, rc: rc, d: d}, r)
		if body != nil && !body.eof {
			// A body the handler left unread is not waited for: net/http
			// reads what has arrived already and otherwise closes the
			// connection after the response.
			rc.SetReadDeadline(time.Now())
		}
		rc.SetWriteDeadline(time.Now().Add(d)) // for the buffered end of the response
	})
}

// stallBody moves the read deadline forward before each read, and drops
// it at the end of the body, when net/http starts watching the connection.
type stallBody struct {
	io.ReadCloser
	rc  *http.ResponseController
	d   time.Duration
	eof bool
}

func (b *stallBody) Read(p []byte) (int, error) {
	if b.eof {
		return b.ReadCloser.Read(p)
	}
	b.rc.SetReadDeadline(time.Now().Add(b.d))
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// stallWriter moves the write deadline forward before each write.
type stallWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (w *stallWriter) Write(p []byte) (int, error) {
	w.rc.SetWriteDeadline(time.Now().Add(w.d))
	return w.ResponseWriter.Write(p)
}

func (w *stallWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
