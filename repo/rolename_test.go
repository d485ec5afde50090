package repo_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
		{"root/x", "only targets may begin"},
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
