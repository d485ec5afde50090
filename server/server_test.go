package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/servertest"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestRoundTrip publishes a repository, then a delegation and a root
// rotation, and reads every state back with go-tuf's client.
func TestRoundTrip(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts := newServer(t, openStore(t, kind))
		m := newMaintainer(t, ts, "example.com/acme/app")
		m.Upload("app/v1.txt", "version one")
		root1 := servertest.Sign(t, m.RootDoc(1), m.Root)
		res := m.MustPublish(map[string][]byte{
			"root":    root1,
			"targets": servertest.Sign(t, m.TargetsDoc(1, map[string]string{"app/v1.txt": "version one"}), m.Targets),
		})
		if res.TimestampVersion != 1 || res.SnapshotVersion != 1 || res.RootVersion != 1 {
			t.Errorf("first publish = %+v", res)
		}
		c := newClient(t, ts.URL, m.GUN, root1)
		if got, err := c.fetch("app/v1.txt"); err != nil || got != "version one" {
			t.Fatalf("client fetch = %q, %v", got, err)
		}

		// Targets v2 delegates delegated/* to role1.
		m.Upload("delegated/x.txt", "from role1")
		tg := m.TargetsDoc(2, map[string]string{"app/v1.txt": "version one"})
		m.DelegateTo(tg, "role1")
		m.MustPublish(map[string][]byte{
			"targets": servertest.Sign(t, tg, m.Targets),
			"role1":   servertest.Sign(t, m.TargetsDoc(1, map[string]string{"delegated/x.txt": "from role1"}), m.Delegate),
		})
		if got, err := c.fetch("delegated/x.txt"); err != nil || got != "from role1" {
			t.Fatalf("client fetch of a delegated target = %q, %v", got, err)
		}

		// Root rotation: v2 with a new root key, signed by old and new.
		oldRoot := m.Root
		m.Root = repotest.NewSigner(t)
		res = m.MustPublish(map[string][]byte{"root": servertest.Sign(t, m.RootDoc(2), oldRoot, m.Root)})
		if res.RootVersion != 2 {
			t.Errorf("root version after rotation = %d", res.RootVersion)
		}
		up, err := c.refresh()
		if err != nil {
			t.Fatalf("refresh after root rotation: %v", err)
		}
		if v := up.GetTrustedMetadataSet().Root.Signed.Version; v != 2 {
			t.Errorf("client's root version = %d, want 2", v)
		}
		// A fresh client from root v1 walks to v2.
		if got, err := newClient(t, ts.URL, m.GUN, root1).fetch("delegated/x.txt"); err != nil || got != "from role1" {
			t.Fatalf("fresh client = %q, %v", got, err)
		}
		// Caching headers.
		code, b, h := request(t, "GET", ts.URL+"/tuf/"+m.GUN+"/metadata/timestamp.json", "", nil)
		if code != 200 || h.Get("ETag") == "" || !strings.Contains(h.Get("Cache-Control"), "max-age=") {
			t.Errorf("timestamp.json: %d, headers %v", code, h)
		}
		if h.Get("ETag") != `"`+sha256hex(string(b))+`"` {
			t.Errorf("ETag %s is not the body's sha256", h.Get("ETag"))
		}
		if code, _, _ := request(t, "GET", ts.URL+"/tuf/"+m.GUN+"/metadata/timestamp.json", "", nil, "If-None-Match", h.Get("ETag")); code != http.StatusNotModified {
			t.Errorf("If-None-Match: %d, want 304", code)
		}
		if code, _, _ := request(t, "GET", ts.URL+"/healthz", "", nil); code != 200 {
			t.Errorf("/healthz: %d", code)
		}
		if code, b, _ := request(t, "GET", ts.URL+"/metrics", "", nil); code != 200 || !bytes.Contains(b, []byte("rampart_http_requests_total")) {
			t.Errorf("/metrics: %d", code)
		}
	})
}

// TestMaintainerSnapshot covers a repository whose maintainer keeps the
// snapshot key.
func TestMaintainerSnapshot(t *testing.T) {
	ts := newServer(t, openStore(t, "bolt"))
	m := newMaintainer(t, ts, "example.com/offline")
	m.Snapshot = repotest.NewSigner(t)
	root := servertest.Sign(t, m.RootDoc(1), m.Root)
	targets := servertest.Sign(t, m.TargetsDoc(1, nil), m.Targets)
	code, e, _ := m.Publish(map[string][]byte{"root": root, "targets": targets})
	if code != 400 || e.Role != "snapshot" || e.Check != "missing" {
		t.Fatalf("publish without snapshot: %d %+v", code, e)
	}
	sn := metadata.NewSnapshot(m.Expires)
	sn.Meta["targets.json"] = metadata.MetaFile{Version: 2}
	code, e, _ = m.Publish(map[string][]byte{"root": root, "targets": targets, "snapshot": servertest.Sign(t, sn, m.Snapshot)})
	if code != 400 || e.Role != "snapshot" || e.Check != "version" {
		t.Fatalf("publish with a wrong snapshot: %d %+v", code, e)
	}
	sn.Meta["targets.json"] = metadata.MetaFile{Version: 1, Length: int64(len(targets)), Hashes: metadata.HashesOf(targets, false)}
	m.MustPublish(map[string][]byte{"root": root, "targets": targets, "snapshot": servertest.Sign(t, sn, m.Snapshot)})
	if _, err := newClient(t, ts.URL, m.GUN, root).refresh(); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentPublishers runs 32 publishers against one GUN, each
// adding its own target on top of the current state and retrying on 409,
// while clients keep refreshing.
func TestConcurrentPublishers(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts := newServer(t, openStore(t, kind))
		runConcurrentPublishers(t, []string{ts.URL}, ts.Admin, newMaintainer(t, ts, "example.com/busy"), 32)
	})
}

// runConcurrentPublishers publishes from n goroutines, spreading the
// requests over urls (replicas), and checks the result.
func runConcurrentPublishers(t *testing.T, urls []string, token string, m *maintainer, n int) {
	root := servertest.Sign(t, m.RootDoc(1), m.Root)
	m.MustPublish(map[string][]byte{"root": root, "targets": servertest.Sign(t, m.TargetsDoc(1, nil), m.Targets)})

	stop := make(chan struct{})
	var readers sync.WaitGroup
	readErrs := make(chan error, 100)
	for i := range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := newClient(t, urls[i%len(urls)], m.GUN, root).refresh(); err != nil {
					readErrs <- err
					return
				}
			}
		}()
	}

	var wg sync.WaitGroup
	errs := make(chan error, n)
	var conflicts sync.Map
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := urls[w%len(urls)]
			for attempt := 0; ; attempt++ {
				if attempt > 500 {
					errs <- fmt.Errorf("publisher %d: too many conflicts", w)
					return
				}
				cur, tag, err := currentTargets(url, m.GUN)
				if err != nil {
					errs <- err
					return
				}
				tg := m.TargetsDoc(cur.Version+1, nil)
				tg.Targets = cur.Targets
				tg.Targets[fmt.Sprintf("w%d.txt", w)] = metadata.NewTargetFile([]byte(fmt.Sprint(w)), false)
				code, e, _ := publishTo(t, url, token, m.GUN, body(map[string][]byte{"targets": servertest.Sign(t, tg, m.Targets)}), "If-Match", tag)
				if code == http.StatusConflict {
					conflicts.Store(w, true)
					continue
				}
				if code != 200 {
					errs <- fmt.Errorf("publisher %d: %d %+v", w, code, e)
				}
				return
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	close(readErrs)
	for err := range readErrs {
		t.Errorf("a client failed during the publishes: %v", err)
	}
	// Every update is there. A replica learns of a publish made through
	// another one by a notification, so give it a moment to catch up.
	var cur *metadata.Targets
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var err error
		if cur, _, err = currentTargets(urls[0], m.GUN); err != nil {
			t.Fatal(err)
		}
		if cur.Version >= int64(n+1) || time.Now().After(deadline) {
			break
		}
	}
	if cur.Version != int64(n+1) || len(cur.Targets) != n {
		t.Errorf("final targets: version %d with %d targets, want %d with %d", cur.Version, len(cur.Targets), n+1, n)
	}
	// Timestamp versions strictly increase through the changefeed.
	code, b, _ := request(t, "GET", urls[0]+"/api/v1/repositories/"+m.GUN+"/changefeed?limit=1000", token, nil)
	var feed struct {
		Changes []struct {
			ID      int64 `json:"id"`
			Version int64 `json:"version"`
		} `json:"changes"`
	}
	if code != 200 || json.Unmarshal(b, &feed) != nil {
		t.Fatalf("changefeed: %d %s", code, b)
	}
	if len(feed.Changes) != n+1 {
		t.Errorf("%d changes, want %d", len(feed.Changes), n+1)
	}
	for i, c := range feed.Changes {
		if c.Version != int64(i+1) {
			t.Errorf("change %d has timestamp version %d, want %d", i, c.Version, i+1)
			break
		}
	}
	if got, err := newClient(t, urls[len(urls)-1], m.GUN, root).fetchInfo("w0.txt"); err != nil || !got {
		t.Errorf("final state not verifiable by a client: %v", err)
	}
}

func (c *client) fetchInfo(path string) (bool, error) {
	up, err := c.refresh()
	if err != nil {
		return false, err
	}
	_, err = up.GetTargetInfo(path)
	return err == nil, err
}

// currentTargets reads the current top-level targets through the public
// metadata, with the ETag of the timestamp it came from.
func currentTargets(base, gun string) (*metadata.Targets, string, error) {
	get := func(file string) ([]byte, string, error) {
		resp, err := http.Get(base + "/tuf/" + gun + "/metadata/" + file)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		if resp.StatusCode != 200 {
			return nil, "", fmt.Errorf("GET %s: %d %s", file, resp.StatusCode, buf.Bytes())
		}
		return buf.Bytes(), resp.Header.Get("ETag"), nil
	}
	tsb, tag, err := get("timestamp.json")
	if err != nil {
		return nil, "", err
	}
	tsm, err := metadata.ParseTimestamp(tsb)
	if err != nil {
		return nil, "", err
	}
	snb, _, err := get(fmt.Sprintf("%d.snapshot.json", tsm.Signed.SnapshotMeta().Version))
	if err != nil {
		return nil, "", err
	}
	snm, err := metadata.ParseSnapshot(snb)
	if err != nil {
		return nil, "", err
	}
	tgb, _, err := get(fmt.Sprintf("%d.targets.json", snm.Signed.Meta["targets.json"].Version))
	if err != nil {
		return nil, "", err
	}
	tgm, err := metadata.ParseTargets(tgb)
	if err != nil {
		return nil, "", err
	}
	return tgm.Signed, tag, nil
}

// TestResign lets the timestamp and snapshot near their expiry and checks
// that the server signs them again with no client traffic.
func TestResign(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ts := newServer(t, openStore(t, "bolt"), func(c *server.Config) {
		c.Now = clock
		c.TimestampExpiry = time.Hour
		c.SnapshotExpiry = 3 * time.Hour
		c.ResignInterval = 20 * time.Millisecond
	})
	m := newMaintainer(t, ts, "example.com/resign")
	root := servertest.Sign(t, m.RootDoc(1), m.Root)
	m.MustPublish(map[string][]byte{"root": root, "targets": servertest.Sign(t, m.TargetsDoc(1, nil), m.Targets)})
	mu.Lock()
	now = now.Add(2*time.Hour + 5*time.Minute) // timestamp expired, snapshot within its last third
	mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := ts.Store.Repo(context.Background(), m.GUN)
		if err != nil {
			t.Fatal(err)
		}
		if r.TimestampVersion >= 2 {
			if r.SnapshotVersion != 2 || !r.TimestampExpires.After(clock()) || !r.SnapshotExpires.After(clock().Add(time.Hour)) {
				t.Errorf("after re-signing: %+v", r)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the timestamp was not re-signed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := newClient(t, ts.URL, m.GUN, root)
	if _, err := c.refresh(); err != nil {
		t.Fatalf("client after re-signing: %v", err)
	}
}

// TestChangefeed checks paging, per-GUN feeds and deletions.
func TestChangefeed(t *testing.T) {
	ts := newServer(t, openStore(t, "bolt"))
	a, b := newMaintainer(t, ts, "example.com/a"), newMaintainer(t, ts, "example.com/b")
	for _, m := range []*maintainer{a, b} {
		m.MustPublish(map[string][]byte{"root": servertest.Sign(t, m.RootDoc(1), m.Root), "targets": servertest.Sign(t, m.TargetsDoc(1, nil), m.Targets)})
	}
	a.MustPublish(map[string][]byte{"targets": servertest.Sign(t, a.TargetsDoc(2, nil), a.Targets)})
	if code, body, _ := request(t, "DELETE", ts.URL+"/api/v1/repositories/example.com/b", ts.Admin, nil); code != 200 {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, _, _ := request(t, "GET", ts.URL+"/tuf/example.com/b/metadata/timestamp.json", "", nil); code != 404 {
		t.Errorf("timestamp of a deleted repository: %d, want 404", code)
	}
	if code, body, _ := request(t, "DELETE", ts.URL+"/api/v1/repositories/example.com/b", ts.Admin, nil); code != 404 || !strings.Contains(string(body), "no repository example.com/b") {
		t.Errorf("deleting a deleted repository: %d %s", code, body)
	}
	type feed struct {
		Changes []struct {
			ID       int64  `json:"id"`
			GUN      string `json:"gun"`
			Version  int64  `json:"version"`
			Category string `json:"category"`
		} `json:"changes"`
		Next int64 `json:"next"`
	}
	get := func(path string) feed {
		t.Helper()
		code, b, _ := request(t, "GET", ts.URL+path, ts.Admin, nil)
		var f feed
		if code != 200 || json.Unmarshal(b, &f) != nil {
			t.Fatalf("GET %s: %d %s", path, code, b)
		}
		return f
	}
	all := get("/api/v1/changefeed")
	want := []string{"example.com/a update 1", "example.com/b update 1", "example.com/a update 2", "example.com/b deletion 0"}
	if len(all.Changes) != len(want) {
		t.Fatalf("changefeed = %+v", all)
	}
	for i, c := range all.Changes {
		if got := fmt.Sprintf("%s %s %d", c.GUN, c.Category, c.Version); got != want[i] {
			t.Errorf("change %d = %s, want %s", i, got, want[i])
		}
	}
	page := get(fmt.Sprintf("/api/v1/changefeed?since=%d&limit=2", all.Changes[0].ID))
	if len(page.Changes) != 2 || page.Changes[0].ID != all.Changes[1].ID || page.Next != all.Changes[2].ID {
		t.Errorf("page = %+v", page)
	}
	if f := get("/api/v1/repositories/example.com/a/changefeed"); len(f.Changes) != 2 {
		t.Errorf("feed of a = %+v", f)
	}
	for _, q := range []string{"since=-1", "since=x", "limit=0", "limit=100000"} {
		if code, _, _ := request(t, "GET", ts.URL+"/api/v1/changefeed?"+q, ts.Admin, nil); code != 400 {
			t.Errorf("changefeed?%s: %d, want 400", q, code)
		}
	}
}

// TestAuth checks 401 and 403 answers.
func TestAuth(t *testing.T) {
	ts := newServer(t, openStore(t, "bolt"))
	mk := func(prefix, scope string) string {
		code, b, _ := request(t, "POST", ts.URL+"/api/v1/tokens", ts.Admin,
			strings.NewReader(fmt.Sprintf(`{"gun_prefix":%q,"scope":%q}`, prefix, scope)), "Content-Type", "application/json")
		var out struct{ Token string }
		if code != 201 || json.Unmarshal(b, &out) != nil {
			t.Fatalf("create token: %d %s", code, b)
		}
		return out.Token
	}
	pull := mk("example.com/acme", "pull")
	push := mk("example.com/acme", "push")
	other := mk("example.com/other", "admin")
	acmeAdmin := mk("example.com/acme", "admin")
	slashAdmin := mk("example.com/slash/", "admin")

	m := newMaintainer(t, ts, "example.com/acme/app")
	good := body(map[string][]byte{"root": servertest.Sign(t, m.RootDoc(1), m.Root), "targets": servertest.Sign(t, m.TargetsDoc(1, nil), m.Targets)})
	for _, tc := range []struct {
		name, method, path, token string
		body                      []byte
		want                      int
	}{
		{"publish without token", "POST", "/api/v1/repositories/example.com/acme/app/metadata", "", good, 401},
		{"publish with a garbage token", "POST", "/api/v1/repositories/example.com/acme/app/metadata", "nonsense", good, 401},
		{"publish with an unknown token", "POST", "/api/v1/repositories/example.com/acme/app/metadata", "rpt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", good, 401},
		{"publish with pull scope", "POST", "/api/v1/repositories/example.com/acme/app/metadata", pull, good, 403},
		{"publish to another prefix", "POST", "/api/v1/repositories/example.com/acme/app/metadata", other, good, 403},
		{"get key with pull scope", "GET", "/api/v1/repositories/example.com/acme/app/keys/timestamp", pull, nil, 403},
		{"rotate with push scope", "POST", "/api/v1/repositories/example.com/acme/app/keys/timestamp/rotate", push, nil, 403},
		{"delete with push scope", "DELETE", "/api/v1/repositories/example.com/acme/app", push, nil, 403},
		{"global changefeed with a prefixed token", "GET", "/api/v1/changefeed", acmeAdmin, nil, 403},
		{"token outside the admin's prefix", "POST", "/api/v1/tokens", acmeAdmin, []byte(`{"gun_prefix":"example.com/x","scope":"pull"}`), 403},
		{"token for all GUNs from a prefixed admin", "POST", "/api/v1/tokens", acmeAdmin, []byte(`{"gun_prefix":"","scope":"pull"}`), 403},
		{"token without auth", "POST", "/api/v1/tokens", "", []byte(`{"gun_prefix":"","scope":"pull"}`), 401},
		{"publish with push scope", "POST", "/api/v1/repositories/example.com/acme/app/metadata", push, good, 200},
		{"changefeed with pull scope", "GET", "/api/v1/repositories/example.com/acme/app/changefeed", pull, nil, 200},
		{"token inside the admin's prefix", "POST", "/api/v1/tokens", acmeAdmin, []byte(`{"gun_prefix":"example.com/acme/app","scope":"pull"}`), 201},
		{"public read", "GET", "/tuf/example.com/acme/app/metadata/timestamp.json", "", nil, 200},
		{"token with a bad body and an unknown token", "POST", "/api/v1/tokens", "rpt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", []byte(`{"scope":`), 401},
		{"token for its own prefix from an admin with a trailing slash", "POST", "/api/v1/tokens", slashAdmin, []byte(`{"gun_prefix":"example.com/slash/","scope":"pull"}`), 201},
		{"token outside the prefix of an admin with a trailing slash", "POST", "/api/v1/tokens", slashAdmin, []byte(`{"gun_prefix":"example.com/slashed","scope":"pull"}`), 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rd *bytes.Reader
			if tc.body != nil {
				rd = bytes.NewReader(tc.body)
			} else {
				rd = bytes.NewReader(nil)
			}
			code, b, h := request(t, tc.method, ts.URL+tc.path, tc.token, rd, "Content-Type", "application/json")
			if code != tc.want {
				t.Fatalf("%d %s, want %d", code, b, tc.want)
			}
			if code == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a WWW-Authenticate challenge")
			}
			if code >= 400 {
				var e apiError
				if err := json.Unmarshal(b, &e); err != nil || e.Error == "" || e.Check == "" {
					t.Errorf("error body %s", b)
				}
			}
		})
	}
	// The scheme's name is case-insensitive; other schemes are no token.
	for header, want := range map[string]int{"bearer " + push: 200, "BEARER " + push: 200, "Basic " + push: 401, push: 401} {
		code, b, _ := request(t, "GET", ts.URL+"/api/v1/repositories/example.com/acme/app/keys/timestamp", "", nil, "Authorization", header)
		if code != want {
			t.Errorf("Authorization: %.12s...: %d %s, want %d", header, code, b, want)
		}
	}
}

// TestBadInput sends malformed, oversized, wrongly typed and
// path-traversing requests: each gets a clear 4xx and nothing changes, on
// either store (with target content on disk for the embedded one and in
// the database for PostgreSQL).
func TestBadInput(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts := newServer(t, openStore(t, kind), func(c *server.Config) { c.MaxMetadataBytes = 64 << 10; c.MaxTargetBytes = 1 << 10 })
		m := newMaintainer(t, ts, "example.com/acme/app")
		root := servertest.Sign(t, m.RootDoc(1), m.Root)
		targets1 := servertest.Sign(t, m.TargetsDoc(1, nil), m.Targets)
		res := m.MustPublish(map[string][]byte{"root": root, "targets": targets1})

		expired := m.TargetsDoc(2, nil)
		expired.Expires = time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		wrongKey := servertest.Sign(t, m.TargetsDoc(2, nil), repotest.NewSigner(t))
		rootBad := servertest.Sign(t, m.RootDoc(2), repotest.NewSigner(t)) // not signed by the current root key
		rootSkip := servertest.Sign(t, m.RootDoc(3), m.Root)
		notDelegated := servertest.Sign(t, m.TargetsDoc(1, nil), m.Delegate)
		tgPaths := m.TargetsDoc(2, nil)
		m.DelegateTo(tgPaths, "role1")
		outside := servertest.Sign(t, m.TargetsDoc(1, map[string]string{"elsewhere/x": "x"}), m.Delegate)
		noOnline := m.RootDoc(2)
		noOnline.Roles["timestamp"].KeyIDs = nil
		noOnline.Keys = map[string]*metadata.Key{}
		must(t, noOnline.AddKey("root", metadata.NewKey(m.Root.PublicKey())))
		must(t, noOnline.AddKey("targets", metadata.NewKey(m.Targets.PublicKey())))
		must(t, noOnline.AddKey("snapshot", m.Online["snapshot"]))
		must(t, noOnline.AddKey("timestamp", metadata.NewKey(repotest.NewSigner(t).PublicKey())))

		pub := "/api/v1/repositories/example.com/acme/app/metadata"
		for _, tc := range []struct {
			name, method, path string
			body               string
			header             []string
			want               int
			role, check        string
		}{
			{"not JSON", "POST", pub, "{roles", nil, 400, "", "json"},
			{"wrong type for roles", "POST", pub, `{"roles": [1, 2]}`, nil, 400, "", "json"},
			{"unknown member", "POST", pub, `{"roles": {}, "extra": 1}`, nil, 400, "", "json"},
			{"no roles", "POST", pub, `{}`, nil, 400, "", "json"},
			{"empty roles", "POST", pub, `{"roles": {}}`, nil, 400, "", "missing"},
			{"trailing data", "POST", pub, `{"roles": {}} {}`, nil, 400, "", "json"},
			{"document not an object", "POST", pub, `{"roles": {"targets": 5}}`, nil, 400, "targets", "json"},
			{"targets sent as root", "POST", pub, string(body(map[string][]byte{"root": targets1})), nil, 400, "root", "json"},
			{"timestamp sent", "POST", pub, string(body(map[string][]byte{"timestamp": targets1})), nil, 400, "timestamp", "role"},
			{"bad role name", "POST", pub, string(body(map[string][]byte{"../x": targets1})), nil, 400, "../x", "role"},
			{"oversized body", "POST", pub, `{"roles": {"x": "` + strings.Repeat("a", 70<<10) + `"}}`, nil, 413, "", "size"},
			{"wrong content type", "POST", pub, `{"roles": {}}`, []string{"Content-Type", "text/plain"}, 415, "", "request"},
			{"same targets version", "POST", pub, string(body(map[string][]byte{"targets": targets1})), nil, 400, "targets", "version"},
			{"expired targets", "POST", pub, string(body(map[string][]byte{"targets": servertest.Sign(t, expired, m.Targets)})), nil, 400, "targets", "expiry"},
			{"targets signed by the wrong key", "POST", pub, string(body(map[string][]byte{"targets": wrongKey})), nil, 400, "targets", "signature"},
			{"root not signed by the current root", "POST", pub, string(body(map[string][]byte{"root": rootBad})), nil, 400, "root", "signature"},
			{"root version skipped", "POST", pub, string(body(map[string][]byte{"root": rootSkip})), nil, 400, "root", "version"},
			{"root without the server's timestamp key", "POST", pub, string(body(map[string][]byte{"root": servertest.Sign(t, noOnline, m.Root)})), nil, 400, "timestamp", "online-key"},
			{"role nobody delegates", "POST", pub, string(body(map[string][]byte{"role9": notDelegated})), nil, 400, "role9", "delegation"},
			{"target outside delegated paths", "POST", pub, string(body(map[string][]byte{"targets": servertest.Sign(t, tgPaths, m.Targets), "role1": outside})), nil, 400, "role1", "paths"},
			{"stale If-Match", "POST", pub, string(body(map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(2, nil), m.Targets)})), []string{"If-Match", `"abc"`}, 409, "", "conflict"},
			{"traversal in GUN", "POST", "/api/v1/repositories/example.com/../etc/metadata", `{}`, nil, 400, "", "request"},
			{"encoded traversal", "GET", "/tuf/example.com/%2e%2e/acme/metadata/timestamp.json", "", nil, 400, "", "request"},
			{"encoded slash", "GET", "/tuf/example.com%2Facme/app/metadata/timestamp.json", "", nil, 400, "", "request"},
			{"empty segment", "GET", "/tuf/example.com//app/metadata/timestamp.json", "", nil, 400, "", "request"},
			{"bad GUN characters", "GET", "/tuf/example.com/ac%20me/metadata/timestamp.json", "", nil, 400, "", "gun"},
			{"GUN too long", "GET", "/tuf/" + strings.Repeat("a/", 200) + "metadata/timestamp.json", "", nil, 400, "", "gun"},
			{"no GUN", "GET", "/tuf/metadata/timestamp.json", "", nil, 400, "", "gun"},
			{"bad metadata name", "GET", "/tuf/example.com/acme/app/metadata/../../x", "", nil, 400, "", "request"},
			{"unversioned snapshot", "GET", "/tuf/example.com/acme/app/metadata/snapshot.json", "", nil, 404, "", "not-found"},
			{"version zero", "GET", "/tuf/example.com/acme/app/metadata/0.root.json", "", nil, 404, "", "not-found"},
			{"missing version", "GET", "/tuf/example.com/acme/app/metadata/9.root.json", "", nil, 404, "", "not-found"},
			{"unknown repository", "GET", "/tuf/example.com/none/metadata/timestamp.json", "", nil, 404, "", "not-found"},
			{"target by plain name", "GET", "/tuf/example.com/acme/app/targets/a.txt", "", nil, 404, "", "not-found"},
			{"upload without digest", "PUT", "/api/v1/repositories/example.com/acme/app/targets/a.txt", "hello", nil, 400, "", "hashes"},
			{"upload with the wrong digest", "PUT", "/api/v1/repositories/example.com/acme/app/targets/a.txt", "hello", []string{"X-Rampart-Sha256", sha256hex("other")}, 400, "", "hashes"},
			{"upload with a bad digest", "PUT", "/api/v1/repositories/example.com/acme/app/targets/a.txt", "hello", []string{"X-Rampart-Sha256", "zz"}, 400, "", "hashes"},
			{"upload too large", "PUT", "/api/v1/repositories/example.com/acme/app/targets/a.txt", strings.Repeat("x", 2<<10), []string{"X-Rampart-Sha256", sha256hex(strings.Repeat("x", 2<<10))}, 413, "", "size"},
			{"upload traversal", "PUT", "/api/v1/repositories/example.com/acme/app/targets/../../a.txt", "x", []string{"X-Rampart-Sha256", sha256hex("x")}, 400, "", "request"},
			{"unknown key role", "GET", "/api/v1/repositories/example.com/acme/app/keys/targets", "", nil, 404, "", "not-found"},
			{"unknown route", "GET", "/nothing", "", nil, 404, "", "not-found"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				header := append([]string{"Content-Type", "application/json"}, tc.header...)
				if tc.method == "PUT" {
					header = tc.header
				}
				code, b, _ := request(t, tc.method, ts.URL+tc.path, ts.Admin, strings.NewReader(tc.body), header...)
				var e apiError
				if err := json.Unmarshal(b, &e); err != nil {
					t.Fatalf("%d, body %q is not a JSON error", code, b)
				}
				if code != tc.want || e.Check != tc.check || e.Role != tc.role {
					t.Fatalf("got %d %+v, want %d role %q check %q", code, e, tc.want, tc.role, tc.check)
				}
			})
		}
		// Nothing changed.
		r, err := ts.Store.Repo(context.Background(), m.GUN)
		if err != nil || r.TimestampVersion != res.TimestampVersion || r.RootVersion != 1 {
			t.Errorf("state after bad requests: %+v, %v", r, err)
		}
		// An upload of unknown length over the limit: only the blob
		// store sees that it is too large.
		big := strings.Repeat("y", 2<<10)
		code, b, _ := request(t, "PUT", ts.URL+"/api/v1/repositories/"+m.GUN+"/targets/big.txt", ts.Admin,
			io.MultiReader(strings.NewReader(big)), "X-Rampart-Sha256", sha256hex(big))
		if code != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked upload over the limit: %d %s", code, b)
		}
		for _, content := range []string{"hello", "x", strings.Repeat("x", 2<<10), big} {
			if _, err := ts.Store.Target(context.Background(), m.GUN, sha256hex(content)); err == nil {
				t.Errorf("a rejected upload of %d bytes was recorded", len(content))
			}
			if f, err := ts.Blobs.Open(context.Background(), sha256hex(content)); !errors.Is(err, fs.ErrNotExist) {
				if err == nil {
					f.Close()
				}
				t.Errorf("the content of a rejected upload of %d bytes: %v, want fs.ErrNotExist", len(content), err)
			}
		}
		if _, err := newClient(t, ts.URL, m.GUN, root).refresh(); err != nil {
			t.Error(err)
		}
	})
}

// TestKeyRotation rotates the online timestamp key and publishes a root
// that trusts only the new one.
func TestKeyRotation(t *testing.T) {
	ts := newServer(t, openStore(t, "bolt"))
	m := newMaintainer(t, ts, "example.com/rot")
	root1 := servertest.Sign(t, m.RootDoc(1), m.Root)
	m.MustPublish(map[string][]byte{"root": root1, "targets": servertest.Sign(t, m.TargetsDoc(1, nil), m.Targets)})
	old := m.Online["timestamp"]
	code, b, _ := request(t, "POST", ts.URL+"/api/v1/repositories/"+m.GUN+"/keys/timestamp/rotate", ts.Admin, nil)
	if code != 201 {
		t.Fatalf("rotate: %d %s", code, b)
	}
	m.Online["timestamp"] = m.OnlineKey("timestamp")
	if m.Online["timestamp"].ID() == old.ID() {
		t.Fatal("rotation kept the old key")
	}
	// Until the new root is published, the old key still signs.
	m.MustPublish(map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(2, nil), m.Targets)})
	m.MustPublish(map[string][]byte{"root": servertest.Sign(t, m.RootDoc(2), m.Root)})
	if _, err := newClient(t, ts.URL, m.GUN, root1).refresh(); err != nil {
		t.Fatalf("client after timestamp key rotation: %v", err)
	}
}
