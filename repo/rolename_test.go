package repo_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// TestSlashRoleNames delegates to roles whose names have '/' (CNAB's and
// Notary's "targets/releases", and a role it delegates to), publishes, and
// checks the layout (metadata/N.targets/releases.json, as clients ask a
// static server for it) and that Rampart's client and go-tuf's, over
// net/http's FileServer, find targets through them.
func TestSlashRoleNames(t *testing.T) {
	r := initRepo(t, repo.InitOptions{})
	kd := filepath.Join(r.Dir(), "keys")
	rel, _ := newKey(t, kd, "releases")
	beta, _ := newKey(t, kd, "beta")
	if err := r.Delegate(ctx, repo.DelegateOptions{Role: "targets/releases", Keys: []string{rel}, Paths: []string{"releases/*"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.Delegate(ctx, repo.DelegateOptions{Role: "targets/releases/beta", From: "targets/releases", Keys: []string{beta}, Paths: []string{"releases/beta-*"}}); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	for p, c := range map[string]string{"releases/app-1.0": "app 1.0", "releases/beta-2.0": "beta 2.0"} {
		f := writeFile(t, filepath.Join(src, filepath.Base(p)), c)
		if _, err := r.AddFiles(ctx, f, p, repo.AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pub := filepath.Join(t.TempDir(), "pub")
	publish(t, r, pub)

	// Working copy: one file per role, '/' percent-encoded.
	staged, _ := os.ReadDir(filepath.Join(r.Dir(), "staged"))
	var names []string
	for _, e := range staged {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	for _, want := range []string{"targets%2Freleases.json", "targets%2Freleases%2Fbeta.json"} {
		if !slices.Contains(names, want) {
			t.Errorf("staged/ holds %v, want %s", names, want)
		}
	}
	// Published tree: the role name as a relative path.
	snap := publishedSnapshot(t, pub)
	for _, role := range []string{"targets/releases", "targets/releases/beta"} {
		v := snap.Signed.Meta[role+".json"].Version
		p := fmt.Sprintf("metadata/%d.%s.json", v, role)
		if fi, err := os.Stat(filepath.Join(pub, filepath.FromSlash(p))); v == 0 || err != nil || !fi.Mode().IsRegular() {
			t.Errorf("snapshot lists %s version %d; published %s: %v", role, v, p, err)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(pub, "metadata", "*", ".tmp-*"))
	if m, _ := filepath.Glob(filepath.Join(pub, "metadata", "*%*")); len(m)+len(leftovers) > 0 {
		t.Errorf("published escaped names or temporary files: %v %v", m, leftovers)
	}
	checkInsideRole(t, r, pub, "releases/app-1.0", "app 1.0", "targets/releases")
	checkInsideRole(t, r, pub, "releases/beta-2.0", "beta 2.0", "targets/releases/beta")

	// Reopened, changed and published again: the next version next to the first.
	r = reopen(t, r)
	f := writeFile(t, filepath.Join(src, "app-1.1"), "app 1.1")
	if _, err := r.AddFiles(ctx, f, "releases/app-1.1", repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	publish(t, r, pub)
	v := snap.Signed.Meta["targets/releases.json"].Version + 1
	if got := publishedSnapshot(t, pub).Signed.Meta["targets/releases.json"].Version; got != v {
		t.Errorf("second publish: targets/releases version %d, want %d", got, v)
	}
	if _, err := os.Stat(filepath.Join(pub, "metadata", fmt.Sprintf("%d.targets", v), "releases.json")); err != nil {
		t.Errorf("second publish: %v", err)
	}
	checkInsideRole(t, r, pub, "releases/app-1.1", "app 1.1", "targets/releases")
}

// TestRoleNameRefused checks that a role name that is not a safe relative
// path is refused before anything is written, inside or outside the
// repository.
func TestRoleNameRefused(t *testing.T) {
	r := initRepo(t, repo.InitOptions{})
	k, _ := newKey(t, filepath.Join(r.Dir(), "keys"), "k")
	before := listTree(t, filepath.Dir(r.Dir()))
	for _, tc := range []struct{ role, want string }{
		{"targets/../x", `role name "targets/../x"`},
		{"../escape", `role name "../escape"`},
		{"/abs", `role name "/abs"`},
		{"x/", `role name "x/"`},
		{"a//b", `role name "a//b"`},
		{"a/./b", `role name "a/./b"`},
		{"root/x", "may begin with targets/ but not with"},
		{"a\x00b", `role name "a\x00b"`},
		{"x.json", "may not end in .json"},
		{strings.Repeat("r/", 128) + "r", "at most 255"},
		{"targets", "top-level role"},
	} {
		err := r.Delegate(ctx, repo.DelegateOptions{Role: tc.role, Keys: []string{k}, Paths: []string{"*"}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Delegate(%q) = %v, want an error containing %q", tc.role, err, tc.want)
		}
	}
	if after := listTree(t, filepath.Dir(r.Dir())); !slices.Equal(before, after) {
		t.Errorf("refused delegations changed the files:\nbefore %v\nafter  %v", before, after)
	}
}

func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() != ".lock" {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// publishedSnapshot reads the snapshot the published timestamp names.
func publishedSnapshot(t *testing.T, pub string) *metadata.Metadata[*metadata.Snapshot] {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pub, "metadata", "timestamp.json"))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := metadata.ParseTimestamp(b)
	if err != nil {
		t.Fatal(err)
	}
	b, err = os.ReadFile(filepath.Join(pub, "metadata", fmt.Sprintf("%d.snapshot.json", ts.Signed.SnapshotMeta().Version)))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := metadata.ParseSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// TestSlashRoleOnServer publishes a repository with "targets/releases" to
// the metadata server; Rampart's client and go-tuf's (which both request
// 3.targets%2Freleases.json) fetch a target through it, and a clone of the
// repository (which requests 3.targets/releases.json) pulls it and
// publishes a change.
func TestSlashRoleOnServer(t *testing.T) {
	kd := t.TempDir()
	targetsKey, _ := newKey(t, kd, "targets")
	relKey, _ := newKey(t, kd, "releases")
	_, c, r := newServerRepo(t, repo.InitOptions{Keys: map[string][]string{"targets": {targetsKey}}})
	if err := r.Delegate(ctx, repo.DelegateOptions{Role: "targets/releases", Keys: []string{relKey}, Paths: []string{"releases/*"}}); err != nil {
		t.Fatal(err)
	}
	addContent(t, r, "releases/app-1.0", "app 1.0")
	if res := publishServer(t, r, c); !slices.Equal(res.Roles, []string{"targets", "targets/releases"}) {
		t.Errorf("published roles %v", res.Roles)
	}
	rc := newRampartClient(t, r, c)
	mustGet(t, rc, "releases/app-1.0", "app 1.0")
	gotuf := &goTUFClient{t: t, base: c.RepositoryURL(testGUN), root: mustRead(t, filepath.Join(r.Dir(), "roots", "1.root.json")), cache: t.TempDir()}
	if err := gotuf.refresh(); err != nil {
		t.Fatalf("go-tuf refresh: %v", err)
	}
	if data, err := gotuf.get("releases/app-1.0"); err != nil || string(data) != "app 1.0" {
		t.Fatalf("go-tuf get: %q, %v", data, err)
	}

	dir := filepath.Join(t.TempDir(), "clone")
	b, res, err := repo.Clone(ctx, dir, repo.CloneOptions{Server: c, GUN: testGUN, Root: mustRead(t, filepath.Join(r.Dir(), "roots", "1.root.json")), Keys: []string{relKey}}, plainOpts)
	if err != nil {
		t.Fatalf("Clone: %v", err)
	}
	defer b.Close()
	if !slices.Contains(res.Roles, "targets/releases") {
		t.Errorf("clone fetched %+v", res)
	}
	addContent(t, b, "releases/app-1.1", "app 1.1")
	publishServer(t, b, c)
	mustGet(t, rc, "releases/app-1.1", "app 1.1")
	if _, err := r.PullFromServer(ctx, c); err != nil {
		t.Fatalf("pull of the clone's change: %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.Dir(), "staged", "targets%2Freleases.json")); err != nil {
		t.Errorf("pulled role: %v", err)
	}
}

// TestImportSlashRole imports Notary's and CNAB's "targets/releases" from
// an outside repository: its state is kept in one directory named as its
// staged file (imports/targets%2Freleases), and it is published at
// metadata/1.targets/releases.json, byte for byte. A role name that would
// leave the imports directory is refused before anything is written.
func TestImportSlashRole(t *testing.T) {
	o := repotest.New(t)
	o.Delegate("targets", "targets/releases", []string{"releases/*"}, false)
	o.AddTarget("targets/releases", "releases/tool.tgz", []byte("tool 1.0"))
	o.Publish()
	url := o.Serve().URL
	r := initRepo(t, repo.InitOptions{})
	imp, _, err := repo.ReadImport(ctx, r.Dir(), "targets/releases", repo.ImportSource{URL: url, Root: o.RootBytes(1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.ImportDelegation(ctx, imp); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(r.Dir(), "imports", "targets%2Freleases")); err != nil || !fi.IsDir() {
		t.Errorf("import state: %v", err)
	}
	pub := filepath.Join(t.TempDir(), "pub")
	publish(t, r, pub)
	if got, _ := os.ReadFile(filepath.Join(pub, "metadata", "1.targets", "releases.json")); !bytes.Equal(got, o.Meta("targets/releases")) {
		t.Error("published targets/releases is not the outside role byte for byte")
	}
	checkInsideRole(t, r, pub, "releases/tool.tgz", "tool 1.0", "targets/releases")

	before := listTree(t, filepath.Dir(r.Dir()))
	for _, role := range []string{"../x", "targets/../../x", "/abs", "a//b"} {
		if _, _, err := repo.ReadImport(ctx, r.Dir(), role, repo.ImportSource{URL: url, Root: o.RootBytes(1)}); err == nil || !strings.Contains(err.Error(), "invalid role name") {
			t.Errorf("ReadImport(%q): %v, want an invalid role name", role, err)
		}
	}
	if after := listTree(t, filepath.Dir(r.Dir())); !slices.Equal(before, after) {
		t.Errorf("refused imports changed the files:\nbefore %v\nafter  %v", before, after)
	}
}

// TestMergeSlashRole collects signatures of "targets/releases", threshold
// 2, from a copy of the repository (its directory, then its staged
// targets%2Freleases.json) and from a published directory
// (metadata/N.targets/releases.json), and publishes it.
func TestMergeSlashRole(t *testing.T) {
	r := initRepo(t, repo.InitOptions{})
	kd := t.TempDir()
	k1, p1 := newKey(t, kd, "k1")
	k2, p2 := newKey(t, kd, "k2")
	if err := r.Delegate(ctx, repo.DelegateOptions{Role: "targets/releases", Keys: []string{p1, p2}, Threshold: 2, Paths: []string{"releases/*"}}); err != nil {
		t.Fatal(err)
	}
	addContent(t, r, "releases/app", "app")
	pub := filepath.Join(t.TempDir(), "pub")
	if _, err := r.Publish(ctx, pub); err == nil || !strings.Contains(err.Error(), "targets/releases") {
		t.Fatalf("publish below the threshold: %v", err)
	}
	signedCopy := func(key string, alsoKey ...string) string {
		dir := filepath.Join(t.TempDir(), "copy")
		repotest.CopyDir(t, r.Dir(), dir)
		o, err := repo.Open(ctx, dir, plainOpts)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		for _, k := range append([]string{key}, alsoKey...) {
			if _, err := o.Sign(ctx, "targets/releases", loadKey(t, k)); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	if res, err := r.Merge(ctx, signedCopy(k1)); err != nil || !slices.Contains(res.Signed, "targets/releases") {
		t.Fatalf("merge of a copy's directory: %+v, %v", res, err)
	}
	staged := filepath.Join(signedCopy(k2), "staged", "targets%2Freleases.json")
	if res, err := r.Merge(ctx, staged); err != nil || !slices.Contains(res.Signed, "targets/releases") {
		t.Fatalf("merge of %s: %+v, %v", staged, res, err)
	}
	publish(t, r, pub)
	checkInsideRole(t, r, pub, "releases/app", "app", "targets/releases")

	// Signatures of the next version, from a copy that published it.
	addContent(t, r, "releases/app-2", "app 2")
	other := signedCopy(k1, k2)
	o, err := repo.Open(ctx, other, plainOpts)
	if err != nil {
		t.Fatal(err)
	}
	otherPub := filepath.Join(t.TempDir(), "pub")
	publish(t, o, otherPub)
	o.Close()
	v := publishedSnapshot(t, otherPub).Signed.Meta["targets/releases.json"].Version
	published := filepath.Join(otherPub, "metadata", fmt.Sprintf("%d.targets", v), "releases.json")
	if res, err := r.Merge(ctx, published); err != nil || !slices.Contains(res.Signed, "targets/releases") {
		t.Fatalf("merge of %s: %+v, %v", published, res, err)
	}
	publish(t, r, pub)
	checkInsideRole(t, r, pub, "releases/app-2", "app 2", "targets/releases")
}
