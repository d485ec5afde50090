package repo_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/api"
	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/apiclient"
	"github.com/rampart-tuf/rampart/server/servertest"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

const testGUN = "example.com/acme/app"

// newServerRepo starts a metadata server and creates a repository on it
// with a push token; o may set more options.
// The API client is the metadata server the repository library talks to.
var _ repo.MetadataServer = (*apiclient.Client)(nil)

func newServerRepo(t *testing.T, o repo.InitOptions) (*servertest.Server, *apiclient.Client, *repo.Repo) {
	t.Helper()
	srv := servertest.Start(t)
	c, err := apiclient.New(srv.URL, srv.Token(t, "push", "example.com/acme"), nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Server, o.GUN = c, testGUN
	return srv, c, initRepo(t, o)
}

func publishServer(t *testing.T, r *repo.Repo, c *apiclient.Client) *repo.ServerResult {
	t.Helper()
	res, err := r.PublishToServer(ctx, c, repo.ServerOptions{})
	if err != nil {
		t.Fatalf("PublishToServer: %v", err)
	}
	return res
}

// rampartClient is Rampart's own TUF client on a repository of a server,
// trusting the repository's first root.
type rampartClient struct {
	t *testing.T
	c *client.Client
}

func newRampartClient(t *testing.T, r *repo.Repo, c *apiclient.Client) *rampartClient {
	t.Helper()
	root, err := os.ReadFile(filepath.Join(r.Dir(), "roots", "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := client.Init(dir, root); err != nil {
		t.Fatal(err)
	}
	base := c.RepositoryURL(testGUN)
	cl, err := client.New(client.Config{MetadataURL: base + "/metadata", TargetsURL: base + "/targets", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return &rampartClient{t: t, c: cl}
}

// get refreshes and downloads a target, returning its content.
func (rc *rampartClient) get(path string) ([]byte, error) {
	if err := rc.c.Refresh(ctx); err != nil {
		return nil, err
	}
	ti, err := rc.c.Target(ctx, path)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = rc.c.Download(ctx, ti, &buf)
	return buf.Bytes(), err
}

func mustGet(t *testing.T, rc *rampartClient, path, want string) {
	t.Helper()
	got, err := rc.get(path)
	if err != nil {
		t.Fatalf("client get %s: %v", path, err)
	}
	if string(got) != want {
		t.Fatalf("client get %s = %q, want %q", path, got, want)
	}
}

// TestServerPublish follows a repository on a server through its life:
// created with the server's online keys, published, changed, delegated
// and rotated, each state read by Rampart's client and go-tuf's.
func TestServerPublish(t *testing.T) {
	_, c, r := newServerRepo(t, repo.InitOptions{})
	root := r.Root().Signed
	for _, role := range []string{metadata.TypeTimestamp, metadata.TypeSnapshot} {
		k, err := c.OnlineKey(ctx, testGUN, role)
		if err != nil {
			t.Fatal(err)
		}
		if ids := root.Roles[role].KeyIDs; !slices.Equal(ids, []string{k.ID()}) {
			t.Errorf("root trusts %v for %s, want the server's key %s", ids, role, k.ID())
		}
		if _, err := os.Stat(filepath.Join(r.Dir(), "keys", role+".key")); err == nil {
			t.Errorf("a local %s key was made for a repository whose server holds it", role)
		}
	}
	if n := r.Notes(); len(n) != 0 {
		t.Errorf("init nags about keys the server holds: %q", n)
	}
	src := t.TempDir()
	if _, err := r.AddFiles(ctx, writeFile(t, filepath.Join(src, "app-1.0.tgz"), "v1.0"), "app/app-1.0.tgz", repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := r.Notes(); len(n) != 0 {
		t.Errorf("add nags about keys the server holds: %q", n)
	}

	res := publishServer(t, r, c)
	if !slices.Equal(res.RootVersions, []int64{1}) || !slices.Equal(res.Roles, []string{"targets"}) || res.TargetsUploaded != 1 || res.TimestampVersion != 1 {
		t.Errorf("first publish: %+v", res)
	}
	rc := newRampartClient(t, r, c)
	mustGet(t, rc, "app/app-1.0.tgz", "v1.0")
	gotuf := &goTUFClient{t: t, base: c.RepositoryURL(testGUN), root: mustRead(t, filepath.Join(r.Dir(), "roots", "1.root.json")), cache: t.TempDir()}
	if err := gotuf.refresh(); err != nil {
		t.Fatalf("go-tuf refresh: %v", err)
	}
	if data, err := gotuf.get("app/app-1.0.tgz"); err != nil || string(data) != "v1.0" {
		t.Fatalf("go-tuf get: %q, %v", data, err)
	}

	if res := publishServer(t, r, c); !res.UpToDate || res.TimestampVersion != 1 {
		t.Errorf("publishing an unchanged repository: %+v, want up to date", res)
	}

	// A delegation with a key of its own, and a second file.
	priv, _ := newKey(t, t.TempDir(), "releases")
	if err := r.Delegate(ctx, repo.DelegateOptions{Role: "releases", Keys: []string{priv}, Paths: []string{"releases/*"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddFiles(ctx, writeFile(t, filepath.Join(src, "app-2.0.tgz"), "v2.0"), "releases/app-2.0.tgz", repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	res = publishServer(t, r, c)
	if len(res.RootVersions) != 0 || !slices.Equal(res.Roles, []string{"releases", "targets"}) || res.TargetsUploaded != 1 || res.TargetsPresent != 1 {
		t.Errorf("publish of a delegation: %+v", res)
	}
	mustGet(t, rc, "releases/app-2.0.tgz", "v2.0")
	mustGet(t, rc, "app/app-1.0.tgz", "v1.0")

	// A new root version: new and old clients follow it.
	_, rootPub := newKey(t, t.TempDir(), "root-2")
	if err := r.Rotate(ctx, repo.RotateOptions{Role: "root", AddKeys: []string{rootPub}}); err != nil {
		t.Fatal(err)
	}
	res = publishServer(t, r, c)
	if !slices.Equal(res.RootVersions, []int64{2}) || res.RootVersion != 2 {
		t.Errorf("publish of root 2: %+v", res)
	}
	mustGet(t, rc, "releases/app-2.0.tgz", "v2.0")
	mustGet(t, newRampartClient(t, r, c), "app/app-1.0.tgz", "v1.0")
	if err := gotuf.refresh(); err != nil {
		t.Fatalf("go-tuf refresh after the root rotation: %v", err)
	}
	if data, err := gotuf.get("releases/app-2.0.tgz"); err != nil || string(data) != "v2.0" {
		t.Fatalf("go-tuf get through the delegation: %q, %v", data, err)
	}

	// Status leaves the server's roles alone.
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Warnings) != 0 {
		t.Errorf("status warns: %q", st.Warnings)
	}
	if st.Server == nil || st.Server.GUN != testGUN {
		t.Errorf("status names the server %+v", st.Server)
	}
	for _, rs := range st.Roles {
		if want := rs.Name == "snapshot" || rs.Name == "timestamp"; rs.SignedByServer != want {
			t.Errorf("status of %s: signed by server %v, want %v", rs.Name, rs.SignedByServer, want)
		}
	}

	// The same repository cannot go to a static directory: nobody here
	// can sign its timestamp.
	if _, err := r.Publish(ctx, t.TempDir()); !errors.Is(err, repo.ErrServerSignsTimestamp) {
		t.Errorf("static publish of a server repository: %v", err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestServerPublishRootsBeforeFirstPublish sends root versions made before
// the repository ever reached the server one by one, so that a client
// that trusts root 1 follows them.
func TestServerPublishRootsBeforeFirstPublish(t *testing.T) {
	_, c, r := newServerRepo(t, repo.InitOptions{})
	// Root 2 trusts a new targets key, root 3 one more root key: the
	// targets sent are signed for root 3 only, so the server must take
	// the whole chain at once.
	newTargets, _ := newKey(t, t.TempDir(), "targets-2")
	oldTargets := r.Root().Signed.Roles["targets"].KeyIDs[0]
	if err := r.Rotate(ctx, repo.RotateOptions{Role: "targets", AddKeys: []string{newTargets}, RemoveKeys: []string{oldTargets}}); err != nil {
		t.Fatal(err)
	}
	_, rootPub := newKey(t, t.TempDir(), "root-extra")
	if err := r.Rotate(ctx, repo.RotateOptions{Role: "root", AddKeys: []string{rootPub}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddFiles(ctx, writeFile(t, filepath.Join(t.TempDir(), "a"), "A"), "a.txt", repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	res := publishServer(t, r, c)
	if !slices.Equal(res.RootVersions, []int64{1, 2, 3}) || res.RootVersion != 3 {
		t.Fatalf("publish: %+v", res)
	}
	mustGet(t, newRampartClient(t, r, c), "a.txt", "A")

	// The same on an existing repository: targets keys, then root keys,
	// published together.
	newer, _ := newKey(t, t.TempDir(), "targets-3")
	if err := r.Rotate(ctx, repo.RotateOptions{Role: "targets", AddKeys: []string{newer}, RemoveKeys: []string{r.Root().Signed.Roles["targets"].KeyIDs[0]}}); err != nil {
		t.Fatal(err)
	}
	_, rootPub2 := newKey(t, t.TempDir(), "root-extra-2")
	if err := r.Rotate(ctx, repo.RotateOptions{Role: "root", AddKeys: []string{rootPub2}}); err != nil {
		t.Fatal(err)
	}
	res = publishServer(t, r, c)
	if !slices.Equal(res.RootVersions, []int64{4, 5}) || res.RootVersion != 5 {
		t.Fatalf("publish of two root versions: %+v", res)
	}
	mustGet(t, newRampartClient(t, r, c), "a.txt", "A")
}

// TestServerPublishMaintainerSnapshot keeps the snapshot key with the
// maintainer: the server signs only timestamp, and publish sends snapshot.
func TestServerPublishMaintainerSnapshot(t *testing.T) {
	snapKey, _ := newKey(t, t.TempDir(), "snapshot")
	_, c, r := newServerRepo(t, repo.InitOptions{Keys: map[string][]string{"snapshot": {snapKey}}})
	tsKey, err := c.OnlineKey(ctx, testGUN, "timestamp")
	if err != nil {
		t.Fatal(err)
	}
	root := r.Root().Signed
	if !slices.Equal(root.Roles["timestamp"].KeyIDs, []string{tsKey.ID()}) {
		t.Errorf("timestamp keys %v, want the server's", root.Roles["timestamp"].KeyIDs)
	}
	if ids := root.Roles["snapshot"].KeyIDs; len(ids) != 1 || ids[0] != repo.KeyID(loadKey(t, snapKey).PublicKey()) {
		t.Errorf("snapshot keys %v, want the maintainer's", ids)
	}
	for i, content := range []string{"one", "two"} {
		if _, err := r.AddFiles(ctx, writeFile(t, filepath.Join(t.TempDir(), "f"), content), "f.txt", repo.AddOptions{}); err != nil {
			t.Fatal(err)
		}
		res := publishServer(t, r, c)
		if !slices.Contains(res.Roles, "snapshot") || !slices.Contains(res.Roles, "targets") {
			t.Errorf("publish %d sent %v, want targets and snapshot", i+1, res.Roles)
		}
		mustGet(t, newRampartClient(t, r, c), "f.txt", content)
	}
}

// TestServerPublishSnapshotHandoff hands a snapshot key the maintainer
// held to the server, then rotates the server's timestamp key: clients
// follow both through the new roots.
func TestServerPublishSnapshotHandoff(t *testing.T) {
	snapKey, _ := newKey(t, t.TempDir(), "snapshot")
	srv, c, r := newServerRepo(t, repo.InitOptions{Keys: map[string][]string{"snapshot": {snapKey}}})
	add := func(content string) {
		t.Helper()
		if _, err := r.AddFiles(ctx, writeFile(t, filepath.Join(t.TempDir(), "f"), content), "f.txt", repo.AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	add("one")
	publishServer(t, r, c)
	rc := newRampartClient(t, r, c)
	mustGet(t, rc, "f.txt", "one")

	sk, err := c.OnlineKey(ctx, testGUN, "snapshot")
	if err != nil {
		t.Fatal(err)
	}
	local := r.Root().Signed.Roles["snapshot"].KeyIDs[0]
	if err := r.Rotate(ctx, repo.RotateOptions{Role: "snapshot", ServerKeys: []keys.PublicKey{sk.PublicKey}, RemoveKeys: []string{local}}); err != nil {
		t.Fatal(err)
	}
	if n := r.Notes(); len(n) != 0 {
		t.Errorf("handing snapshot to the server nags: %q", n)
	}
	add("two")
	res := publishServer(t, r, c)
	if slices.Contains(res.Roles, "snapshot") || !slices.Equal(res.RootVersions, []int64{2}) {
		t.Errorf("publish after the handoff: %+v, want root 2 and no snapshot sent", res)
	}
	mustGet(t, rc, "f.txt", "two")

	// A new timestamp key, made by the server (admin token).
	admin, _ := apiclient.New(srv.URL, srv.Admin, nil)
	tk, err := admin.RotateOnlineKey(ctx, testGUN, "timestamp")
	if err != nil {
		t.Fatal(err)
	}
	old := r.Root().Signed.Roles["timestamp"].KeyIDs
	if err := r.Rotate(ctx, repo.RotateOptions{Role: "timestamp", ServerKeys: []keys.PublicKey{tk.PublicKey}, RemoveKeys: old}); err != nil {
		t.Fatal(err)
	}
	publishServer(t, r, c)
	ts, err := c.Metadata(ctx, testGUN, "timestamp.json", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	md, err := metadata.ParseTimestamp(ts)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Signatures) != 1 || md.Signatures[0].KeyID != tk.ID() {
		t.Errorf("timestamp signed by %v, want the new key %s", md.Signatures, tk.ID())
	}
	mustGet(t, rc, "f.txt", "two")
	mustGet(t, newRampartClient(t, r, c), "f.txt", "two")

	if err := r.Rotate(ctx, repo.RotateOptions{Role: "targets", ServerKeys: []keys.PublicKey{tk.PublicKey}}); err == nil {
		t.Error("the server was given a targets key")
	}
}

// TestServerPublishBins publishes succinct hashed bins: every bin on the
// first publish, then only the bin that changed.
func TestServerPublishBins(t *testing.T) {
	_, c, r := newServerRepo(t, repo.InitOptions{Bins: 3})
	src := t.TempDir()
	for _, name := range []string{"a", "b", "c"} {
		if _, err := r.AddFiles(ctx, writeFile(t, filepath.Join(src, name), "content "+name), "pkgs/"+name, repo.AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	res := publishServer(t, r, c)
	if len(res.Roles) != 9 || res.TargetsUploaded != 3 {
		t.Errorf("first publish sent %d roles and %d targets, want 9 (targets and 8 bins) and 3", len(res.Roles), res.TargetsUploaded)
	}
	rc := newRampartClient(t, r, c)
	mustGet(t, rc, "pkgs/b", "content b")
	if _, err := r.AddFiles(ctx, writeFile(t, filepath.Join(src, "d"), "content d"), "pkgs/d", repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	res = publishServer(t, r, c)
	if len(res.Roles) != 1 || !strings.HasPrefix(res.Roles[0], "bins-") || res.TargetsUploaded != 1 || res.TargetsPresent != 3 {
		t.Errorf("second publish: %+v, want one bin and one upload", res)
	}
	mustGet(t, rc, "pkgs/d", "content d")
}

// TestServerPublishRefusals: what publish and init refuse, and that a
// refusal leaves nothing on the server or on disk.
func TestServerPublishRefusals(t *testing.T) {
	srv := servertest.Start(t)
	t.Run("no token", func(t *testing.T) {
		c, _ := apiclient.New(srv.URL, "", nil)
		dir := filepath.Join(t.TempDir(), "repo")
		_, err := repo.Init(ctx, dir, repo.InitOptions{Server: c, GUN: testGUN}, plainOpts)
		var ae *apiclient.Error
		if !errors.As(err, &ae) || ae.Status != 401 {
			t.Fatalf("init without a token: %v, want a 401", err)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("a failed init left %s behind", dir)
		}
	})
	t.Run("token for another prefix", func(t *testing.T) {
		c, _ := apiclient.New(srv.URL, srv.Token(t, "push", "example.org"), nil)
		_, err := repo.Init(ctx, filepath.Join(t.TempDir(), "repo"), repo.InitOptions{Server: c, GUN: testGUN}, plainOpts)
		var ae *apiclient.Error
		if !errors.As(err, &ae) || ae.Status != 403 {
			t.Fatalf("init with a token for another prefix: %v, want a 403", err)
		}
	})
	t.Run("timestamp key given", func(t *testing.T) {
		c, _ := apiclient.New(srv.URL, srv.Admin, nil)
		_, pub := newKey(t, t.TempDir(), "ts")
		_, err := repo.Init(ctx, filepath.Join(t.TempDir(), "repo"), repo.InitOptions{Server: c, GUN: testGUN, Keys: map[string][]string{"timestamp": {pub}}}, plainOpts)
		if err == nil || !strings.Contains(err.Error(), "server signs timestamp") {
			t.Fatalf("init with a timestamp key: %v", err)
		}
	})

	c, _ := apiclient.New(srv.URL, srv.Admin, nil)
	gun := "example.com/offline"
	t.Run("below threshold", func(t *testing.T) {
		kd := t.TempDir()
		_, a := newKey(t, kd, "a")
		_, b := newKey(t, kd, "b")
		r := initRepo(t, repo.InitOptions{Server: c, GUN: gun, Thresholds: map[string]int{"targets": 2}, Keys: map[string][]string{"targets": {a, b}}})
		if _, err := r.AddFiles(ctx, writeFile(t, filepath.Join(t.TempDir(), "f"), "x"), "f", repo.AddOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := r.PublishToServer(ctx, c, repo.ServerOptions{})
		var se *repo.SignatureError
		if !errors.As(err, &se) || se.Problems[0].Role != "targets" {
			t.Fatalf("publish below threshold: %v", err)
		}
		if _, err := c.Metadata(ctx, gun, "root.json", 1<<20); !errors.Is(err, apiclient.ErrNotFound) {
			t.Errorf("the refused publish reached the server: %v", err)
		}
		if has, err := c.HasTarget(ctx, gun, "f"); err != nil || has {
			t.Errorf("target uploaded by a refused publish: %v %v", has, err)
		}
	})

	t.Run("changed from another copy", func(t *testing.T) {
		g := "example.com/copies"
		r := initRepo(t, repo.InitOptions{Server: c, GUN: g})
		publishServer(t, r, c)
		dir2 := filepath.Join(t.TempDir(), "copy")
		repotest.CopyDir(t, r.Dir(), dir2)
		r2, err := repo.Open(ctx, dir2, plainOpts)
		if err != nil {
			t.Fatal(err)
		}
		defer r2.Close()
		for i, rr := range []*repo.Repo{r, r2} {
			if _, err := rr.AddFiles(ctx, writeFile(t, filepath.Join(t.TempDir(), "f"), strings.Repeat("x", i+1)), "f", repo.AddOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		publishServer(t, r, c)
		_, err = r2.PublishToServer(ctx, c, repo.ServerOptions{})
		if err == nil || !strings.Contains(err.Error(), "changed apart") {
			t.Fatalf("publishing a stale copy: %v", err)
		}
	})

	t.Run("GUN of another repository", func(t *testing.T) {
		g := "example.com/taken"
		first := initRepo(t, repo.InitOptions{Server: c, GUN: g})
		second := initRepo(t, repo.InitOptions{Server: c, GUN: g}) // before anything was published
		publishServer(t, first, c)
		_, err := second.PublishToServer(ctx, c, repo.ServerOptions{})
		if err == nil || !strings.Contains(err.Error(), "belongs to another repository") {
			t.Fatalf("publishing over another repository: %v", err)
		}
		// Once published, the GUN is refused at Init, and nothing is made.
		dir := filepath.Join(t.TempDir(), "third")
		_, err = repo.Init(ctx, dir, repo.InitOptions{Server: c, GUN: g}, plainOpts)
		if !errors.Is(err, repo.ErrExistsOnServer) {
			t.Fatalf("Init of a published GUN: %v", err)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Fatal("the refused Init left its directory")
		}
	})

	t.Run("not a server repository", func(t *testing.T) {
		_, err := initRepo(t, repo.InitOptions{}).PublishToServer(ctx, c, repo.ServerOptions{})
		if !errors.Is(err, repo.ErrNoServer) {
			t.Fatalf("publishing a static repository to a server: %v", err)
		}
	})
}

// TestServerPublishUploadRecord: DIR/uploaded.txt spares the server
// questions about content it has confirmed, survives a torn last line
// (cut off before the record is added to), and is set aside by
// --recheck-targets; small content it does not know is sent without a
// question, larger content is asked about first.
func TestServerPublishUploadRecord(t *testing.T) {
	srv, tr, c, r, addFile := recordedServerRepo(t)
	addFile("a")
	addFile("b")
	publishServer(t, r, c)
	record := filepath.Join(r.Dir(), "uploaded.txt")
	lines := strings.Split(strings.TrimSuffix(string(mustRead(t, record)), "\n"), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], srv.URL) || !strings.Contains(lines[0], testGUN) {
		t.Fatalf("upload record after two uploads:\n%s", strings.Join(lines, "\n"))
	}

	// A torn last line, as a crash mid-append leaves it.
	f, err := os.OpenFile(record, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("files/0123")
	f.Close()
	addFile("c")
	tr.Reset()
	res := publishServer(t, r, c)
	if heads, puts := tr.Count(http.MethodHead), tr.Count(http.MethodPut); heads != 0 || puts != 1 || res.TargetsUploaded != 1 || res.TargetsPresent != 2 {
		t.Errorf("publish of one new small file asked %d HEADs (want 0), sent %d PUTs (want 1) and reported %+v", heads, puts, res)
	}
	lines = strings.Split(string(mustRead(t, record)), "\n")
	if len(lines) != 5 || lines[4] != "" || !strings.HasPrefix(lines[3], "files/") || !strings.HasSuffix(lines[3], ".c") {
		t.Errorf("upload record after the torn line and one more upload:\n%s", strings.Join(lines, "\n"))
	}

	// Larger content is asked about before it is sent.
	big := writeFile(t, filepath.Join(t.TempDir(), "big"), strings.Repeat("x", 100<<10))
	if _, err := r.AddFiles(ctx, big, "files/big", repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	tr.Reset()
	res = publishServer(t, r, c)
	if heads, puts := tr.Count(http.MethodHead), tr.Count(http.MethodPut); heads != 1 || puts != 1 || res.TargetsUploaded != 1 || res.TargetsPresent != 3 {
		t.Errorf("publish of one new 100 KiB file asked %d HEADs (want 1), sent %d PUTs (want 1) and reported %+v", heads, puts, res)
	}

	tr.Reset()
	res, err = r.PublishToServer(ctx, c, repo.ServerOptions{RecheckTargets: true})
	if err != nil {
		t.Fatal(err)
	}
	if heads, puts := tr.Count(http.MethodHead), tr.Count(http.MethodPut); heads != 4 || puts != 0 || res.TargetsPresent != 4 || res.TargetsUploaded != 0 {
		t.Errorf("recheck asked %d HEADs (want 4), sent %d PUTs (want 0) and reported %+v", heads, puts, res)
	}
	if n := strings.Count(string(mustRead(t, record)), "\n"); n != 5 {
		t.Errorf("upload record has %d lines, want a header and 4 files", n)
	}

	// A record torn within its header line is started afresh.
	if err := os.WriteFile(record, []byte(lines[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	addFile("d")
	res = publishServer(t, r, c)
	if res.TargetsUploaded+res.TargetsPresent != 5 {
		t.Errorf("publish after a torn header reported %+v, want 5 files uploaded or present", res)
	}
	if n := strings.Count(string(mustRead(t, record)), "\n"); n != 6 {
		t.Errorf("upload record has %d lines, want a header and 5 files", n)
	}
}

// TestServerPublishTooLarge: an update with a document larger than the
// server takes in one request is refused whole, naming the server setting
// that bounds it (larger updates of small documents go up in parts: see
// TestServerPublishStaged).
func TestServerPublishTooLarge(t *testing.T) {
	srv := servertest.Start(t, func(c *server.Config) { c.MaxMetadataBytes = 512 })
	c, err := apiclient.New(srv.URL, srv.Admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := initRepo(t, repo.InitOptions{Server: c, GUN: testGUN, Bins: 4})
	_, err = r.PublishToServer(ctx, c, repo.ServerOptions{})
	if err == nil || !strings.Contains(err.Error(), "more than the 512 bytes") || !strings.Contains(err.Error(), "--max-metadata-bytes") {
		t.Fatalf("publishing an update over the server's limit: %v", err)
	}
	if _, err := c.Metadata(ctx, testGUN, "root.json", 1<<20); !errors.Is(err, apiclient.ErrNotFound) {
		t.Errorf("part of the refused update reached the server: %v", err)
	}
}

// recordedServerRepo starts a server and makes a repository on it whose
// client's requests are recorded; addFile adds files/NAME with the content
// "content of NAME".
func recordedServerRepo(t *testing.T) (*servertest.Server, *servertest.Recorder, *apiclient.Client, *repo.Repo, func(name string)) {
	t.Helper()
	srv, rt, c := recordedServer(t)
	r := initRepo(t, repo.InitOptions{Server: c, GUN: testGUN})
	src := t.TempDir()
	addFile := func(name string) {
		t.Helper()
		if _, err := r.AddFiles(ctx, writeFile(t, filepath.Join(src, name), "content of "+name), "files/"+name, repo.AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return srv, rt, c, r, addFile
}

// recordedServer starts a server and returns a client of it whose
// requests are recorded.
func recordedServer(t *testing.T) (*servertest.Server, *servertest.Recorder, *apiclient.Client) {
	t.Helper()
	srv := servertest.Start(t)
	rt := &servertest.Recorder{}
	c, err := apiclient.New(srv.URL, srv.Admin, &http.Client{Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	return srv, rt, c
}

// lyingAnswer is a real server's client whose answers to a publish are
// changed by alter.
type lyingAnswer struct {
	*apiclient.Client
	alter func(*api.PublishResult)
}

func (l lyingAnswer) PublishChain(ctx context.Context, gun string, roots [][]byte, roles map[string][]byte, ifMatch string) (*api.PublishResult, error) {
	res, err := l.Client.PublishChain(ctx, gun, roots, roles, ifMatch)
	if err == nil {
		l.alter(res)
	}
	return res, err
}

// TestServerPublishTrustsItsAnswer: a publish ends with the POST, whose
// answer gives the server's new versions (the state is not read back), and
// an answer that does not match what was sent is an error.
func TestServerPublishTrustsItsAnswer(t *testing.T) {
	_, rt, c, r, addFile := recordedServerRepo(t)
	addFile("a")
	publishServer(t, r, c)
	addFile("b")
	rt.Reset()
	res := publishServer(t, r, c)
	reqs := rt.Requests()
	if len(reqs) == 0 || !strings.HasPrefix(reqs[len(reqs)-1], http.MethodPost) {
		t.Errorf("the publish did not end with its POST: %q", reqs)
	}
	// Root, timestamp and snapshot read back, the new file sent unasked,
	// the update: nothing more.
	if len(reqs) != 5 || rt.Count(http.MethodGet) != 3 || rt.Count(http.MethodPut) != 1 {
		t.Errorf("the publish of one new file made the requests %q, want 3 GETs, a PUT and the POST", reqs)
	}
	if res.TimestampVersion != 2 || res.RootVersion != 1 {
		t.Errorf("publish result: root %d, timestamp %d; want 1 and 2", res.RootVersion, res.TimestampVersion)
	}
	rc := newRampartClient(t, r, c)
	mustGet(t, rc, "files/b", "content of b")

	for _, tc := range []struct {
		name  string
		alter func(*api.PublishResult)
		want  string
	}{
		{"root version", func(p *api.PublishResult) { p.RootVersion++ }, "answered that it serves root version 2, not 1"},
		{"timestamp not newer", func(p *api.PublishResult) { p.TimestampVersion = 1 }, "answered timestamp version 1, not newer"},
		{"other GUN", func(p *api.PublishResult) { p.GUN = "example.com/other" }, "answered for the GUN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addFile(tc.name)
			_, err := r.PublishToServer(ctx, lyingAnswer{c, tc.alter}, repo.ServerOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("publish with a wrong answer: %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestServerPublishRecordOfLostStore: a server that the upload record
// says has the content, but which has no metadata of the repository (its
// store was lost), is sent all the content again, before any metadata,
// though the upload of new content starts while its state is read. (Its
// new online keys then make it refuse the metadata, as before.)
func TestServerPublishRecordOfLostStore(t *testing.T) {
	_, _, c, r, addFile := recordedServerRepo(t)
	addFile("a")
	addFile("b")
	publishServer(t, r, c)
	_, tr, c2 := recordedServer(t)
	if _, err := c2.CreateRepository(ctx, testGUN); err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(r.Dir(), "uploaded.txt")
	header, rest, _ := strings.Cut(string(mustRead(t, record)), "\n")
	header = strings.Replace(header, c.URL(), c2.URL(), 1)
	if err := os.WriteFile(record, []byte(header+"\n"+rest), 0o644); err != nil {
		t.Fatal(err)
	}
	addFile("c")
	tr.Reset()
	_, err := r.PublishToServer(ctx, c2, repo.ServerOptions{})
	if err == nil || !strings.Contains(err.Error(), "online-key") {
		t.Errorf("publish to the server's new keys: %v, want a refusal for the online keys", err)
	}
	reqs := tr.Requests()
	post := slices.IndexFunc(reqs, func(q string) bool { return strings.HasPrefix(q, http.MethodPost+" ") })
	put := map[string]bool{}
	for i, q := range reqs {
		if p, ok := strings.CutPrefix(q, http.MethodPut+" "); ok {
			put[path.Base(p)] = true
			if post >= 0 && i > post {
				t.Errorf("%s after the metadata", q)
			}
		}
	}
	if !put["a"] || !put["b"] || !put["c"] || post < 0 {
		t.Errorf("publish to a server without the repository's metadata did not send a, b and c, then the metadata:\n%s", strings.Join(reqs, "\n"))
	}
}
