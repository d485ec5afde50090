package repo_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/server/apiclient"
	"github.com/rampart-tuf/rampart/server/servertest"
)

// externalServerRepo starts a server and makes a repository on it whose
// content is hosted elsewhere, with the client's requests recorded.
func externalServerRepo(t *testing.T) (*servertest.Server, *servertest.Recorder, *apiclient.Client, *repo.Repo) {
	t.Helper()
	srv, rt, c := recordedServer(t)
	return srv, rt, c, initRepo(t, repo.InitOptions{Server: c, GUN: testGUN, Content: repo.ContentExternal})
}

// contentRequests returns the recorded requests about target content:
// uploads and questions whether the server has it.
func contentRequests(rt *servertest.Recorder) []string {
	var out []string
	for _, q := range rt.Requests() {
		if strings.Contains(q, "/targets/") {
			out = append(out, q)
		}
	}
	return out
}

// storedFiles lists the files of the repository's content store.
func storedFiles(t *testing.T, r *repo.Repo) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(r.Dir(), "targets"), func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return filepath.SkipDir
		}
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mustHaveBlob checks whether the server's blob store holds content.
func mustHaveBlob(t *testing.T, srv *servertest.Server, content string, want bool) {
	t.Helper()
	sum := sha256.Sum256([]byte(content))
	b, err := srv.Blobs.Open(ctx, hex.EncodeToString(sum[:]))
	if err == nil {
		b.Close()
	}
	switch {
	case want && err != nil:
		t.Errorf("the server's blob store lacks %q: %v", content, err)
	case !want && !errors.Is(err, fs.ErrNotExist):
		t.Errorf("the server's blob store holds %q (err %v), want it absent", content, err)
	}
}

// TestExternalContentPublish: a repository whose content is hosted
// elsewhere hashes the files it adds without keeping them, and its
// publish sends metadata only; a client finds each target listed with its
// length and hash, fetches it from where it is hosted and verifies it,
// and refuses a copy that was changed there.
func TestExternalContentPublish(t *testing.T) {
	srv, rt, c, r := externalServerRepo(t)
	src := t.TempDir()
	files := map[string]string{"app/app-1.0.tar.gz": "release 1.0", "app/notes.txt": "what changed"}
	writeFile(t, filepath.Join(src, "app-1.0.tar.gz"), files["app/app-1.0.tar.gz"])
	writeFile(t, filepath.Join(src, "notes.txt"), files["app/notes.txt"])
	res, err := r.AddFiles(ctx, src, "app", repo.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Count != 2 {
		t.Fatalf("added %d targets, want 2", res.Count)
	}
	if got := storedFiles(t, r); len(got) != 0 {
		t.Errorf("the content store holds %q after adding with content hosted elsewhere", got)
	}
	rt.Reset()
	pr := publishServer(t, r, c)
	if !pr.NoContent || pr.TargetsUploaded != 0 || pr.TargetsPresent != 0 {
		t.Errorf("publish reported %+v, want no content looked at", pr)
	}
	if q := contentRequests(rt); len(q) != 0 {
		t.Errorf("publish made requests about target content: %q", q)
	}
	if rt.Count(http.MethodPut) != 0 {
		t.Errorf("publish sent PUT requests: %q", rt.Requests())
	}
	if _, err := os.Stat(filepath.Join(r.Dir(), "uploaded.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("publish wrote an upload record: %v", err)
	}
	for _, content := range files {
		mustHaveBlob(t, srv, content, false)
	}

	// The content's host: a static web server laid out as clients fetch
	// it, DIR/SHA256.NAME.
	hosted := t.TempDir()
	rc := newRampartClient(t, r, c)
	if err := rc.c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for p, content := range files {
		ti, err := rc.c.Target(ctx, p)
		if err != nil {
			t.Fatalf("client: %s: %v", p, err)
		}
		sum := sha256.Sum256([]byte(content))
		if ti.Length != int64(len(content)) || !bytes.Equal(ti.Hashes.SHA256, sum[:]) {
			t.Errorf("metadata lists %s with length %d, sha256 %x; want %d, %x", p, ti.Length, ti.Hashes.SHA256, len(content), sum)
		}
		// The metadata server has no content to give.
		if err := rc.c.Download(ctx, ti, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "404") {
			t.Errorf("download of %s from the metadata server: %v, want a 404", p, err)
		}
		writeFile(t, filepath.Join(hosted, filepath.FromSlash(ti.ConsistentPath(p))), content)
	}
	cdn := httptest.NewServer(http.FileServer(http.Dir(hosted)))
	t.Cleanup(cdn.Close)
	dir := t.TempDir()
	if err := client.Init(dir, mustRead(t, filepath.Join(r.Dir(), "roots", "1.root.json"))); err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(client.Config{MetadataURL: c.RepositoryURL(testGUN) + "/metadata", TargetsURL: cdn.URL, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for p, content := range files {
		ti, err := cl.Target(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := cl.Download(ctx, ti, &buf); err != nil || buf.String() != content {
			t.Errorf("download of %s from the content's host: %q, %v; want %q", p, buf.String(), err, content)
		}
		// Changed where it is hosted, same length: refused.
		writeFile(t, filepath.Join(hosted, filepath.FromSlash(ti.ConsistentPath(p))), strings.ToUpper(content))
		if err := cl.Download(ctx, ti, &bytes.Buffer{}); err == nil {
			t.Errorf("download of %s changed on its host was accepted", p)
		}
	}
}

// TestContentModeSwitch: the content mode is kept in repo.json, survives
// reopening, and switching it changes what later adds and publishes do;
// PublishToServer's NoContent skips the content for one publish only.
func TestContentModeSwitch(t *testing.T) {
	srv, rt, c, r := externalServerRepo(t)
	if !strings.Contains(string(mustRead(t, filepath.Join(r.Dir(), "repo.json"))), `"content": "external"`) {
		t.Errorf("repo.json does not record the content mode:\n%s", mustRead(t, filepath.Join(r.Dir(), "repo.json")))
	}
	r = reopen(t, r)
	if m := r.ContentMode(); m != repo.ContentExternal {
		t.Fatalf("reopened repository's content mode is %q, want external", m)
	}
	src := t.TempDir()
	add := func(name, content string) {
		t.Helper()
		if _, err := r.AddFiles(ctx, writeFile(t, filepath.Join(src, name), content), name, repo.AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	add("elsewhere-1", "hosted elsewhere 1")
	publishServer(t, r, c)

	// To stored: the next file is kept and uploaded.
	if err := r.SetContentMode(ctx, repo.ContentStored); err != nil {
		t.Fatal(err)
	}
	r = reopen(t, r)
	if m := r.ContentMode(); m != repo.ContentStored {
		t.Fatalf("content mode after switching to stored and reopening: %q", m)
	}
	add("stored-1", "stored 1")
	if got := storedFiles(t, r); len(got) != 1 || !strings.HasSuffix(got[0], ".stored-1") {
		t.Errorf("content store after adding in stored mode: %q", got)
	}
	rt.Reset()
	pr := publishServer(t, r, c)
	if pr.NoContent || pr.TargetsUploaded != 1 || rt.Count(http.MethodPut) != 1 {
		t.Errorf("stored publish reported %+v with %d PUTs, want one upload", pr, rt.Count(http.MethodPut))
	}
	mustHaveBlob(t, srv, "stored 1", true)
	mustHaveBlob(t, srv, "hosted elsewhere 1", false)

	// NoContent for one publish: nothing uploaded now, and the next
	// publish uploads what was left out.
	add("stored-2", "stored 2")
	rt.Reset()
	pr, err := r.PublishToServer(ctx, c, repo.ServerOptions{NoContent: true})
	if err != nil {
		t.Fatal(err)
	}
	if !pr.NoContent || pr.TargetsUploaded != 0 || len(contentRequests(rt)) != 0 || len(pr.Roles) == 0 {
		t.Errorf("publish with NoContent reported %+v and made content requests %q; want metadata only", pr, contentRequests(rt))
	}
	mustHaveBlob(t, srv, "stored 2", false)
	rt.Reset()
	pr = publishServer(t, r, c)
	if pr.TargetsUploaded != 1 || len(pr.Roles) != 0 {
		t.Errorf("publish after a NoContent publish reported %+v, want the left-out file uploaded", pr)
	}
	mustHaveBlob(t, srv, "stored 2", true)

	// Back to external: stored content stays, new files are only hashed.
	if err := r.SetContentMode(ctx, repo.ContentExternal); err != nil {
		t.Fatal(err)
	}
	add("elsewhere-2", "hosted elsewhere 2")
	if got := storedFiles(t, r); len(got) != 2 {
		t.Errorf("content store after switching back to external and adding: %q, want the two stored files", got)
	}
	rt.Reset()
	pr = publishServer(t, r, c)
	if !pr.NoContent || len(contentRequests(rt)) != 0 {
		t.Errorf("external publish reported %+v, content requests %q", pr, contentRequests(rt))
	}
	mustHaveBlob(t, srv, "hosted elsewhere 2", false)

	// Setting the mode it has changes nothing, not even a version.
	before := mustRead(t, filepath.Join(r.Dir(), "staged", "targets.json"))
	if err := r.SetContentMode(ctx, repo.ContentExternal); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, mustRead(t, filepath.Join(r.Dir(), "staged", "targets.json"))) {
		t.Error("setting the content mode it already had changed targets")
	}
	if err := r.SetContentMode(ctx, "cdn"); err == nil || !strings.Contains(err.Error(), `unknown content mode "cdn"`) {
		t.Errorf("SetContentMode(cdn): %v", err)
	}
}

// TestContentModeConfig: a new repository records its mode; a repo.json
// written before the setting existed means stored; one with an unknown
// mode is refused, naming the file and the setting.
func TestContentModeConfig(t *testing.T) {
	r := initRepo(t, repo.InitOptions{})
	cfgPath := filepath.Join(r.Dir(), "repo.json")
	data := mustRead(t, cfgPath)
	if !strings.Contains(string(data), `"content": "stored"`) || r.ContentMode() != repo.ContentStored {
		t.Fatalf("a new repository's repo.json (mode %q):\n%s", r.ContentMode(), data)
	}
	dir := r.Dir()
	r.Close()
	old := strings.Replace(string(data), `"content": "stored"`, `"bins": null`, 1)
	if err := os.WriteFile(cfgPath, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	r2, err := repo.Open(ctx, dir, plainOpts)
	if err != nil {
		t.Fatal(err)
	}
	if m := r2.ContentMode(); m != repo.ContentStored {
		t.Errorf("repo.json without a content mode reads as %q, want stored", m)
	}
	r2.Close()
	bad := strings.Replace(string(data), `"content": "stored"`, `"content": "cdn"`, 1)
	if err := os.WriteFile(cfgPath, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Open(ctx, dir, plainOpts); err == nil || !strings.Contains(err.Error(), "repo.json") || !strings.Contains(err.Error(), `unknown content mode "cdn"`) {
		t.Errorf("Open with content mode cdn: %v", err)
	}
	if _, err := repo.Init(ctx, filepath.Join(t.TempDir(), "r"), repo.InitOptions{Content: "cdn"}, plainOpts); err == nil || !strings.Contains(err.Error(), `unknown content mode "cdn"`) {
		t.Errorf("Init with content mode cdn: %v", err)
	}
}

// TestExternalContentPublishOut: publishing to a directory writes
// metadata only when the content is hosted elsewhere, or when asked for
// one publish.
func TestExternalContentPublishOut(t *testing.T) {
	r := initRepo(t, repo.InitOptions{Content: repo.ContentExternal})
	src := t.TempDir()
	if _, err := r.AddFiles(ctx, writeFile(t, filepath.Join(src, "a"), "a"), "a", repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	res, err := r.Publish(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if !res.NoContent || res.TargetFiles != 0 {
		t.Errorf("external publish --out reported %+v", res)
	}
	if _, err := os.Stat(filepath.Join(out, "targets")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("external publish --out made %s/targets: %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(out, "metadata", "timestamp.json")); err != nil {
		t.Errorf("external publish --out wrote no timestamp: %v", err)
	}

	if err := r.SetContentMode(ctx, repo.ContentStored); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddFiles(ctx, writeFile(t, filepath.Join(src, "b"), "b"), "b", repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if res, err = r.PublishWith(ctx, out, repo.PublishOptions{NoContent: true}); err != nil {
		t.Fatal(err)
	}
	if !res.NoContent || res.TargetFiles != 0 {
		t.Errorf("publish --out with NoContent reported %+v", res)
	}
	if _, err := os.Stat(filepath.Join(out, "targets")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("publish --out with NoContent made %s/targets: %v", out, err)
	}
	if res, err = r.Publish(ctx, out); err != nil {
		t.Fatal(err)
	}
	if res.NoContent || res.TargetFiles != 1 {
		t.Errorf("stored publish --out reported %+v, want b's content written", res)
	}
}

// TestCloneContentMode: the server does not know the content mode, so a
// clone is told it; a clone of an external repository then hashes what it
// adds and publishes metadata only, as the original does.
func TestCloneContentMode(t *testing.T) {
	srv, rt, c, r := externalServerRepo(t)
	publishServer(t, r, c)
	root1 := mustRead(t, filepath.Join(r.Dir(), "roots", "1.root.json"))
	if _, _, err := repo.Clone(ctx, filepath.Join(t.TempDir(), "bad"), repo.CloneOptions{Server: c, GUN: testGUN, Root: root1, Content: "cdn"}, plainOpts); err == nil || !strings.Contains(err.Error(), `unknown content mode "cdn"`) {
		t.Errorf("clone with content mode cdn: %v", err)
	}
	stored, _, err := repo.Clone(ctx, filepath.Join(t.TempDir(), "stored"), repo.CloneOptions{Server: c, GUN: testGUN, Root: root1}, plainOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer stored.Close()
	if m := stored.ContentMode(); m != repo.ContentStored {
		t.Errorf("clone without a content mode: %q, want stored", m)
	}
	keyDir := filepath.Join(r.Dir(), "keys")
	entries, err := os.ReadDir(keyDir)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".key") {
			keys = append(keys, filepath.Join(keyDir, e.Name()))
		}
	}
	b, _, err := repo.Clone(ctx, filepath.Join(t.TempDir(), "clone"), repo.CloneOptions{Server: c, GUN: testGUN, Root: root1, Keys: keys, Content: repo.ContentExternal}, plainOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if m := b.ContentMode(); m != repo.ContentExternal {
		t.Fatalf("clone with content external: %q", m)
	}
	if _, err := b.AddFiles(ctx, writeFile(t, filepath.Join(t.TempDir(), "x"), "from the clone"), "x", repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := storedFiles(t, b); len(got) != 0 {
		t.Errorf("the external clone stored %q", got)
	}
	rt.Reset()
	if pr := publishServer(t, b, c); !pr.NoContent || len(contentRequests(rt)) != 0 {
		t.Errorf("the external clone's publish reported %+v, content requests %q", pr, contentRequests(rt))
	}
	mustHaveBlob(t, srv, "from the clone", false)
}
