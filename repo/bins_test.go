package repo_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

func manifest(n int) string {
	var b strings.Builder
	for i := range n {
		p := fmt.Sprintf("pkg/p%05d.tgz", i)
		tf := metadata.NewTargetFile([]byte(p), false)
		fmt.Fprintf(&b, "%s\t%d\t%x\n", p, tf.Length, tf.Hashes.SHA256)
	}
	return b.String()
}

func stat(t *testing.T, path string) os.FileInfo {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// TestAddOneRewritesOnlyItsBin: after a bulk import into hashed bins, adding
// one target rewrites its bin, snapshot and timestamp and nothing else, and
// publishing writes only those.
func TestAddOneRewritesOnlyItsBin(t *testing.T) {
	r := initRepo(t, repo.InitOptions{Bins: 6})
	res, err := r.AddManifest(ctx, strings.NewReader(manifest(2000)), 0, repo.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Count != 2000 || len(res.Roles) != 64 {
		t.Fatalf("added %d targets to %d roles, want 2000 to 64 bins", res.Count, len(res.Roles))
	}
	pub := filepath.Join(t.TempDir(), "pub")
	publish(t, r, pub)
	staged := filepath.Join(r.Dir(), "staged")
	entries, _ := os.ReadDir(staged)
	before := map[string]os.FileInfo{}
	for _, e := range entries {
		before[e.Name()] = stat(t, filepath.Join(staged, e.Name()))
	}
	if len(before) != 64+4 {
		t.Fatalf("%d staged files, want 68", len(before))
	}
	path := "pkg/new.tgz"
	bin := (&metadata.SuccinctRoles{BitLength: 6, NamePrefix: "bins"}).RoleFor(path)
	res, err = r.Add(ctx, []repo.Target{{Path: path, File: metadata.NewTargetFile([]byte("new"), false)}}, repo.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Count != 1 || len(res.Roles) != 1 || res.Roles[bin] != 1 {
		t.Fatalf("added %d targets to %v, want 1 to %s", res.Count, res.Roles, bin)
	}
	var changed []string
	for name, fi := range before {
		if !os.SameFile(stat(t, filepath.Join(staged, name)), fi) {
			changed = append(changed, name)
		}
	}
	want := []string{bin + ".json", "snapshot.json", "timestamp.json"}
	if len(changed) != 3 || !containsAll(changed, want) {
		t.Errorf("adding one target rewrote %v, want %v", changed, want)
	}
	pr := publish(t, r, pub)
	if pr.MetadataFiles != 5 {
		t.Errorf("publish wrote %d metadata files, want 5 (bin, snapshot, timestamp, root.json, timestamp.json)", pr.MetadataFiles)
	}
	c := newGoTUF(t, pub)
	if err := c.refresh(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, "pkg/p00000.tgz", "pkg/p01999.tgz"} {
		if _, err := c.info(p); err != nil {
			t.Errorf("go-tuf: %s: %v", p, err)
		}
	}
	// Removing it touches its bin again, and only it.
	if roles, err := r.Remove(ctx, path); err != nil || roles[bin] != 1 || len(roles) != 1 {
		t.Errorf("Remove = %v, %v", roles, err)
	}
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bins.Targets != 2000 || st.Bins.Count != 64 || len(st.Warnings) != 0 {
		t.Errorf("status: %+v, warnings %v", st.Bins, st.Warnings)
	}
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

// TestOfflineBinsKey: the bins key is kept offline; bins are staged unsigned,
// publish names the missing key, and 'sign bins' signs them all.
func TestOfflineBinsKey(t *testing.T) {
	tmp := t.TempDir()
	priv, pubKey := newKey(t, filepath.Join(tmp, "offline"), "bins")
	r := initRepo(t, repo.InitOptions{Bins: 4, Keys: map[string][]string{"bins": {pubKey}}})
	if _, err := r.AddManifest(ctx, strings.NewReader(manifest(100)), 0, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(tmp, "pub")
	_, err := r.Publish(ctx, pub)
	if err == nil || !strings.Contains(err.Error(), "role bins-0 has 0 of 1 required signatures; missing keys:") || !strings.Contains(err.Error(), pubKey) {
		t.Fatalf("publish with unsigned bins: %v", err)
	}
	res, err := r.Sign(ctx, "bins", loadKey(t, priv))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Signed) != 16 {
		t.Errorf("signed %d bins, want 16", len(res.Signed))
	}
	publishAndFind(t, r, pub, "pkg/p00042.tgz")
}

// publishAndFind publishes r to pub and checks that go-tuf's client,
// refreshing from it, finds target.
func publishAndFind(t *testing.T, r *repo.Repo, pub, target string) {
	t.Helper()
	publish(t, r, pub)
	c := newGoTUF(t, pub)
	if err := c.refresh(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.info(target); err != nil {
		t.Error(err)
	}
}

func TestManifestErrors(t *testing.T) {
	sum := strings.Repeat("0", 64)
	for _, tc := range []struct{ in, want string }{
		{"a\t1\n", "line 1: want TARGETPATH<TAB>LENGTH<TAB>SHA256HEX"},
		{"# c\n\na\tx\t" + sum + "\n", "line 3: length"},
		{"a\t-1\t" + sum + "\n", "line 1: length"},
		{"a\t1\tabc\n", "not 64 hex digits"},
		{"a\t1\t" + strings.Repeat("g", 64) + "\n", "not hex"},
		{"/abs\t1\t" + sum + "\n", "invalid target path"},
		{"a/../b\t1\t" + sum + "\n", "invalid target path"},
	} {
		_, err := repo.ParseManifest(strings.NewReader(tc.in), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseManifest(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
	got, err := repo.ParseManifest(strings.NewReader("x/y\t3\t"+sum+"\r\nz\t0\t"+sum), nil)
	if err != nil || len(got) != 2 || got[0].Path != "x/y" || got[0].File.Length != 3 || got[1].Path != "z" {
		t.Errorf("ParseManifest = %+v, %v", got, err)
	}
}

// BenchmarkManifestIntoBins registers targets from a manifest into 1024
// bins, signs and publishes. repo/bench runs the full 1,000,000-target
// comparison with go-tuf.
func BenchmarkManifestIntoBins(b *testing.B) {
	m := manifest(100_000)
	for b.Loop() {
		dir := b.TempDir()
		r, err := repo.Init(ctx, filepath.Join(dir, "r"), repo.InitOptions{Bins: 10}, plainOpts)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.AddManifest(ctx, strings.NewReader(m), 0, repo.AddOptions{}); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Publish(ctx, filepath.Join(dir, "pub")); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}
