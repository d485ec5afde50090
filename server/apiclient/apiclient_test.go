package apiclient_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server/apiclient"
	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/servertest"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

func newClient(t *testing.T, base, token string) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(base, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// apiErr returns err as an *apiclient.Error, failing the test if it is not
// one.
func apiErr(t *testing.T, err error) *apiclient.Error {
	t.Helper()
	var e *apiclient.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *apiclient.Error", err, err)
	}
	return e
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{
		"",
		"127.0.0.1:4443",
		"ftp://127.0.0.1/",
		"http://",
		"http:///path",
		"http://127.0.0.1:4443?x=1",
		"http://127.0.0.1:4443/?",
		"http://127.0.0.1:4443/#frag",
		"http://user:pass@127.0.0.1:4443",
		"http://127.0.0.1:4443/a/../b",
		"http://127.0.0.1:4443/a//b",
		"http://127.0.0.1:4443/%zz",
		"mailto:someone@example.com",
	} {
		if c, err := apiclient.New(u, "", nil); err == nil {
			t.Errorf("New(%q) = %v, want an error", u, c.URL())
		}
	}
}

func TestURLs(t *testing.T) {
	for _, tt := range []struct{ in, url string }{
		{"http://127.0.0.1:4443", "http://127.0.0.1:4443"},
		{"http://127.0.0.1:4443/", "http://127.0.0.1:4443"},
		{"HTTPS://tuf.example.com/prefix/", "https://tuf.example.com/prefix"},
	} {
		c := newClient(t, tt.in, "")
		if got := c.URL(); got != tt.url {
			t.Errorf("New(%q).URL() = %q, want %q", tt.in, got, tt.url)
		}
		if got, want := c.RepositoryURL("example.com/a b"), tt.url+"/tuf/example.com/a%20b"; got != want {
			t.Errorf("RepositoryURL = %q, want %q", got, want)
		}
	}
}

func TestOnlineKey(t *testing.T) {
	s := servertest.Start(t)
	c := newClient(t, s.URL, s.Admin)
	ctx := context.Background()
	const gun = "example.com/acme/app"
	if _, err := c.OnlineKey(ctx, gun, "timestamp"); err == nil || apiErr(t, err).Status != 404 {
		t.Fatalf("OnlineKey of a repository not created: %v, want a 404", err)
	}
	for i, want := range []bool{true, false} {
		if created, err := c.CreateRepository(ctx, gun); err != nil || created != want {
			t.Fatalf("CreateRepository, call %d = %v, %v; want %v", i+1, created, err, want)
		}
	}
	for _, role := range []string{"timestamp", "snapshot"} {
		t.Run(role, func(t *testing.T) {
			k1, err := c.OnlineKey(ctx, gun, role)
			if err != nil {
				t.Fatal(err)
			}
			k2, err := c.OnlineKey(ctx, gun, role)
			if err != nil {
				t.Fatal(err)
			}
			if k1.ID() != k2.ID() || k1.PublicKey != k2.PublicKey {
				t.Errorf("two calls gave different keys: %s and %s", k1.ID(), k2.ID())
			}
			// The key ID is the one the server gives.
			req, _ := http.NewRequest("GET", s.URL+"/api/v1/repositories/"+gun+"/keys/"+role, nil)
			req.Header.Set("Authorization", "Bearer "+s.Admin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var raw struct {
				KeyID string `json:"keyid"`
			}
			err = json.NewDecoder(resp.Body).Decode(&raw)
			resp.Body.Close()
			if err != nil || raw.KeyID != k1.ID() {
				t.Errorf("server's key ID %q (%v), client's %q", raw.KeyID, err, k1.ID())
			}

			k3, err := c.RotateOnlineKey(ctx, gun, role)
			if err != nil {
				t.Fatal(err)
			}
			if k3.ID() == k1.ID() {
				t.Errorf("RotateOnlineKey returned the old key %s", k1.ID())
			}
			k4, err := c.OnlineKey(ctx, gun, role)
			if err != nil || k4.ID() != k3.ID() {
				t.Errorf("OnlineKey after rotation = %v, %v; want %s", k4, err, k3.ID())
			}
		})
	}
}

// TestErrors checks the answers of the server that are errors, and the
// requests that the client refuses to send.
func TestErrors(t *testing.T) {
	s := servertest.Start(t)
	var sent atomic.Int64
	counting := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	clientWith := func(token string) *apiclient.Client {
		c, err := apiclient.New(s.URL, token, counting)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	admin, anonymous, pull := clientWith(s.Admin), clientWith(""), clientWith(s.Token(t, "pull", ""))
	push := clientWith(s.Token(t, "push", "example.com/acme"))
	ctx := context.Background()
	const gun = "example.com/acme/app"
	if _, err := admin.CreateRepository(ctx, gun); err != nil {
		t.Fatal(err)
	}
	content := []byte("some content")
	for _, tt := range []struct {
		name   string
		call   func() error
		status int    // 0: a local error; no request is sent
		check  string // the check the server names, if any
	}{
		{"no token", func() error { _, err := anonymous.OnlineKey(ctx, gun, "timestamp"); return err }, 401, "auth"},
		{"pull token", func() error { _, err := pull.OnlineKey(ctx, gun, "timestamp"); return err }, 403, "scope"},
		{"push token outside its prefix", func() error { _, err := push.OnlineKey(ctx, "example.org/x", "timestamp"); return err }, 403, "scope"},
		{"push token rotates", func() error { _, err := push.RotateOnlineKey(ctx, gun, "timestamp"); return err }, 403, "scope"},
		{"push token creates a token", func() error { _, err := push.CreateToken(ctx, "example.com/acme", "pull", ""); return err }, 403, "scope"},
		{"missing GUN", func() error { _, err := anonymous.Metadata(ctx, "example.com/none", "root.json", 1<<20); return err }, 404, "not-found"},
		{"bad metadata name", func() error { _, err := anonymous.Metadata(ctx, gun, "0.targets.json", 1<<20); return err }, 404, "not-found"},
		{"invalid GUN", func() error { _, err := admin.OnlineKey(ctx, "-bad", "timestamp"); return err }, 400, "gun"},
		{"wrong SHA-256", func() error {
			return push.UploadTarget(ctx, gun, "app/x.txt", sha256hex([]byte("other")), int64(len(content)), bytes.NewReader(content))
		}, 400, "hashes"},
		{"bad scope", func() error { _, err := admin.CreateToken(ctx, "", "root", ""); return err }, 400, "request"},
		{"push token lists tokens", func() error { _, err := push.ListTokens(ctx); return err }, 403, "scope"},
		{"no token lists tokens", func() error { _, err := anonymous.ListTokens(ctx); return err }, 401, "auth"},
		{"push token revokes", func() error { _, err := push.RevokeToken(ctx, "0123456789abcdef"); return err }, 403, "scope"},
		{"unknown token ID", func() error { _, err := admin.RevokeToken(ctx, "0123456789abcdef"); return err }, 404, "not-found"},
		{"stale If-Match", func() error {
			_, err := admin.Publish(ctx, gun, map[string][]byte{"targets": []byte(`{}`)}, `"0000"`)
			return err
		}, 409, "conflict"},

		{"unknown role", func() error { _, err := admin.OnlineKey(ctx, gun, "targets"); return err }, 0, ""},
		{"GUN with ..", func() error { _, err := admin.OnlineKey(ctx, "example.com/../x", "timestamp"); return err }, 0, ""},
		{"GUN with an empty segment", func() error { _, err := admin.Metadata(ctx, "example.com//x", "root.json", 100); return err }, 0, ""},
		{"empty GUN", func() error { _, err := admin.HasTarget(ctx, "", "a/b"); return err }, 0, ""},
		{"GUN with a reserved segment", func() error {
			return admin.UploadTarget(ctx, "example.com/targets/x", "a.txt", sha256hex(content), int64(len(content)), bytes.NewReader(content))
		}, 0, ""},
		{"target path with ..", func() error {
			return admin.UploadTarget(ctx, gun, "a/../../b.txt", sha256hex(content), int64(len(content)), bytes.NewReader(content))
		}, 0, ""},
		{"target path with a trailing slash", func() error { _, err := admin.HasTarget(ctx, gun, "a/"); return err }, 0, ""},
		{"metadata path", func() error { _, err := admin.Metadata(ctx, gun, "../root.json", 100); return err }, 0, ""},
		{"zero limit", func() error { _, err := admin.Metadata(ctx, gun, "root.json", 0); return err }, 0, ""},
		{"short token ID", func() error { _, err := admin.RevokeToken(ctx, "0123"); return err }, 0, ""},
		{"token ID in upper case", func() error { _, err := admin.RevokeToken(ctx, "0123456789ABCDEF"); return err }, 0, ""},
		{"token ID with a slash", func() error { _, err := admin.RevokeToken(ctx, "01234567/89abcde"); return err }, 0, ""},
		{"malformed SHA-256", func() error {
			return admin.UploadTarget(ctx, gun, "a.txt", "abc", int64(len(content)), bytes.NewReader(content))
		}, 0, ""},
		{"document not JSON", func() error {
			_, err := admin.Publish(ctx, gun, map[string][]byte{"targets": []byte(`{"signed":`)}, "")
			return err
		}, 0, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := sent.Load()
			err := tt.call()
			if err == nil {
				t.Fatal("no error")
			}
			if tt.status == 0 {
				var e *apiclient.Error
				if errors.As(err, &e) {
					t.Errorf("got an answer from the server, want a local error: %v", err)
				}
				if n := sent.Load() - before; n != 0 {
					t.Errorf("%d requests sent, want none", n)
				}
				return
			}
			e := apiErr(t, err)
			if e.Status != tt.status || e.Check != tt.check || e.Message == "" {
				t.Errorf("error %+v, want status %d and check %q", e, tt.status, tt.check)
			}
			if !strings.HasPrefix(e.URL, s.URL+"/") || e.Method == "" || !strings.Contains(err.Error(), e.URL) {
				t.Errorf("error %q does not name the request (%s %s)", err, e.Method, e.URL)
			}
			if got := errors.Is(err, apiclient.ErrNotFound); got != (tt.status == 404) {
				t.Errorf("errors.Is(err, ErrNotFound) = %v for status %d", got, tt.status)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestErrorString(t *testing.T) {
	for _, tt := range []struct {
		e    apiclient.Error
		want string
	}{
		{apiclient.Error{Method: "POST", URL: "http://h/api/v1/repositories/g/metadata", Status: 400, Role: "targets", Check: "signature", Message: "not signed by 1 of 1 keys"},
			"POST http://h/api/v1/repositories/g/metadata: 400 Bad Request: targets: signature: not signed by 1 of 1 keys"},
		{apiclient.Error{Method: "GET", URL: "http://h/tuf/g/metadata/root.json", Status: 404, Check: "not-found", Message: "g: root.json not found"},
			"GET http://h/tuf/g/metadata/root.json: 404 Not Found: not-found: g: root.json not found"},
		{apiclient.Error{Method: "HEAD", URL: "http://h/x", Status: 599}, "HEAD http://h/x: 599"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// TestPublish publishes a repository, uploads its target and reads both
// back.
func TestPublish(t *testing.T) {
	s := servertest.Start(t)
	var lastPublish []byte // the body of the last publish request
	recording := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/metadata") {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				return nil, err
			}
			r.Body.Close()
			lastPublish = b
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	c, err := apiclient.New(s.URL, s.Admin, recording)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const gun = "example.com/acme/app"
	m := servertest.NewMaintainer(t, s, gun)

	// A garbage document is refused, naming the role and the check.
	_, err = c.Publish(ctx, gun, map[string][]byte{
		"root":    servertest.Sign(t, m.RootDoc(1), m.Root),
		"targets": []byte(`{"signed": {"_type": "targets"}, "signatures": []}`),
	}, "")
	if e := apiErr(t, err); e.Status != 400 || e.Role != "targets" || e.Check == "" {
		t.Errorf("garbage targets: %+v", e)
	}

	content := []byte("version one\n")
	sum := sha256hex(content)
	if err := c.UploadTarget(ctx, gun, "app/v1.txt", sum, int64(len(content)), bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		want bool
	}{
		{"app/" + sum + ".v1.txt", false}, // uploaded, but no metadata lists it yet
		{"app/" + sha256hex([]byte("other")) + ".v1.txt", false},
	} {
		if got, err := c.HasTarget(ctx, gun, tt.path); err != nil || got != tt.want {
			t.Errorf("HasTarget(%s) = %v, %v; want %v", tt.path, got, err, tt.want)
		}
	}
	// An empty target is sent with a zero length.
	if err := c.UploadTarget(ctx, gun, "empty", sha256hex(nil), 0, bytes.NewReader(nil)); err != nil {
		t.Errorf("empty upload: %v", err)
	}

	root := servertest.Sign(t, m.RootDoc(1), m.Root)
	targets := servertest.Sign(t, m.TargetsDoc(1, map[string]string{"app/v1.txt": string(content)}), m.Targets)
	// Sent indented, with an HTML character in a string (which
	// json.Marshal would escape) in a field outside the signed part: the
	// client must send the document unchanged.
	var indented bytes.Buffer
	if err := json.Indent(&indented, targets, "", "  "); err != nil {
		t.Fatal(err)
	}
	sent := append([]byte(`{"x-note": "a<b",`), indented.Bytes()[1:]...)
	res, err := c.Publish(ctx, gun, map[string][]byte{"root": root, "targets": sent}, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.GUN != gun || res.RootVersion != 1 || res.SnapshotVersion != 1 || res.TimestampVersion != 1 || res.ETag == "" || res.ChangeID == 0 {
		t.Errorf("Publish = %+v", res)
	}
	if got, err := c.HasTarget(ctx, gun, "app/"+sum+".v1.txt"); err != nil || !got {
		t.Errorf("HasTarget of published content = %v, %v; want true", got, err)
	}
	if !bytes.Contains(lastPublish, sent) || !bytes.Contains(lastPublish, root) {
		t.Errorf("the publish request does not hold the documents byte for byte:\n%s", lastPublish)
	}
	// The server serves documents in canonical form.
	for file, want := range map[string][]byte{"root.json": root, "1.root.json": root} {
		got, err := c.Metadata(ctx, gun, file, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not the document published:\n%s\nwant\n%s", file, got, want)
		}
	}
	if b, err := c.Metadata(ctx, gun, "1.targets.json", 1<<20); err != nil {
		t.Error(err)
	} else if md, err := metadata.ParseTargets(b); err != nil || md.Signed.Targets["app/v1.txt"].Length != int64(len(content)) {
		t.Errorf("1.targets.json: %v\n%s", err, b)
	}
	ts, err := c.Metadata(ctx, gun, "timestamp.json", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := `"` + sha256hex(ts) + `"`; got != res.ETag {
		t.Errorf("ETag %s, want %s", res.ETag, got)
	}

	// A body over the limit is an error naming the URL.
	_, err = c.Metadata(ctx, gun, "root.json", 10)
	if err == nil || !strings.Contains(err.Error(), c.RepositoryURL(gun)+"/metadata/root.json") {
		t.Errorf("Metadata over the limit: %v", err)
	}
	if _, ok := errors.AsType[*apiclient.Error](err); ok {
		t.Errorf("Metadata over the limit is an *Error: %v", err)
	}

	// Publishing on top of the timestamp just published works; on top of
	// an older one, it conflicts.
	res2, err := c.Publish(ctx, gun, map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(2, nil), m.Targets)}, res.ETag)
	if err != nil {
		t.Fatal(err)
	}
	if res2.TimestampVersion != 2 || res2.ETag == res.ETag {
		t.Errorf("second Publish = %+v", res2)
	}
	_, err = c.Publish(ctx, gun, map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(3, nil), m.Targets)}, res.ETag)
	if e := apiErr(t, err); e.Status != http.StatusConflict {
		t.Errorf("Publish with a stale If-Match: %v", err)
	}
}

func TestCreateToken(t *testing.T) {
	s := servertest.Start(t)
	ctx := context.Background()
	tok, err := newClient(t, s.URL, s.Admin).CreateToken(ctx, "example.com/acme", "push", "CI")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, s.URL, tok)
	if _, err := c.CreateRepository(ctx, "example.com/acme/app"); err != nil {
		t.Errorf("the new token cannot push in its prefix: %v", err)
	}
	if _, err := c.CreateRepository(ctx, "example.org/app"); err == nil || apiErr(t, err).Status != 403 {
		t.Errorf("the new token outside its prefix: %v", err)
	}
}

func TestListAndRevokeTokens(t *testing.T) {
	s := servertest.Start(t)
	ctx := context.Background()
	admin := newClient(t, s.URL, s.Admin)
	start := time.Now().Add(-time.Minute)
	push, err := admin.CreateToken(ctx, "example.com/acme", "push", "CI")
	if err != nil {
		t.Fatal(err)
	}
	id := apiclient.TokenID(push)
	if id != store.TokenID(auth.Hash(push)) {
		t.Fatalf("TokenID = %s, the server's ID is %s", id, store.TokenID(auth.Hash(push)))
	}
	list, err := admin.ListTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != apiclient.TokenID(s.Admin) || list[1].ID != id {
		t.Fatalf("ListTokens = %+v, want the admin token, then the push token", list)
	}
	if got := list[1]; got.GUNPrefix != "example.com/acme" || got.Scope != "push" || got.Description != "CI" || got.CreatedAt.Before(start) {
		t.Errorf("listed push token = %+v", got)
	}

	acme := newClient(t, s.URL, s.Token(t, "admin", "example.com/acme"))
	if list, err := acme.ListTokens(ctx); err != nil || len(list) != 2 || list[0].ID != id {
		t.Errorf("ListTokens with the acme admin token = %+v, %v; want the push token and itself", list, err)
	}
	if _, err := acme.RevokeToken(ctx, apiclient.TokenID(s.Admin)); err == nil || apiErr(t, err).Status != 403 || apiErr(t, err).Check != "scope" {
		t.Errorf("the acme admin revokes the global admin token: %v", err)
	}

	got, err := admin.RevokeToken(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id || got.Scope != "push" || got.GUNPrefix != "example.com/acme" || got.Description != "CI" {
		t.Errorf("RevokeToken = %+v", got)
	}
	if _, err := newClient(t, s.URL, push).OnlineKey(ctx, "example.com/acme/app", "timestamp"); err == nil || apiErr(t, err).Status != 401 {
		t.Errorf("the revoked token: %v", err)
	}
	_, err = admin.RevokeToken(ctx, id)
	if !errors.Is(err, apiclient.ErrNotFound) || apiErr(t, err).Check != "not-found" {
		t.Errorf("RevokeToken twice: %v", err)
	}
	if list, _ := admin.ListTokens(ctx); len(list) != 2 || list[0].ID == id || list[1].ID == id {
		t.Errorf("ListTokens after the revocation = %+v", list)
	}
	if _, err := newClient(t, s.URL, push).ListTokens(ctx); err == nil || apiErr(t, err).Status != 401 {
		t.Errorf("ListTokens with the revoked token: %v", err)
	}
}
