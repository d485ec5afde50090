package client_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// exportBundle returns a bundle made by an online client of repo.
func exportBundle(t *testing.T, repo *repotest.Repo, targets ...string) []byte {
	t.Helper()
	c, _, _ := refreshed(t, repo)
	var buf bytes.Buffer
	if err := c.WriteBundle(context.Background(), &buf, targets); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// airGapped is a client directory that trusts repo's first root and has
// never seen the network, with its target store.
func airGapped(t *testing.T, repo *repotest.Repo) (string, client.TargetStore) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "metadata")
	if err := client.Init(dir, repo.RootBytes(1)); err != nil {
		t.Fatal(err)
	}
	return dir, client.TargetStore{Dir: filepath.Join(filepath.Dir(dir), "targets")}
}

func importBundle(dir string, store client.TargetStore, bundle []byte, now time.Time) (*client.ImportResult, error) {
	return client.ImportBundle(context.Background(), dir, store, bytes.NewReader(bundle), client.Limits{}, func() time.Time { return now })
}

type entry struct {
	hdr  tar.Header
	data []byte
}

func entries(t *testing.T, bundle []byte) []entry {
	t.Helper()
	var out []entry
	tr := tar.NewReader(bytes.NewReader(bundle))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		out = append(out, entry{*h, data})
	}
}

func pack(t *testing.T, list []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range list {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.data)
	}
	tw.Close()
	return buf.Bytes()
}

func TestBundleRoundTrip(t *testing.T) {
	repo := offlineRepo(t)
	repo.RotateKeys(metadata.TypeRoot, 1, 1)
	repo.RotateKeys(metadata.TypeTimestamp, 1, 1)
	repo.Publish()
	bundle := exportBundle(t, repo, "a.txt", "docs/readme")
	var names []string
	for _, e := range entries(t, bundle) {
		names = append(names, e.hdr.Name)
	}
	want := "roots/1.root.json roots/2.root.json metadata/timestamp.json metadata/snapshot.json metadata/docs.json metadata/targets.json targets/a.txt targets/docs/readme"
	if strings.Join(names, " ") != want {
		t.Fatalf("bundle entries:\n%s\nwant\n%s", strings.Join(names, " "), want)
	}

	dir, store := airGapped(t, repo)
	res, err := importBundle(dir, store, bundle, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.RootVersion != 2 || len(res.Targets) != 2 || res.Roles != 2 {
		t.Fatalf("import: %+v", res)
	}
	// The client has only ever seen the bundle; it works offline.
	c := offline(t, dir, time.Now())
	if err := c.RefreshOffline(false); err != nil {
		t.Fatal(err)
	}
	info, err := c.Target(context.Background(), "docs/readme")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "readme")
	if _, err := store.CopyTo(info, out); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(out); string(data) != "read me" {
		t.Fatalf("got %q", data)
	}
	// The same bundle again changes nothing and is accepted.
	if _, err := importBundle(dir, store, bundle, time.Now()); err != nil {
		t.Fatalf("importing the same bundle again: %v", err)
	}
}

// TestBundleImportRefuses: a bundle that fails any check changes nothing
// in the client directory or its target store.
func TestBundleImportRefuses(t *testing.T) {
	repo := offlineRepo(t)
	old := exportBundle(t, repo, "a.txt")
	repo.AddTarget("targets", "b.txt", []byte("bbb"))
	repo.Publish()
	bundle := exportBundle(t, repo, "a.txt", "b.txt")

	edit := func(fn func([]entry) []entry) []byte { return pack(t, fn(entries(t, bundle))) }
	replace := func(name string, data []byte) []byte {
		return edit(func(l []entry) []entry {
			for i := range l {
				if l[i].hdr.Name == name {
					l[i].data = data
				}
			}
			return l
		})
	}
	add := func(e entry, at int) []byte {
		return edit(func(l []entry) []entry {
			at = min(at, len(l))
			return append(l[:at], append([]entry{e}, l[at:]...)...)
		})
	}
	reg := func(name string, data []byte) entry {
		return entry{tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}, data}
	}
	cases := []struct {
		name   string
		bundle []byte
		now    time.Time
		want   string
	}{
		{"older than what the client trusts", old, time.Now(), "rollback"},
		{"expired", bundle, repo.Expires.Add(time.Hour), "expired"},
		{"target content changed", replace("targets/b.txt", []byte("BBB")), time.Now(), "b.txt"},
		{"target longer than listed", replace("targets/b.txt", []byte("bbbb")), time.Now(), "metadata says 3"},
		{"target nothing lists", add(reg("targets/c.txt", []byte("c")), 100), time.Now(), "no trusted metadata lists this target"},
		{"timestamp signed by another key", replace("metadata/timestamp.json", repotest.Forge[*metadata.Timestamp](t, repo.Meta("timestamp"), nil, repotest.NewSigner(t))), time.Now(), "timestamp.json: signatures"},
		{"a role nothing delegates", add(reg("metadata/extra.json", repo.Meta("docs")), 3), time.Now(), "metadata/extra.json is not"},
		{"path traversal", add(reg("targets/../../etc/passwd", []byte("x")), 100), time.Now(), "not a clean relative path"},
		{"absolute path", add(reg("/etc/passwd", []byte("x")), 0), time.Now(), "not a clean relative path"},
		{"symbolic link", add(entry{tar.Header{Name: "targets/a.txt", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}, nil}, 100), time.Now(), "not a regular file"},
		{"oversized timestamp", replace("metadata/timestamp.json", bytes.Repeat([]byte(" "), 2<<20)), time.Now(), "exceeds the bound"},
		{"metadata after targets", add(reg("metadata/docs.json", repo.Meta("docs")), 100), time.Now(), "comes after the targets"},
		{"unknown entry", add(reg("notes.txt", []byte("hi")), 0), time.Now(), "unexpected entry"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, store := airGapped(t, repo)
			if _, err := importBundle(dir, store, bundle, time.Now()); err != nil {
				t.Fatal(err)
			}
			before := state(t, dir)
			_, storeErr := os.Stat(filepath.Join(store.Dir, "sha256"))
			beforeStore := storeFiles(t, store.Dir)
			_, err := importBundle(dir, store, tc.bundle, tc.now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error about %q", err, tc.want)
			}
			if !sameState(before, state(t, dir)) {
				t.Fatal("a refused bundle changed the trusted metadata")
			}
			if after := storeFiles(t, store.Dir); storeErr == nil && after != beforeStore {
				t.Fatalf("a refused bundle changed the target store: %s then %s", beforeStore, after)
			}
			entries, _ := os.ReadDir(filepath.Dir(dir))
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".rampart-import-") {
					t.Fatalf("%s left behind", e.Name())
				}
			}
		})
	}
}

func storeFiles(t *testing.T, dir string) string {
	var names []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	return strings.Join(names, ",")
}
