package servertest

import (
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Recorder is an http.RoundTripper that sends requests through
// http.DefaultTransport and records each as "METHOD /path", for tests
// that check which requests a client makes. It is safe for concurrent use.
type Recorder struct {
	mu   sync.Mutex
	reqs []string
}

// RoundTrip implements http.RoundTripper.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// Reset forgets the requests recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.reqs = nil
	r.mu.Unlock()
}

// Requests returns the requests recorded, in order.
func (r *Recorder) Requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// Count returns how many of the recorded requests have method.
func (r *Recorder) Count(method string) int {
	n := 0
	for _, q := range r.Requests() {
		if strings.HasPrefix(q, method+" ") {
			n++
		}
	}
	return n
}
