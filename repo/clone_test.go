package repo_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/repo"
)

// TestServerClone: a maintainer without the repository's directory clones
// it from the server with a root obtained out of band and a key of their
// own, then changes and publishes it.
func TestServerClone(t *testing.T) {
	kd := t.TempDir()
	targetsKey, _ := newKey(t, kd, "targets")
	_, c, a := newServerRepo(t, repo.InitOptions{Keys: map[string][]string{"targets": {targetsKey}}})
	root1 := mustRead(t, filepath.Join(a.Dir(), "roots", "1.root.json"))
	addContent(t, a, "one.txt", "1")
	releasesKey, _ := newKey(t, kd, "releases")
	if err := a.Delegate(ctx, repo.DelegateOptions{Role: "releases", Keys: []string{releasesKey}, Paths: []string{"releases/*"}}); err != nil {
		t.Fatal(err)
	}
	addContent(t, a, "releases/r1", "r1")
	_, rootPub := newKey(t, kd, "root-2")
	if err := a.Rotate(ctx, repo.RotateOptions{Role: "root", AddKeys: []string{rootPub}}); err != nil {
		t.Fatal(err)
	}
	publishServer(t, a, c)

	// A root that is not the repository's: refused, nothing left.
	other := mustRead(t, filepath.Join(initRepo(t, repo.InitOptions{}).Dir(), "roots", "1.root.json"))
	dir := filepath.Join(t.TempDir(), "clone")
	if _, _, err := repo.Clone(ctx, dir, repo.CloneOptions{Server: c, GUN: testGUN, Root: other}, plainOpts); err == nil || !strings.Contains(err.Error(), "not the trusted root") {
		t.Fatalf("clone with another repository's root: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a failed clone left %s: %v", dir, err)
	}

	b, res, err := repo.Clone(ctx, dir, repo.CloneOptions{Server: c, GUN: testGUN, Root: root1, Keys: []string{releasesKey}}, plainOpts)
	if err != nil {
		t.Fatalf("Clone: %v", err)
	}
	defer b.Close()
	if !slices.Equal(res.RootVersions, []int64{2}) || !slices.Equal(res.Roles, []string{"releases", "targets"}) {
		t.Errorf("clone fetched %+v", res)
	}
	st, err := b.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Warnings) != 0 {
		t.Errorf("status of the clone warns: %q", st.Warnings)
	}
	// The clone signs releases with its key; targets is not its to sign.
	addContent(t, b, "releases/r2", "r2")
	if n := b.Notes(); len(n) != 0 {
		t.Errorf("adding to releases with its key at hand: %q", n)
	}
	publishServer(t, b, c)
	rc := newRampartClient(t, a, c)
	mustGet(t, rc, "releases/r2", "r2")
	mustGet(t, rc, "one.txt", "1")
	addContent(t, b, "two.txt", "2")
	if _, err := b.PublishToServer(ctx, c, repo.ServerOptions{}); err == nil || !strings.Contains(err.Error(), "targets") {
		t.Errorf("publish of targets signed by no key of the clone: %v", err)
	}

	// The first maintainer pulls the clone's publish.
	if res := pull(t, a, c); !slices.Equal(res.Roles, []string{"releases"}) {
		t.Errorf("pull of the clone's publish: %+v", res)
	}
}

// TestServerCloneBins clones a repository with hashed bins: the clone
// knows the bins and places new targets in them.
func TestServerCloneBins(t *testing.T) {
	_, c, a := newServerRepo(t, repo.InitOptions{Bins: 2})
	addContent(t, a, "pkgs/a", "A")
	publishServer(t, a, c)
	root1 := mustRead(t, filepath.Join(a.Dir(), "roots", "1.root.json"))
	var keys []string
	for _, f := range []string{"targets.key", "bins.key"} {
		keys = append(keys, filepath.Join(a.Dir(), "keys", f))
	}
	b, res, err := repo.Clone(ctx, filepath.Join(t.TempDir(), "clone"), repo.CloneOptions{Server: c, GUN: testGUN, Root: root1, Keys: keys}, plainOpts)
	if err != nil {
		t.Fatalf("Clone: %v", err)
	}
	defer b.Close()
	if len(res.Roles) != 5 {
		t.Errorf("clone fetched %d roles, want targets and 4 bins: %v", len(res.Roles), res.Roles)
	}
	if bc := b.Config().Bins; bc == nil || bc.Bits != 2 || bc.Prefix != "bins" {
		t.Fatalf("the clone's bins: %+v", bc)
	}
	addContent(t, b, "pkgs/b", "B")
	res2 := publishServer(t, b, c)
	if len(res2.Roles) != 1 || !strings.HasPrefix(res2.Roles[0], "bins-") {
		t.Errorf("publish from the clone sent %v, want one bin", res2.Roles)
	}
	rc := newRampartClient(t, a, c)
	mustGet(t, rc, "pkgs/a", "A")
	mustGet(t, rc, "pkgs/b", "B")
}

// TestServerCloneHoldsFewRoles: a clone and a pull of a repository with
// 256 hashed bins, every one of them changed, hold the bins one at a time:
// the trust set never holds more than targets and one bin, however many
// bins the repository has.
func TestServerCloneHoldsFewRoles(t *testing.T) {
	_, c, a := newServerRepo(t, repo.InitOptions{Bins: 8})
	if _, err := a.AddManifest(ctx, strings.NewReader(manifest(3000)), 0, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	publishServer(t, a, c)
	root1 := mustRead(t, filepath.Join(a.Dir(), "roots", "1.root.json"))
	b, res, err := repo.Clone(ctx, filepath.Join(t.TempDir(), "clone"), repo.CloneOptions{Server: c, GUN: testGUN, Root: root1}, plainOpts)
	if err != nil {
		t.Fatalf("Clone: %v", err)
	}
	defer b.Close()
	if len(res.Roles) != 257 {
		t.Fatalf("clone fetched %d roles, want targets and 256 bins", len(res.Roles))
	}
	if res.MaxRolesHeld != 2 {
		t.Errorf("clone held up to %d roles at once, want 2 (targets and one bin)", res.MaxRolesHeld)
	}

	// Every bin changes; the clone pulls them all.
	m := strings.ReplaceAll(manifest(3000), ".tgz\t", ".tgz-v2\t")
	if _, err := a.AddManifest(ctx, strings.NewReader(m), 0, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	publishServer(t, a, c)
	res = pull(t, b, c)
	if len(res.Roles) != 256 {
		t.Fatalf("pull fetched %d roles, want the 256 bins", len(res.Roles))
	}
	if res.MaxRolesHeld != 2 {
		t.Errorf("pull held up to %d roles at once, want 2 (targets and one bin)", res.MaxRolesHeld)
	}
	st, err := b.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Warnings) != 0 {
		t.Errorf("status of the pulled clone warns: %q", st.Warnings)
	}
}
