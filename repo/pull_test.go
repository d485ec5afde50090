package repo_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/server/apiclient"
)

// secondCopy copies a repository's directory, as a second maintainer
// would have it, and opens it.
func secondCopy(t *testing.T, r *repo.Repo) *repo.Repo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "copy")
	repotest.CopyDir(t, r.Dir(), dir)
	r2, err := repo.Open(ctx, dir, plainOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r2.Close() })
	return r2
}

func pull(t *testing.T, r *repo.Repo, c *apiclient.Client) *repo.PullResult {
	t.Helper()
	res, err := r.PullFromServer(ctx, c)
	if err != nil {
		t.Fatalf("PullFromServer: %v", err)
	}
	return res
}

func addContent(t *testing.T, r *repo.Repo, path, content string) {
	t.Helper()
	if _, err := r.AddFiles(ctx, writeFile(t, filepath.Join(t.TempDir(), "f"), content), path, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestServerPull: two maintainers with copies of one repository on a
// server take turns. Each publish by one is pulled by the other, who can
// then publish on top of it: new targets, a delegation made elsewhere, a
// root rotation, and changes of one's own not yet published.
func TestServerPull(t *testing.T) {
	_, c, a := newServerRepo(t, repo.InitOptions{})
	addContent(t, a, "one.txt", "1")
	publishServer(t, a, c)
	b := secondCopy(t, a)
	if res := pull(t, b, c); !res.UpToDate {
		t.Errorf("pull of an up-to-date copy: %+v", res)
	}

	// a publishes; b is behind and cannot publish until it pulls.
	stale := secondCopy(t, b)
	addContent(t, a, "two.txt", "2")
	publishServer(t, a, c)
	if _, err := b.PublishToServer(ctx, c, repo.ServerOptions{}); !errors.Is(err, repo.ErrServerNewer) {
		t.Fatalf("publish of a copy that is behind: %v", err)
	}
	// A change of targets made on a stale copy is at the same version as
	// a's: the copies were changed apart, and nothing is pulled.
	addContent(t, stale, "three.txt", "3")
	before := mustRead(t, filepath.Join(stale.Dir(), "staged", "targets.json"))
	if _, err := stale.PullFromServer(ctx, c); err == nil || !strings.Contains(err.Error(), "changed apart") {
		t.Fatalf("pull over a conflicting change: %v", err)
	}
	if after := mustRead(t, filepath.Join(stale.Dir(), "staged", "targets.json")); string(after) != string(before) {
		t.Error("a refused pull changed the staged targets")
	}
	if _, err := stale.PublishToServer(ctx, c, repo.ServerOptions{}); err == nil || !strings.Contains(err.Error(), "changed apart") {
		t.Fatalf("publish over a conflicting change: %v", err)
	}
	if res := pull(t, b, c); !slices.Equal(res.Roles, []string{"targets"}) {
		t.Fatalf("pull of a's targets: %+v", res)
	}
	if res := publishServer(t, b, c); !res.UpToDate {
		t.Errorf("publish right after a pull: %+v, want up to date", res)
	}
	os.RemoveAll(filepath.Join(b.Dir(), "uploaded.txt"))
	priv, _ := newKey(t, t.TempDir(), "releases")
	if err := a.Delegate(ctx, repo.DelegateOptions{Role: "releases", Keys: []string{priv}, Paths: []string{"releases/*"}}); err != nil {
		t.Fatal(err)
	}
	addContent(t, a, "releases/r1", "r1")
	_, rootPub := newKey(t, t.TempDir(), "root-2")
	if err := a.Rotate(ctx, repo.RotateOptions{Role: "root", AddKeys: []string{rootPub}}); err != nil {
		t.Fatal(err)
	}
	publishServer(t, a, c)
	res := pull(t, b, c)
	if !slices.Equal(res.RootVersions, []int64{2}) || !slices.Equal(res.Roles, []string{"releases", "targets"}) || len(res.Ahead) != 0 {
		t.Fatalf("pull of a's delegation and root: %+v", res)
	}
	if b.Root().Signed.Version != 2 {
		t.Errorf("b's root is version %d after the pull, want 2", b.Root().Signed.Version)
	}
	if p := b.Config().Delegations["releases"]; p != "targets" {
		t.Errorf("repo.json of b: releases delegated by %q, want targets", p)
	}
	st, err := b.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Warnings) != 0 {
		t.Errorf("status after the pull warns: %q", st.Warnings)
	}

	// b publishes on top, and a pulls that while a change of its own to
	// releases waits to be published.
	addContent(t, b, "four.txt", "4")
	publishServer(t, b, c)
	addContent(t, a, "releases/r2", "r2")
	res = pull(t, a, c)
	if !slices.Equal(res.Roles, []string{"targets"}) || !slices.Equal(res.Ahead, []string{"releases"}) {
		t.Fatalf("pull with a change of one's own: %+v", res)
	}
	publishServer(t, a, c)
	rc := newRampartClient(t, a, c)
	for path, want := range map[string]string{"one.txt": "1", "two.txt": "2", "four.txt": "4", "releases/r1": "r1", "releases/r2": "r2"} {
		mustGet(t, rc, path, want)
	}
	if _, err := rc.get("three.txt"); err == nil {
		t.Error("the change of the copy that lost the race reached the server")
	}

	// a static repository has no server to pull from.
	if _, err := initRepo(t, repo.InitOptions{}).PullFromServer(ctx, c); err == nil {
		t.Error("pull of a repository without a server")
	}
}

// tamperingProxy serves a server's responses, changed by tamper for the
// paths it returns true for. The client it returns sends token, if given.
func tamperingProxy(t *testing.T, upstream string, tamper func(path string, body []byte) ([]byte, bool), token ...string) *apiclient.Client {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if b, ok := tamper(resp.Request.URL.Path, body); ok {
			body = b
			resp.StatusCode = http.StatusOK
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	hs := httptest.NewServer(rp)
	t.Cleanup(hs.Close)
	c, err := apiclient.New(hs.URL, strings.Join(token, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestServerPullRefusesTampering: what a pull fetches is checked as a
// client checks it, and a refused pull changes nothing here.
func TestServerPullRefusesTampering(t *testing.T) {
	srv, c, a := newServerRepo(t, repo.InitOptions{})
	addContent(t, a, "one.txt", "1")
	publishServer(t, a, c)
	b := secondCopy(t, a)
	addContent(t, a, "two.txt", "2")
	_, rootPub := newKey(t, t.TempDir(), "root-2")
	if err := a.Rotate(ctx, repo.RotateOptions{Role: "root", AddKeys: []string{rootPub}}); err != nil {
		t.Fatal(err)
	}
	publishServer(t, a, c)

	// A root 2 signed by a key root 1 does not trust.
	forged := initRepo(t, repo.InitOptions{})
	forgedRoot := mustRead(t, filepath.Join(forged.Dir(), "roots", "1.root.json"))
	for _, tc := range []struct {
		name, want string
		tamper     func(path string, body []byte) ([]byte, bool)
	}{
		{"a byte of targets changed", "serves metadata that fails a check: targets.json: hashes check failed", func(p string, body []byte) ([]byte, bool) {
			if !strings.HasSuffix(p, ".targets.json") {
				return nil, false
			}
			// One hex digit of a signature, so the length stays.
			b := bytes.Clone(body)
			i := bytes.Index(b, []byte(`"sig":"`)) + len(`"sig":"`)
			if b[i] == '0' {
				b[i] = '1'
			} else {
				b[i] = '0'
			}
			return b, true
		}},
		{"root 2 not signed by root 1", "2.root.json: signatures by the trusted root's keys check failed", func(p string, body []byte) ([]byte, bool) {
			if !strings.HasSuffix(p, "/2.root.json") {
				return nil, false
			}
			return bytes.Replace(forgedRoot, []byte(`"version":1`), []byte(`"version":2`), 1), true
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := mustRead(t, filepath.Join(b.Dir(), "staged", "targets.json"))
			_, err := b.PullFromServer(ctx, tamperingProxy(t, srv.URL, tc.tamper))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("pull through a tampering proxy: %v, want an error saying %q", err, tc.want)
			}
			if after := mustRead(t, filepath.Join(b.Dir(), "staged", "targets.json")); !bytes.Equal(before, after) {
				t.Error("a refused pull changed the staged targets")
			}
			if b.Root().Signed.Version != 1 {
				t.Error("a refused pull changed the root")
			}
		})
	}
	if res := pull(t, b, c); !slices.Equal(res.RootVersions, []int64{2}) {
		t.Fatalf("pull without tampering: %+v", res)
	}
}

// TestServerPullExpired: a pull reads expired roles from the server, says
// which, and pulls them all the same, so that they can be renewed.
func TestServerPullExpired(t *testing.T) {
	_, c, a := newServerRepo(t, repo.InitOptions{})
	addContent(t, a, "one.txt", "1")
	publishServer(t, a, c)
	dir := filepath.Join(t.TempDir(), "copy")
	repotest.CopyDir(t, a.Dir(), dir)
	addContent(t, a, "two.txt", "2")
	publishServer(t, a, c)

	late := time.Now().AddDate(20, 0, 0)
	b, err := repo.Open(ctx, dir, repo.Options{Keys: repo.PlainKeyStore{}, Now: func() time.Time { return late }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	res := pull(t, b, c)
	if !slices.Contains(res.Roles, "targets") {
		t.Fatalf("targets not pulled: %+v", res)
	}
	for _, file := range []string{"root.json", "timestamp.json", "snapshot.json", "targets.json"} {
		if !slices.ContainsFunc(res.Expired, func(e string) bool { return strings.HasPrefix(e, file+" expired at ") }) {
			t.Errorf("Expired = %q, does not name %s", res.Expired, file)
		}
	}
	if res := pull(t, b, c); !res.UpToDate || len(res.Expired) == 0 {
		t.Fatalf("second pull: %+v, want up to date with the expired roles named", res)
	}
	if res := pull(t, secondCopy(t, a), c); len(res.Expired) != 0 {
		t.Fatalf("pull in time: Expired = %q", res.Expired)
	}
}

// TestServerPullRollback: a server that serves an older timestamp than
// the one a copy last pulled is refused, as a client refuses it.
func TestServerPullRollback(t *testing.T) {
	srv, c, a := newServerRepo(t, repo.InitOptions{})
	addContent(t, a, "one.txt", "1")
	publishServer(t, a, c)
	b := secondCopy(t, a)
	old, err := c.Metadata(ctx, testGUN, "timestamp.json", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	addContent(t, a, "two.txt", "2")
	publishServer(t, a, c)
	pull(t, b, c)
	before := mustRead(t, filepath.Join(b.Dir(), "staged", "timestamp.json"))
	replay := tamperingProxy(t, srv.URL, func(p string, body []byte) ([]byte, bool) {
		return old, strings.HasSuffix(p, "/timestamp.json")
	})
	_, err = b.PullFromServer(ctx, replay)
	if err == nil || !strings.Contains(err.Error(), "timestamp.json: version 1 is lower than the trusted version 2") {
		t.Fatalf("pull of an old timestamp: %v", err)
	}
	if _, err := b.PublishToServer(ctx, replay, repo.ServerOptions{}); err == nil || !strings.Contains(err.Error(), "rollback attack") {
		t.Fatalf("publish over an old timestamp: %v", err)
	}
	if after := mustRead(t, filepath.Join(b.Dir(), "staged", "timestamp.json")); !bytes.Equal(before, after) {
		t.Error("a refused pull changed the staged timestamp")
	}
}
