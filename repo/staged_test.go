package repo_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rampart-tuf/rampart/api"
	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/apiclient"
	"github.com/rampart-tuf/rampart/server/servertest"
)

var _ repo.StagedServer = (*apiclient.Client)(nil)

// partsProxy stands between a publisher and the server. It records the
// roles of every part of a staged update, and drops the connection of the
// parts whose numbers (from 1) are in cut (before the server sees the
// whole body) or in lost (after the server took the part, before the
// answer).
type partsProxy struct {
	t         *testing.T
	next      *httputil.ReverseProxy
	target    string
	cut, lost []int

	// jsonOnly hides from the publisher that the server takes parts as
	// frames, as a server of an earlier version would.
	jsonOnly bool

	mu        sync.Mutex
	parts     [][]string // roles of each part request, in order
	types     []string   // Content-Type of each part request
	statuses  int        // GET of a staged update
	oneBodies int        // POST .../metadata, a publish in one request
}

func newPartsProxy(t *testing.T, target string) *partsProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &partsProxy{t: t, next: httputil.NewSingleHostReverseProxy(u), target: target}
	p.next.ModifyResponse = func(resp *http.Response) error {
		if !p.jsonOnly || !strings.Contains(resp.Request.URL.Path, "/metadata/staged") || resp.StatusCode/100 != 2 || resp.ContentLength == 0 {
			return nil
		}
		var st map[string]json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			return err
		}
		delete(st, "part_types")
		b, _ := json.Marshal(st)
		resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		resp.Header.Set("Content-Length", fmt.Sprint(len(b)))
		return nil
	}
	return p
}

func (p *partsProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/metadata/staged/"):
		p.mu.Lock()
		p.statuses++
		p.mu.Unlock()
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/metadata"):
		p.mu.Lock()
		p.oneBodies++
		p.mu.Unlock()
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/parts"):
		p.part(w, r)
		return
	}
	p.next.ServeHTTP(w, r)
}

func (p *partsProxy) part(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	n := len(p.parts) + 1
	p.parts = append(p.parts, nil)
	p.types = append(p.types, r.Header.Get("Content-Type"))
	p.mu.Unlock()
	if slices.Contains(p.cut, n) {
		io.ReadFull(r.Body, make([]byte, r.ContentLength/2))
		p.drop(w)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		p.t.Errorf("proxy: reading part %d: %v", n, err)
		return
	}
	var roles []string
	if r.Header.Get("Content-Type") == api.StagedPartType {
		api.ParseStagedPart(body, func(name, _ string, _ []byte) error {
			if !strings.HasPrefix(name, "root/") {
				roles = append(roles, name)
			}
			return nil
		})
	} else {
		var env struct {
			Roles map[string]json.RawMessage `json:"roles"`
		}
		json.Unmarshal(body, &env)
		for role := range env.Roles {
			roles = append(roles, role)
		}
	}
	p.mu.Lock()
	p.parts[n-1] = append(p.parts[n-1], roles...)
	slices.Sort(p.parts[n-1])
	p.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !slices.Contains(p.lost, n) {
		p.next.ServeHTTP(w, r)
		return
	}
	req, _ := http.NewRequest(r.Method, p.target+r.URL.Path, bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		p.t.Errorf("proxy: forwarding part %d: %v %v", n, resp, err)
		return
	}
	resp.Body.Close()
	p.drop(w)
}

// drop closes the client's connection without an answer.
func (p *partsProxy) drop(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		p.t.Errorf("proxy: %v", err)
		return
	}
	conn.Close()
}

// stagedRepo makes a repository of 16 hashed bins and n targets on a
// server whose body limit is 8 KiB, reached through proxy.
func stagedRepo(t *testing.T, n int) (*repo.Repo, *apiclient.Client, *partsProxy) {
	t.Helper()
	srv := servertest.Start(t, func(c *server.Config) { c.MaxMetadataBytes = 8 << 10 })
	proxy := newPartsProxy(t, srv.URL)
	hs := httptest.NewServer(proxy)
	t.Cleanup(hs.Close)
	c, err := apiclient.New(hs.URL, srv.Token(t, "push", "example.com/acme"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := initRepo(t, repo.InitOptions{Server: c, GUN: testGUN, Bins: 4})
	src := t.TempDir()
	for i := range n {
		name := fmt.Sprintf("pkgs/file-%03d", i)
		if _, err := r.AddFiles(ctx, writeFile(t, filepath.Join(src, fmt.Sprint(i)), "content "+name), name, repo.AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return r, c, proxy
}

// TestServerPublishStaged: an update larger than the server's body limit
// goes up in parts as a staged update and is published at once; a small
// update after it goes in one request.
func TestServerPublishStaged(t *testing.T) {
	r, c, proxy := stagedRepo(t, 150)
	res := publishServer(t, r, c)
	if len(res.Roles) != 17 || res.TargetsUploaded != 150 {
		t.Errorf("first publish: %d roles and %d targets, want 17 (targets and 16 bins) and 150", len(res.Roles), res.TargetsUploaded)
	}
	if len(proxy.parts) < 3 || proxy.oneBodies > 1 {
		t.Errorf("the first publish went in %d parts and %d whole requests, want several parts and at most one refused whole request", len(proxy.parts), proxy.oneBodies)
	}
	var sent []string
	for _, p := range proxy.parts {
		sent = append(sent, p...)
	}
	slices.Sort(sent)
	if !slices.Equal(sent, res.Roles) {
		t.Errorf("the parts carried %v, want each role once: %v", sent, res.Roles)
	}
	rc := newRampartClient(t, r, c)
	mustGet(t, rc, "pkgs/file-042", "content pkgs/file-042")

	parts := len(proxy.parts)
	if _, err := r.AddFiles(ctx, writeFile(t, filepath.Join(t.TempDir(), "new"), "new"), "pkgs/new", repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	res = publishServer(t, r, c)
	if len(res.Roles) != 1 || len(proxy.parts) != parts {
		t.Errorf("a small update: %+v, %d more parts; want one bin in one request", res, len(proxy.parts)-parts)
	}
	mustGet(t, rc, "pkgs/new", "new")
}

// TestServerPublishStagedJSON: a server that does not list frames among
// the part types it takes (one of an earlier version) gets the parts as
// JSON, and the publish completes; one that lists them gets frames.
func TestServerPublishStagedJSON(t *testing.T) {
	for _, jsonOnly := range []bool{true, false} {
		r, c, proxy := stagedRepo(t, 60)
		proxy.jsonOnly = jsonOnly
		res := publishServer(t, r, c)
		want := api.StagedPartType
		if jsonOnly {
			want = "application/json"
		}
		if len(res.Roles) != 17 || len(proxy.types) < 2 {
			t.Fatalf("publish: %+v in %d parts", res, len(proxy.types))
		}
		for i, ct := range proxy.types {
			if ct != want {
				t.Errorf("json only %v: part %d sent as %s, want %s", jsonOnly, i+1, ct, want)
			}
		}
		mustGet(t, newRampartClient(t, r, c), "pkgs/file-042", "content pkgs/file-042")
	}
}

// TestServerPublishStagedResume drops the connection in the middle of the
// second part (the server never has it whole) and after the server took
// the third (the answer is lost): the publisher asks the server what it
// has, sends the second part again and not the third, and the publish
// completes.
func TestServerPublishStagedResume(t *testing.T) {
	r, c, proxy := stagedRepo(t, 150)
	proxy.cut, proxy.lost = []int{2}, []int{4}
	res := publishServer(t, r, c)
	if len(res.Roles) != 17 {
		t.Fatalf("publish: %+v", res)
	}
	if proxy.statuses != 2 {
		t.Errorf("the publisher asked the server %d times what it had, want once a drop (2)", proxy.statuses)
	}
	// parts[1] was cut and is sent again later; parts[3] was taken, its
	// answer lost, and not sent again (each role once, below).
	if len(proxy.parts) < 5 || proxy.parts[1] != nil || len(proxy.parts[3]) == 0 {
		t.Fatalf("parts sent: %v", proxy.parts)
	}
	var sent []string
	for _, p := range proxy.parts {
		sent = append(sent, p...)
	}
	slices.Sort(sent)
	if !slices.Equal(sent, res.Roles) {
		t.Errorf("the parts carried %v, want each role once: %v (the lost answer's part sent again?)", sent, res.Roles)
	}
	mustGet(t, newRampartClient(t, r, c), "pkgs/file-099", "content pkgs/file-099")
}
