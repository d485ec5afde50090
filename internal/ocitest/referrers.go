package ocitest

import (
	"net"
	"net/http"
	"sync"
	"testing"

	"cuelabs.dev/go/oci/ociregistry/ocimem"
	"cuelabs.dev/go/oci/ociregistry/ociserver"
)

// ReferrersRegistry is a registry that implements the OCI 1.1 referrers API
// (GET /v2/NAME/referrers/DIGEST), running in the test process on loopback.
// It is CUE's registry server (cuelabs.dev/go/oci/ociregistry: ociserver
// over the in-memory ocimem store), which answers a manifest push with a
// subject with the OCI-Subject header, as the specification asks of a
// registry that indexes referrers itself. Debian's docker-registry
// (distribution 2.8) has no referrers API, so only this one exercises it.
type ReferrersRegistry struct {
	Registry
	mu       sync.Mutex
	requests []string
}

// StartReferrersRegistry starts CUE's registry with the referrers API on a free loopback port and stops it when the test ends.
// It records every request it serves (see Requests).
func StartReferrersRegistry(t testing.TB) *ReferrersRegistry {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &ReferrersRegistry{Registry: Registry{Host: l.Addr().String()}}
	h := ociserver.New(ocimem.New(), nil)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests = append(r.requests, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return r
}

// Requests returns "METHOD /path" of every request served so far and
// forgets them.
func (r *ReferrersRegistry) Requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.requests
	r.requests = nil
	return out
}
