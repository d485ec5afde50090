package repo_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/intototest"
	"github.com/rampart-tuf/rampart/intoto"
	"github.com/rampart-tuf/rampart/repo"
)

// buildFiles writes a build's layout, links and package into a directory.
type buildFiles struct {
	pkg, layout string
	links       []string
}

func writeBuild(t *testing.T, b *intototest.Build) buildFiles {
	t.Helper()
	dir := t.TempDir()
	f := buildFiles{pkg: filepath.Join(dir, intototest.PackageName), layout: filepath.Join(dir, "root.layout")}
	must(t, os.WriteFile(f.pkg, b.Package, 0o644))
	must(t, os.WriteFile(f.layout, b.Layout, 0o644))
	for name, data := range b.Links {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, data, 0o644))
		f.links = append(f.links, p)
	}
	slices.Sort(f.links)
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// treeHash sums every file under dir, to show that nothing changed.
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(p, filepath.Join(dir, "targets")) {
			return err
		}
		data, err := os.ReadFile(p)
		h.Write([]byte(p))
		h.Write(data)
		return err
	})
	must(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// clientOf publishes r and returns a client of it.
func clientOf(t *testing.T, r *repo.Repo) *client.Client {
	t.Helper()
	out := filepath.Join(t.TempDir(), "pub")
	publish(t, r, out)
	srv := serve(t, out)
	dir := filepath.Join(t.TempDir(), "client")
	root, err := os.ReadFile(filepath.Join(out, "metadata", "1.root.json"))
	must(t, err)
	must(t, client.Init(dir, root))
	c, err := client.New(client.Config{MetadataURL: srv.URL + "/metadata", TargetsURL: srv.URL + "/targets", Dir: dir})
	must(t, err)
	return c
}

func inTotoList(t *testing.T, custom []byte) []string {
	t.Helper()
	var c struct {
		InToto []string `json:"in-toto"`
	}
	if err := json.Unmarshal(custom, &c); err != nil {
		t.Fatalf("custom %s: %v", custom, err)
	}
	return c.InToto
}

func TestAddInTotoITE2(t *testing.T) {
	k := intototest.NewKeys(t)
	good := writeBuild(t, k.Build(t, intototest.Options{}))
	other := writeBuild(t, k.Build(t, intototest.Options{Source: "print('second build')\n"}))
	owner := filepath.Join(k.Dir, "owner.pub")
	ownerKey, err := intoto.ParsePublicKey(k.Pub(t, "owner"))
	must(t, err)

	r := initRepo(t, repo.InitOptions{})
	online, _ := newKey(t, t.TempDir(), "online")
	if _, err := r.SetupInToto(ctx, repo.InTotoSetupOptions{Key: online}); err != nil {
		t.Fatal(err)
	}
	add := func(f buildFiles, keys ...string) error {
		_, err := r.AddInToto(ctx, repo.InTotoAddOptions{Package: f.pkg, Layout: f.layout, Links: f.links, Keys: keys})
		return err
	}

	// Refusals change nothing.
	before := treeHash(t, r.Dir())
	renamed := filepath.Join(t.TempDir(), "tester."+filepath.Base(good.links[0])[len("developer."):])
	data, _ := os.ReadFile(good.links[0])
	must(t, os.WriteFile(renamed, data, 0o644))
	refusals := []struct {
		name    string
		f       buildFiles
		keys    []string
		wantErr string
	}{
		{"layout not in the repository, no keys", good, nil, "give the public keys that verify it with --in-toto-key"},
		{"missing link", buildFiles{good.pkg, good.layout, good.links[1:]}, []string{owner}, `in-toto metadata incomplete: step "developer": 0 link(s), the layout requires 1`},
		{"link for an unknown step", buildFiles{good.pkg, good.layout, append(slices.Clone(good.links), renamed)}, []string{owner}, `the layout has no step "tester"`},
		{"package from another build", buildFiles{other.pkg, good.layout, good.links}, []string{owner}, `in-toto verification failed, not adding it`},
		{"keys that did not sign the layout", good, []string{filepath.Join(k.Dir, "rogue.pub")}, "not signed by TUF-delivered key"},
	}
	for _, tc := range refusals {
		err := add(tc.f, tc.keys...)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.wantErr)
		}
	}
	if treeHash(t, r.Dir()) != before {
		t.Fatal("a refused add changed the repository")
	}

	if err := add(good, owner); err != nil {
		t.Fatal(err)
	}
	c := clientOf(t, r)
	info, err := c.Target(ctx, intototest.PackageName)
	must(t, err)
	if info.Role != repo.InTotoSignerRole {
		t.Errorf("package listed by %s", info.Role)
	}
	sum := hex.EncodeToString(info.Hashes.SHA256)
	want := []string{"in-toto-metadata/root.layout"}
	for _, l := range good.links {
		want = append(want, "in-toto-metadata/"+sum+"/"+filepath.Base(l))
	}
	if got := inTotoList(t, info.Custom); !slices.Equal(got, want) {
		t.Errorf("package custom in-toto %q, want %q", got, want)
	}
	layout, err := c.Target(ctx, "in-toto-metadata/root.layout")
	must(t, err)
	wantKeys := []string{"in-toto-pubkeys/" + ownerKey.KeyID + ".pub"}
	if got := inTotoList(t, layout.Custom); layout.Role != "targets" || !slices.Equal(got, wantKeys) {
		t.Errorf("layout listed by %s with custom in-toto %q, want targets and %q", layout.Role, got, wantKeys)
	}
	out := filepath.Join(t.TempDir(), "foo.tgz")
	if _, err := intoto.Download(ctx, c, intototest.PackageName, out, intoto.DownloadOptions{}); err != nil {
		t.Fatalf("client download: %v", err)
	}

	// A second build, added as the same target, reuses the layout in the
	// repository: no keys.
	if err := add(buildFiles{other.pkg, good.layout, other.links}); err != nil {
		t.Fatalf("second build: %v", err)
	}
	c = clientOf(t, r)
	if _, err := intoto.Download(ctx, c, intototest.PackageName, out, intoto.DownloadOptions{}); err != nil {
		t.Fatalf("client download of the second build: %v", err)
	}
	got, _ := os.ReadFile(out)
	want2, _ := os.ReadFile(other.pkg)
	if string(got) != string(want2) {
		t.Error("the client did not get the second build")
	}
}

func TestAddInTotoCNAB(t *testing.T) {
	k := intototest.NewKeys(t)
	b := writeBuild(t, k.Build(t, intototest.Options{}))
	r := initRepo(t, repo.InitOptions{})
	online, _ := newKey(t, t.TempDir(), "online")
	if _, err := r.SetupInToto(ctx, repo.InTotoSetupOptions{Key: online, CNAB: "example.com/org/bundle"}); err != nil {
		t.Fatal(err)
	}
	const ref = "example.com/org/bundle:latest"
	_, err := r.AddInToto(ctx, repo.InTotoAddOptions{Package: b.pkg, As: ref, Product: intototest.PackageName,
		Layout: b.layout, Links: b.links, Keys: []string{filepath.Join(k.Dir, "owner.pub")}})
	must(t, err)
	c := clientOf(t, r)
	info, err := c.Target(ctx, ref)
	must(t, err)
	list := inTotoList(t, info.Custom)
	if info.Role != "targets/releases" || len(list) != 3 || list[0] != "example.com/org/bundle/in-toto-metadata/root.layout" ||
		!strings.HasPrefix(list[1], "example.com/org/bundle/in-toto-metadata/"+hex.EncodeToString(info.Hashes.SHA256)+"/developer.") {
		t.Errorf("bundle listed by %s with in-toto %q", info.Role, list)
	}
	out := filepath.Join(t.TempDir(), "bundle")
	if _, err := intoto.Download(ctx, c, ref, out, intoto.DownloadOptions{Product: intototest.PackageName}); err != nil {
		t.Fatalf("client download: %v", err)
	}
}

// TestPublishRefusesIncompleteInToto changes a repository after AddInToto
// so that a package's in-toto metadata is incomplete, and checks that
// publishing, to a directory and to a metadata server, refuses it naming
// the package and what is missing.
func TestPublishRefusesIncompleteInToto(t *testing.T) {
	k := intototest.NewKeys(t)
	b := writeBuild(t, k.Build(t, intototest.Options{}))
	owner := filepath.Join(k.Dir, "owner.pub")
	ownerKey, err := intoto.ParsePublicKey(k.Pub(t, "owner"))
	must(t, err)
	sum := sha256.Sum256(readFile(t, b.pkg))
	linkDir := "in-toto-metadata/" + hex.EncodeToString(sum[:]) + "/"
	devLink := linkDir + filepath.Base(b.links[0])

	cases := []struct {
		name    string
		change  func(r *repo.Repo)
		wantErr string
	}{
		{"link removed", func(r *repo.Repo) {
			_, err := r.Remove(ctx, devLink)
			must(t, err)
		}, "link " + devLink + " is not a target of the repository"},
		{"layout removed", func(r *repo.Repo) {
			_, err := r.Remove(ctx, "in-toto-metadata/root.layout")
			must(t, err)
		}, "layout in-toto-metadata/root.layout is not a target of the repository"},
		{"layout key removed", func(r *repo.Repo) {
			_, err := r.Remove(ctx, "in-toto-pubkeys/"+ownerKey.KeyID+".pub")
			must(t, err)
		}, "key of layout in-toto-metadata/root.layout in-toto-pubkeys/" + ownerKey.KeyID + ".pub is not a target"},
		{"link for an unknown step", func(r *repo.Repo) {
			// A developer link stored as a "tester" link, and the package's
			// list set by hand to name it.
			tester := filepath.Join(t.TempDir(), "tester."+strings.TrimPrefix(filepath.Base(b.links[0]), "developer."))
			must(t, os.WriteFile(tester, readFile(t, b.links[0]), 0o644))
			_, err := r.AddFiles(ctx, tester, linkDir+filepath.Base(tester), repo.AddOptions{})
			must(t, err)
			list := []string{"in-toto-metadata/root.layout", linkDir + filepath.Base(tester)}
			for _, l := range b.links {
				list = append(list, linkDir+filepath.Base(l))
			}
			custom, _ := json.Marshal(map[string][]string{"in-toto": list})
			_, err = r.AddFiles(ctx, b.pkg, intototest.PackageName, repo.AddOptions{Custom: custom})
			must(t, err)
		}, `the layout has no step "tester"`},
	}
	for _, tc := range cases {
		for _, server := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/server=%v", tc.name, server), func(t *testing.T) {
				var r *repo.Repo
				var publish func() error
				if server {
					_, c, sr := newServerRepo(t, repo.InitOptions{})
					r = sr
					publish = func() error { _, err := r.PublishToServer(ctx, c, repo.ServerOptions{}); return err }
				} else {
					r = initRepo(t, repo.InitOptions{})
					out := filepath.Join(t.TempDir(), "pub")
					publish = func() error { _, err := r.Publish(ctx, out); return err }
				}
				online, _ := newKey(t, t.TempDir(), "online")
				_, err := r.SetupInToto(ctx, repo.InTotoSetupOptions{Key: online})
				must(t, err)
				_, err = r.AddInToto(ctx, repo.InTotoAddOptions{Package: b.pkg, Layout: b.layout, Links: b.links, Keys: []string{owner}})
				must(t, err)
				must(t, publish())

				tc.change(r)
				err = publish()
				want := "not publishing package " + intototest.PackageName
				if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("publish: %v; want an error containing %q and %q", err, want, tc.wantErr)
				}
			})
		}
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	must(t, err)
	return data
}

// TestPublishRefusesIncompleteInTotoInBins: with hashed bins, removing a
// link changes the link's bin only; publish still finds the package, in a
// bin that is not republished, and refuses it.
func TestPublishRefusesIncompleteInTotoInBins(t *testing.T) {
	k := intototest.NewKeys(t)
	b := writeBuild(t, k.Build(t, intototest.Options{}))
	r := initRepo(t, repo.InitOptions{Bins: 8})
	_, err := r.AddInToto(ctx, repo.InTotoAddOptions{Package: b.pkg, Layout: b.layout, Links: b.links, Keys: []string{filepath.Join(k.Dir, "owner.pub")}})
	must(t, err)
	out := filepath.Join(t.TempDir(), "pub")
	publish(t, r, out)
	srv := serve(t, out)
	cdir := t.TempDir()
	must(t, client.Init(cdir, readFile(t, filepath.Join(out, "metadata", "1.root.json"))))
	c, err := client.New(client.Config{MetadataURL: srv.URL + "/metadata", TargetsURL: srv.URL + "/targets", Dir: cdir})
	must(t, err)
	pkg, err := c.Target(ctx, intototest.PackageName)
	must(t, err)
	var link string
	for _, l := range inTotoList(t, pkg.Custom)[1:] {
		info, err := c.Target(ctx, l)
		must(t, err)
		if info.Role != pkg.Role {
			link = l
		}
	}
	if link == "" {
		t.Fatalf("every link is in the package's bin %s; the test needs one in another", pkg.Role)
	}
	_, err = r.Remove(ctx, link)
	must(t, err)
	_, err = r.Publish(ctx, out)
	if err == nil || !strings.Contains(err.Error(), "not publishing package "+intototest.PackageName+" (listed by "+pkg.Role+")") ||
		!strings.Contains(err.Error(), "link "+link+" is not a target") {
		t.Fatalf("publish after removing %s: %v", link, err)
	}
}
