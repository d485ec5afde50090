package mirror_test

import (
	"bytes"
	"context"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/mirror"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// origin is a signed repository on loopback with a target in targets and
// one in a delegated role.
func origin(t *testing.T) (*repotest.Repo, *httptest.Server) {
	t.Helper()
	repo := repotest.New(t)
	repo.AddTarget("targets", "app/app-1.0.tgz", []byte("app 1.0"))
	repo.Delegate("targets", "docs", []string{"docs/*"}, false)
	repo.AddTarget("docs", "docs/readme", []byte("read me"))
	repo.Publish()
	return repo, repo.Serve()
}

func run(t *testing.T, srv *httptest.Server, dir string, root []byte, patterns ...string) (*mirror.Result, error) {
	t.Helper()
	return mirror.Run(context.Background(), mirror.Options{URL: srv.URL, Dir: dir, Root: root, Targets: patterns})
}

// tree returns every file below dir and its content.
func tree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			out[rel] = []byte("-> " + target)
			return err
		}
		data, err := os.ReadFile(p)
		out[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rampartGet reads a target from a served directory with Rampart's client,
// trusting root.
func rampartGet(t *testing.T, base string, root []byte, target string) ([]byte, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "metadata")
	if err := client.Init(dir, root); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{MetadataURL: base + "/metadata", TargetsURL: base + "/targets", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Target(context.Background(), target)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = c.Download(context.Background(), info, &buf)
	return buf.Bytes(), err
}

// goTUFGet reads a target from a served directory with go-tuf v2.
func goTUFGet(t *testing.T, base string, root []byte, target string) ([]byte, error) {
	t.Helper()
	cfg, err := config.New(base+"/metadata", root)
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	cfg.RemoteTargetsURL = base + "/targets"
	cfg.LocalMetadataDir = filepath.Join(cache, "metadata")
	cfg.LocalTargetsDir = filepath.Join(cache, "targets")
	if err := cfg.EnsurePathsExist(); err != nil {
		t.Fatal(err)
	}
	up, err := updater.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := up.Refresh(); err != nil {
		return nil, err
	}
	ti, err := up.GetTargetInfo(target)
	if err != nil {
		return nil, err
	}
	_, data, err := up.DownloadTarget(ti, filepath.Join(cache, "dl"), "")
	return data, err
}

func serveDir(t *testing.T, dir string) string {
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestMirrorServesBothClients(t *testing.T) {
	for _, consistent := range []bool{true, false} {
		name := "consistent"
		if !consistent {
			name = "plain"
		}
		t.Run(name, func(t *testing.T) {
			repo, srv := origin(t)
			if !consistent {
				repo.Root.Signed.ConsistentSnapshot = false
				repo.MarkDirty(metadata.TypeRoot)
				repo.Publish()
			}
			dir := t.TempDir()
			res, err := run(t, srv, dir, repo.RootBytes(1))
			if err != nil {
				t.Fatal(err)
			}
			if res.Targets != 2 || res.Matched != 2 {
				t.Fatalf("copied %d of %d targets, want 2 of 2", res.Targets, res.Matched)
			}
			if res.Metadata[len(res.Metadata)-1] != "metadata/timestamp.json" {
				t.Fatalf("timestamp.json is not written last: %v", res.Metadata)
			}
			base := serveDir(t, dir)
			for path, want := range map[string]string{"app/app-1.0.tgz": "app 1.0", "docs/readme": "read me"} {
				got, err := rampartGet(t, base, repo.RootBytes(1), path)
				if err != nil || string(got) != want {
					t.Fatalf("rampart client, %s from the mirror: %q, %v", path, got, err)
				}
				got, err = goTUFGet(t, base, repo.RootBytes(1), path)
				if err != nil || string(got) != want {
					t.Fatalf("go-tuf client, %s from the mirror: %q, %v", path, got, err)
				}
			}
			// Plain names without consistent snapshots, hashed ones with.
			_, err = os.Stat(filepath.Join(dir, "metadata", "snapshot.json"))
			if (err == nil) == consistent {
				t.Fatalf("snapshot.json present = %v with consistent snapshots %v", err == nil, consistent)
			}
		})
	}
}

func TestMirrorIncremental(t *testing.T) {
	repo, srv := origin(t)
	dir := t.TempDir()
	if _, err := run(t, srv, dir, repo.RootBytes(1)); err != nil {
		t.Fatal(err)
	}

	// Nothing changed: the root probe and the timestamp, nothing else;
	// the mirror's state stays as it was.
	state := filepath.Join(dir, ".rampart-mirror", "trusted")
	trusted, _ := os.Readlink(state)
	before := repo.RequestCounts()
	res, err := run(t, srv, dir, repo.RootBytes(1))
	if err != nil {
		t.Fatal(err)
	}
	if !res.UpToDate() {
		t.Fatalf("unchanged origin: wrote %v and %d targets", res.Metadata, res.Targets)
	}
	if now, err := os.Readlink(state); err != nil || now != trusted {
		t.Fatalf("unchanged origin: the state moved from %s to %s (%v)", trusted, now, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(state)); len(entries) != 3 { // lock, trusted, the state
		t.Fatalf("unchanged origin: the state directory holds %d entries", len(entries))
	}
	if got := requestsSince(repo, before); !slices.Equal(got, []string{"/metadata/2.root.json", "/metadata/timestamp.json"}) {
		t.Fatalf("re-run of an unchanged origin requested %v", got)
	}

	// One new target in the delegated role: that role, snapshot,
	// timestamp and the target, nothing else.
	repo.AddTarget("docs", "docs/guide", []byte("the guide"))
	repo.Publish()
	before = repo.RequestCounts()
	res, err = run(t, srv, dir, repo.RootBytes(1))
	if err != nil {
		t.Fatal(err)
	}
	guide := repo.Targets["docs"].Signed.Targets["docs/guide"]
	want := []string{"/metadata/2.docs.json", "/metadata/2.root.json", "/metadata/3.snapshot.json", "/metadata/timestamp.json", "/targets/" + guide.ConsistentPath("docs/guide")}
	if got := requestsSince(repo, before); !slices.Equal(got, want) {
		t.Fatalf("re-run after one new target requested\n%v\nwant\n%v", got, want)
	}
	if res.Targets != 1 || !slices.Equal(res.Metadata, []string{"metadata/2.docs.json", "metadata/3.snapshot.json", "metadata/timestamp.json"}) {
		t.Fatalf("re-run wrote %v and %d targets", res.Metadata, res.Targets)
	}
	if got, err := rampartGet(t, serveDir(t, dir), repo.RootBytes(1), "docs/guide"); err != nil || string(got) != "the guide" {
		t.Fatalf("new target from the mirror: %q, %v", got, err)
	}
}

func requestsSince(repo *repotest.Repo, before map[string]int) []string {
	var out []string
	for p, n := range repo.RequestCounts() {
		if n > before[p] {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func TestMirrorTargetPatterns(t *testing.T) {
	repo, srv := origin(t)
	dir := t.TempDir()
	res, err := run(t, srv, dir, repo.RootBytes(1), "docs/*")
	if err != nil {
		t.Fatal(err)
	}
	if res.Targets != 1 || res.Matched != 1 {
		t.Fatalf("docs/*: copied %d, matched %d", res.Targets, res.Matched)
	}
	base := serveDir(t, dir)
	if _, err := rampartGet(t, base, repo.RootBytes(1), "docs/readme"); err != nil {
		t.Fatal(err)
	}
	if _, err := rampartGet(t, base, repo.RootBytes(1), "app/app-1.0.tgz"); err == nil {
		t.Fatal("a target outside --targets was copied")
	}
	// An empty pattern copies metadata only.
	dir2 := t.TempDir()
	if res, err := run(t, srv, dir2, repo.RootBytes(1), ""); err != nil || res.Targets != 0 || len(res.Metadata) == 0 {
		t.Fatalf("--targets '': %+v, %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(dir2, "targets")); !os.IsNotExist(err) {
		t.Fatal("--targets '' wrote targets")
	}
}

// TestMirrorRefusesTampering: whatever fails verification at the origin,
// the run fails and DIR stays exactly as it was.
func TestMirrorRefusesTampering(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(repo *repotest.Repo)
		want   string
	}{
		{"target content", func(repo *repotest.Repo) {
			info := repo.Targets["docs"].Signed.Targets["docs/new"]
			repo.SetFile("targets/"+info.ConsistentPath("docs/new"), []byte("evil data"))
		}, "target docs/new"},
		{"delegated role re-signed by another key", func(repo *repotest.Repo) {
			p := "metadata/2.docs.json"
			repo.SetFile(p, repotest.Forge[*metadata.Targets](t, repo.File(p), nil, repotest.NewSigner(t)))
		}, "docs.json"},
		{"timestamp signed by another key", func(repo *repotest.Repo) {
			p := "metadata/timestamp.json"
			repo.SetFile(p, repotest.Forge[*metadata.Timestamp](t, repo.File(p), nil, repotest.NewSigner(t)))
		}, "timestamp.json: signatures"},
		{"snapshot rolled back", func(repo *repotest.Repo) {
			p := "metadata/timestamp.json"
			repo.SetFile(p, repotest.Resign(repo, metadata.TypeTimestamp, repo.File(p), func(ts *metadata.Timestamp) {
				ts.Meta["snapshot.json"] = metadata.MetaFile{Version: 1}
			}))
		}, "rollback"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			repo, srv := origin(t)
			dir := t.TempDir()
			if _, err := run(t, srv, dir, repo.RootBytes(1)); err != nil {
				t.Fatal(err)
			}
			before := tree(t, dir)
			repo.AddTarget("docs", "docs/new", []byte("new content"))
			repo.Publish()
			tc.tamper(repo)
			_, err := run(t, srv, dir, repo.RootBytes(1))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("tampered origin: %v, want an error about %q", err, tc.want)
			}
			if after := tree(t, dir); !maps.EqualFunc(before, after, bytes.Equal) {
				t.Fatalf("a refused run changed DIR: %d files before, %d after", len(before), len(after))
			}
		})
	}
}

func TestMirrorRootRotationAndGivenRoot(t *testing.T) {
	repo, srv := origin(t)
	dir := t.TempDir()
	if _, err := run(t, srv, dir, repo.RootBytes(1)); err != nil {
		t.Fatal(err)
	}
	repo.RotateKeys(metadata.TypeTimestamp, 1, 1)
	repo.RotateKeys(metadata.TypeRoot, 1, 1)
	repo.Publish()
	res, err := run(t, srv, dir, repo.RootBytes(1))
	if err != nil {
		t.Fatal(err)
	}
	if res.RootVersion != 2 || !slices.Contains(res.Metadata, "metadata/2.root.json") {
		t.Fatalf("rotation: root version %d, wrote %v", res.RootVersion, res.Metadata)
	}
	// Clients that trust version 1 walk the chain on the mirror.
	base := serveDir(t, dir)
	if got, err := goTUFGet(t, base, repo.RootBytes(1), "docs/readme"); err != nil || string(got) != "read me" {
		t.Fatalf("go-tuf after rotation: %q, %v", got, err)
	}
	// A root of another repository is refused before anything is done.
	other := repotest.New(t)
	if _, err := run(t, srv, dir, other.RootBytes(1)); err == nil || !strings.Contains(err.Error(), "not version 1 of the repository") {
		t.Fatalf("another repository's root: %v", err)
	}
}

// TestMirrorReadersSeeOldOrNew reads the mirror with a fresh client before
// every file a run puts in place: each read sees the old state or the new
// one, never a failure.
func TestMirrorReadersSeeOldOrNew(t *testing.T) {
	repo, srv := origin(t)
	dir := t.TempDir()
	if _, err := run(t, srv, dir, repo.RootBytes(1)); err != nil {
		t.Fatal(err)
	}
	base := serveDir(t, dir)
	repo.AddTarget("targets", "app/app-1.0.tgz", []byte("app 1.0, rebuilt"))
	repo.Publish()
	var seen []string
	mirror.SetBeforeRename(func(name string) {
		got, err := rampartGet(t, base, repo.RootBytes(1), "app/app-1.0.tgz")
		if err != nil {
			t.Errorf("reading the mirror before %s is put in place: %v", name, err)
			return
		}
		seen = append(seen, string(got))
	})
	defer mirror.SetBeforeRename(nil)
	if _, err := run(t, srv, dir, repo.RootBytes(1)); err != nil {
		t.Fatal(err)
	}
	// The target, targets, snapshot, timestamp: before each, the old state.
	if len(seen) != 4 || slices.ContainsFunc(seen, func(s string) bool { return s != "app 1.0" }) {
		t.Fatalf("reads during the run: %q", seen)
	}
	if got, err := rampartGet(t, base, repo.RootBytes(1), "app/app-1.0.tgz"); err != nil || string(got) != "app 1.0, rebuilt" {
		t.Fatalf("after the run: %q, %v", got, err)
	}
}

// TestMirrorRefusesUnsafeTargetPaths: a target path that would leave DIR,
// even one the origin's keys signed, is refused and nothing is written.
func TestMirrorRefusesUnsafeTargetPaths(t *testing.T) {
	for _, p := range []string{"../escape", "a/../../escape", "/etc/escape"} {
		repo := repotest.New(t)
		repo.AddTarget("targets", p, []byte("out"))
		repo.Publish()
		srv := repo.Serve()
		parent := t.TempDir()
		dir := filepath.Join(parent, "mirror")
		if _, err := run(t, srv, dir, repo.RootBytes(1)); err == nil || !strings.Contains(err.Error(), "invalid target path") {
			t.Fatalf("target %q: %v", p, err)
		}
		if got := tree(t, parent); len(got) != 1 { // the mirror's lock file
			t.Fatalf("target %q: files written: %v", p, slices.Collect(maps.Keys(got)))
		}
	}
}

// TestMirrorMergesTargetDirectories: a re-run puts a new directory of
// targets in place with one rename, adds new targets into a directory
// that exists one by one, and refuses a file in the way of a directory,
// leaving the metadata as it was.
func TestMirrorMergesTargetDirectories(t *testing.T) {
	repo, srv := origin(t)
	dir := t.TempDir()
	var renamed []string
	mirror.SetBeforeRename(func(name string) { renamed = append(renamed, name) })
	defer mirror.SetBeforeRename(nil)
	if _, err := run(t, srv, dir, repo.RootBytes(1)); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(renamed, "targets") || slices.ContainsFunc(renamed, func(s string) bool { return strings.HasPrefix(s, "targets/") }) {
		t.Fatalf("first run renamed %v, want targets/ in one go", renamed)
	}

	repo.AddTarget("targets", "app/app-2.0.tgz", []byte("app 2.0"))
	repo.AddTarget("targets", "tools/x/x-1.0.tgz", []byte("x 1.0"))
	repo.Publish()
	renamed = nil
	res, err := run(t, srv, dir, repo.RootBytes(1))
	if err != nil || res.Targets != 2 {
		t.Fatalf("re-run: %+v, %v", res, err)
	}
	app := repo.Targets["targets"].Signed.Targets["app/app-2.0.tgz"]
	want := []string{"targets/" + app.ConsistentPath("app/app-2.0.tgz"), "targets/tools"}
	if got := slices.DeleteFunc(slices.Clone(renamed), func(s string) bool { return strings.HasPrefix(s, "metadata/") }); !slices.Equal(got, want) {
		t.Fatalf("re-run renamed targets %v, want %v", got, want)
	}
	base := serveDir(t, dir)
	for target, content := range map[string]string{"app/app-1.0.tgz": "app 1.0", "app/app-2.0.tgz": "app 2.0", "tools/x/x-1.0.tgz": "x 1.0", "docs/readme": "read me"} {
		if got, err := rampartGet(t, base, repo.RootBytes(1), target); err != nil || string(got) != content {
			t.Fatalf("%s from the mirror: %q, %v", target, got, err)
		}
	}

	repo.AddTarget("targets", "blocked/b-1.0.tgz", []byte("b 1.0"))
	repo.Publish()
	if err := os.WriteFile(filepath.Join(dir, "targets", "blocked"), []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	timestamp, _ := os.ReadFile(filepath.Join(dir, "metadata", "timestamp.json"))
	if _, err := run(t, srv, dir, repo.RootBytes(1)); err == nil || !strings.Contains(err.Error(), "in the way") {
		t.Fatalf("a file where a directory of targets goes: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "metadata", "timestamp.json")); !bytes.Equal(got, timestamp) {
		t.Fatal("a failed run replaced timestamp.json")
	}
}

// TestMirrorSkipsHashingVerifiedFiles: without consistent snapshots, a
// re-run hashes no target file that a run before wrote or verified and
// that nothing changed since; a file changed in place, even to the same
// length and modification time, is hashed and copied again.
func TestMirrorSkipsHashingVerifiedFiles(t *testing.T) {
	repo, srv := origin(t)
	repo.Root.Signed.ConsistentSnapshot = false
	repo.MarkDirty(metadata.TypeRoot)
	repo.Publish()
	var hashed []string
	mirror.SetHashedFile(func(name string) { hashed = append(hashed, name) })
	defer mirror.SetHashedFile(nil)
	mirror.SetRacyWindow(-time.Hour) // file times of this test are all recent
	defer mirror.SetRacyWindow(2 * time.Second)
	dir := t.TempDir()
	for i := range 2 {
		hashed = nil
		res, err := run(t, srv, dir, repo.RootBytes(1))
		if err != nil || (i > 0 && !res.UpToDate()) {
			t.Fatalf("run %d: %+v, %v", i, res, err)
		}
		if len(hashed) != 0 {
			t.Fatalf("run %d hashed %v", i, hashed)
		}
	}

	p := filepath.Join(dir, "targets", "app", "app-1.0.tgz")
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("app 6.6"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	hashed = nil
	res, err := run(t, srv, dir, repo.RootBytes(1))
	if err != nil || res.Targets != 1 || !slices.Equal(hashed, []string{"app/app-1.0.tgz"}) {
		t.Fatalf("after a change in place: %+v, %v, hashed %v", res, err, hashed)
	}
	if got, _ := os.ReadFile(p); string(got) != "app 1.0" {
		t.Fatalf("the changed file holds %q", got)
	}
}
