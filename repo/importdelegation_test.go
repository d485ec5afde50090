package repo_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// outsideRepo is another organisation's repository on loopback, whose
// targets role delegates partner/* to the role "partner".
func outsideRepo(t *testing.T) (*repotest.Repo, string) {
	t.Helper()
	o := repotest.New(t)
	o.AddTarget("targets", "outside/own.txt", []byte("theirs"))
	o.Delegate("targets", "partner", []string{"partner/*"}, false)
	o.AddTarget("partner", "partner/tool.tgz", []byte("tool 1.0"))
	o.Publish()
	return o, o.Serve().URL
}

func importFrom(t *testing.T, r *repo.Repo, url string, root []byte) (*repo.ImportResult, error) {
	t.Helper()
	imp, _, err := repo.ReadImport(ctx, r.Dir(), "partner", repo.ImportSource{URL: url, Root: root})
	if err != nil {
		return nil, err
	}
	return r.ImportDelegation(ctx, imp)
}

// insideClient reads the inside repository's published directory with
// Rampart's client and with go-tuf's.
func checkInside(t *testing.T, r *repo.Repo, pub, path, want string) {
	t.Helper()
	checkInsideRole(t, r, pub, path, want, "partner")
}

// checkInsideRole is checkInside for a target of role.
func checkInsideRole(t *testing.T, r *repo.Repo, pub, path, want, role string) {
	t.Helper()
	base := serve(t, pub).URL
	root, _ := os.ReadFile(filepath.Join(r.Dir(), "roots", "1.root.json"))
	dir := t.TempDir()
	if err := client.Init(dir, root); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{MetadataURL: base + "/metadata", TargetsURL: base + "/targets", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Target(ctx, path)
	if err != nil {
		t.Fatalf("rampart client inside, %s: %v", path, err)
	}
	var buf bytes.Buffer
	if err := c.Download(ctx, info, &buf); err != nil || buf.String() != want || info.Role != role {
		t.Fatalf("rampart client inside, %s: %q from %s, %v", path, buf.String(), info.Role, err)
	}
	g := newGoTUF(t, pub)
	if err := g.refresh(); err != nil {
		t.Fatalf("go-tuf inside: %v", err)
	}
	if got, err := g.get(path); err != nil || string(got) != want {
		t.Fatalf("go-tuf inside, %s: %q, %v", path, got, err)
	}
}

func TestImportDelegation(t *testing.T) {
	outside, url := outsideRepo(t)
	r := initRepo(t, repo.InitOptions{})
	if _, err := r.AddFiles(ctx, writeFile(t, filepath.Join(t.TempDir(), "own"), "ours"), "inside/own.txt", repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := importFrom(t, r, url, nil); err == nil || !strings.Contains(err.Error(), "--root") {
		t.Fatalf("a first import without a root: %v", err)
	}
	res, err := importFrom(t, r, url, outside.RootBytes(1))
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 1 || !res.Delegation || res.Targets != 1 {
		t.Fatalf("import: %+v", res)
	}
	pub := filepath.Join(t.TempDir(), "pub")
	publish(t, r, pub)
	checkInside(t, r, pub, "partner/tool.tgz", "tool 1.0")
	inside, _ := os.ReadFile(filepath.Join(pub, "metadata", "1.partner.json"))
	if !bytes.Equal(inside, outside.Meta("partner")) {
		t.Fatal("the role inside is not the outside role byte for byte")
	}
	if _, err := r.Status(ctx); err != nil {
		t.Fatalf("status with an imported role: %v", err)
	}
	// Only the role made here: the outside targets role is not imported.
	if _, err := os.Stat(filepath.Join(pub, "targets", "outside")); !os.IsNotExist(err) {
		t.Fatal("content of another outside role was imported")
	}

	// The same again: nothing to do. A newer version replaces it.
	if res, err := importFrom(t, r, url, nil); err != nil || !res.UpToDate {
		t.Fatalf("re-import: %+v, %v", res, err)
	}
	outside.AddTarget("partner", "partner/tool-2.tgz", []byte("tool 2.0"))
	outside.Publish()
	if res, err = importFrom(t, r, url, nil); err != nil || res.Version != 2 || res.Previous != 1 || res.Delegation {
		t.Fatalf("newer version: %+v, %v", res, err)
	}
	publish(t, r, pub)
	checkInside(t, r, pub, "partner/tool-2.tgz", "tool 2.0")
	inside, _ = os.ReadFile(filepath.Join(pub, "metadata", "2.partner.json"))
	if !bytes.Equal(inside, outside.Meta("partner")) {
		t.Fatal("version 2 inside is not the outside role byte for byte")
	}

	// An older version is refused.
	old := outside.File("metadata/1.partner.json")
	imp := &repo.ImportedRole{Role: "partner", Data: old, Source: url}
	if _, err := r.ImportDelegation(ctx, imp); err == nil || !strings.Contains(err.Error(), "older than version 2") {
		t.Fatalf("older version: %v", err)
	}
	// The imported role is never signed here.
	if _, err := r.Refresh(ctx, "partner"); err == nil || !strings.Contains(err.Error(), "imported") {
		t.Fatalf("refreshing the imported role: %v", err)
	}
	if _, err := r.Refresh(ctx); err != nil {
		t.Fatalf("refresh of what needs it: %v", err)
	}
	// A role made here cannot be replaced by an import.
	_, pubKey := newKey(t, t.TempDir(), "mine")
	if err := r.Delegate(ctx, repo.DelegateOptions{Role: "mine", Keys: []string{pubKey}, Paths: []string{"mine/*"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ImportDelegation(ctx, &repo.ImportedRole{Role: "mine", Data: old}); err == nil || !strings.Contains(err.Error(), "made in this repository") {
		t.Fatalf("import over a role made here: %v", err)
	}
}

func TestImportDelegationRefusesTampering(t *testing.T) {
	outside, url := outsideRepo(t)
	r := initRepo(t, repo.InitOptions{})
	if _, err := importFrom(t, r, url, outside.RootBytes(1)); err != nil {
		t.Fatal(err)
	}
	staged, _ := os.ReadFile(filepath.Join(r.Dir(), "staged", "partner.json"))
	snap, _ := os.ReadFile(filepath.Join(r.Dir(), "staged", "snapshot.json"))

	// A newer partner role signed by a key the outside delegation does
	// not trust.
	outside.AddTarget("partner", "partner/evil.tgz", []byte("evil"))
	outside.Publish()
	p := "metadata/2.partner.json"
	outside.SetFile(p, repotest.Forge[*metadata.Targets](t, outside.File(p), nil, repotest.NewSigner(t)))
	if _, err := importFrom(t, r, url, nil); err == nil || !strings.Contains(err.Error(), "partner.json") {
		t.Fatalf("forged outside role: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(r.Dir(), "staged", "partner.json"))
	snapAfter, _ := os.ReadFile(filepath.Join(r.Dir(), "staged", "snapshot.json"))
	if !bytes.Equal(staged, after) || !bytes.Equal(snap, snapAfter) {
		t.Fatal("a refused import changed the repository")
	}
}

// TestImportDelegationRefusesDelegatingRole: an outside role that
// delegates further is refused, naming the roles it delegates to, and
// leaves the repository as it was; its leaf role imports on its own and
// serves its targets inside.
func TestImportDelegationRefusesDelegatingRole(t *testing.T) {
	outside, url := outsideRepo(t)
	outside.Delegate("partner", "partner-sub", []string{"partner/sub-*"}, false)
	outside.AddTarget("partner-sub", "partner/sub-lib.tgz", []byte("lib 1.0"))
	outside.Publish()
	r := initRepo(t, repo.InitOptions{})
	before := treeHash(t, r.Dir())
	_, err := importFrom(t, r, url, outside.RootBytes(1))
	if err == nil || !strings.Contains(err.Error(), "partner delegates to other roles (partner-sub)") {
		t.Fatalf("import of a role that delegates further: %v", err)
	}
	if treeHash(t, r.Dir()) != before {
		t.Fatal("a refused import changed the repository")
	}
	// The same role handed to ImportDelegation directly is refused too.
	imp := &repo.ImportedRole{Role: "partner", Data: outside.Meta("partner"), Source: url}
	if _, err := r.ImportDelegation(ctx, imp); err == nil || !strings.Contains(err.Error(), "delegates to other roles") {
		t.Fatalf("ImportDelegation of a role that delegates further: %v", err)
	}

	// The leaf role, delegated by partner outside, imports on its own.
	sub, _, err := repo.ReadImport(ctx, r.Dir(), "partner-sub", repo.ImportSource{URL: url, Root: outside.RootBytes(1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.ImportDelegation(ctx, sub); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(t.TempDir(), "pub")
	publish(t, r, pub)
	got, _ := os.ReadFile(filepath.Join(pub, "metadata", "1.partner-sub.json"))
	if !bytes.Equal(got, outside.Meta("partner-sub")) {
		t.Fatal("the leaf role inside is not the outside role byte for byte")
	}
	checkInsideRole(t, r, pub, "partner/sub-lib.tgz", "lib 1.0", "partner-sub")
}

// TestImportDelegationServer installs an outside role in a repository on
// a metadata server, which signs snapshot and timestamp.
func TestImportDelegationServer(t *testing.T) {
	outside, url := outsideRepo(t)
	_, c, r := newServerRepo(t, repo.InitOptions{})
	if _, err := importFrom(t, r, url, outside.RootBytes(1)); err != nil {
		t.Fatal(err)
	}
	publishServer(t, r, c)
	rc := newRampartClient(t, r, c)
	mustGet(t, rc, "partner/tool.tgz", "tool 1.0")
	got, err := c.Metadata(ctx, testGUN, "1.partner.json", 1<<20)
	if err != nil || !bytes.Equal(got, outside.Meta("partner")) {
		t.Fatalf("the server's partner role is not the outside one byte for byte (%v)", err)
	}
	outside.AddTarget("partner", "partner/tool-2.tgz", []byte("tool 2.0"))
	outside.Publish()
	if _, err := importFrom(t, r, url, nil); err != nil {
		t.Fatal(err)
	}
	publishServer(t, r, c)
	mustGet(t, rc, "partner/tool-2.tgz", "tool 2.0")
}

func bundleOf(t *testing.T, outside *repotest.Repo, url string, targets ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := client.Init(dir, outside.RootBytes(1)); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{MetadataURL: url + "/metadata", TargetsURL: url + "/targets", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.WriteBundle(ctx, &buf, targets); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "bundle")
	os.WriteFile(p, buf.Bytes(), 0o644)
	return p
}

func TestImportDelegationFromBundle(t *testing.T) {
	outside, url := outsideRepo(t)
	old := bundleOf(t, outside, url) // no target content
	outside.AddTarget("partner", "partner/tool-2.tgz", []byte("tool 2.0"))
	outside.Publish()
	newer := bundleOf(t, outside, url, "partner/tool.tgz", "partner/tool-2.tgz")

	r := initRepo(t, repo.InitOptions{})
	imp, tofu, err := repo.ReadImport(ctx, r.Dir(), "partner", repo.ImportSource{Bundle: newer, Root: outside.RootBytes(1)})
	if err != nil || tofu {
		t.Fatalf("ReadImport: %v (trusted the bundle's root: %v)", err, tofu)
	}
	if res, err := r.ImportDelegation(ctx, imp); err != nil || res.Version != 2 || res.Targets != 2 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	pub := filepath.Join(t.TempDir(), "pub")
	publish(t, r, pub)
	checkInside(t, r, pub, "partner/tool-2.tgz", "tool 2.0")

	// The older bundle is refused by the chain kept for partner.
	staged, _ := os.ReadFile(filepath.Join(r.Dir(), "staged", "partner.json"))
	if _, _, err := repo.ReadImport(ctx, r.Dir(), "partner", repo.ImportSource{Bundle: old}); err == nil || !strings.Contains(err.Error(), "rollback") {
		t.Fatalf("an older bundle: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(r.Dir(), "staged", "partner.json")); !bytes.Equal(staged, after) {
		t.Fatal("a refused bundle changed the role")
	}

	// A first import from a bundle alone trusts its oldest root, says so,
	// and names the targets it did not carry.
	r2 := initRepo(t, repo.InitOptions{})
	imp, tofu, err = repo.ReadImport(ctx, r2.Dir(), "partner", repo.ImportSource{Bundle: old})
	if err != nil || !tofu || len(imp.Missing) != 1 || imp.Missing[0] != "partner/tool.tgz" {
		t.Fatalf("bundle alone: %+v, tofu %v, %v", imp, tofu, err)
	}
}
