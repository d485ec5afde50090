package remote

import (
	"fmt"
	"io"
	"net/http"
	"sync"
)

// maxResponse bounds every response body read from a registry or its token
// server: the largest thing fetched is a manifest or a signature document.
const maxResponse = max(MaxManifest, MaxSignature)

// guard is the HTTP transport under the registry client: it bounds every
// response body, and records the subjects that the registry acknowledged
// with an OCI-Subject header when a manifest was pushed (distribution spec
// 1.1: a registry with the referrers API indexes the manifest itself).
type guard struct {
	next http.RoundTripper

	mu       sync.Mutex
	subjects map[string]bool
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := g.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if s := resp.Header.Get("OCI-Subject"); s != "" && req.Method == http.MethodPut {
		g.mu.Lock()
		g.subjects[s] = true
		g.mu.Unlock()
	}
	if resp.Body != nil {
		resp.Body = &limitedBody{rc: resp.Body, left: maxResponse, from: req.URL.Redacted()}
	}
	return resp, nil
}

// acknowledged reports whether the registry answered a manifest push with
// subject as its OCI-Subject.
func (g *guard) acknowledged(subject string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.subjects[subject]
}

// limitedBody fails a read past its limit.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
	from string
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells an exact fit from a longer body.
		var one [1]byte
		n, err := io.ReadFull(b.rc, one[:])
		if n > 0 {
			return 0, fmt.Errorf("response from %s exceeds %d bytes", b.from, maxResponse)
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
