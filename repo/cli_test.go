package repo_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/internal/cli"
	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/repo"
)

// rampart runs the rampart command line in-process.
func rampart(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(ctx, args, strings.NewReader(""), &out, &errb)
	if code != 0 {
		err = fmt.Errorf("exit %d: %s", code, strings.TrimSpace(errb.String()))
	}
	return out.String(), errb.String(), err
}

func mustRampart(t *testing.T, args ...string) string {
	t.Helper()
	out, _, err := rampart(t, args...)
	if err != nil {
		t.Fatalf("rampart %s: %v", strings.Join(args, " "), err)
	}
	return out
}

const testPassphrase = "correct horse battery staple"

// newEncKey writes an encrypted key pair NAME.key/NAME.pub in dir, as
// 'rampart key' does, and returns the paths.
func newEncKey(t *testing.T, dir, name string) (priv, pub string) {
	t.Helper()
	ks := repo.NewEncryptedKeyStore(nil, func(string) ([]byte, error) { return []byte(testPassphrase), nil })
	if _, err := ks.Create(ctx, dir, name); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
}

// TestCLIWorkflow drives every repo command in-process.
func TestCLIWorkflow(t *testing.T) {
	t.Setenv("RAMPART_PASSPHRASE", testPassphrase)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "repo")
	pub := filepath.Join(tmp, "pub")
	out := mustRampart(t, "repo", "init", dir, "--expires", "timestamp=2d", "--threshold", "snapshot=1")
	if !strings.Contains(out, "Created repository") {
		t.Errorf("init output:\n%s", out)
	}
	src := filepath.Join(tmp, "src")
	writeFile(t, filepath.Join(src, "bin", "tool"), "tool v1")
	writeFile(t, filepath.Join(src, "doc", "guide.txt"), "guide")
	mustRampart(t, "repo", "add", dir, src, "--as", "release", "--custom", `{"channel":"stable"}`)
	single := writeFile(t, filepath.Join(tmp, "notes.txt"), "notes")
	mustRampart(t, "repo", "add", dir, single)
	manifest := writeFile(t, filepath.Join(tmp, "manifest.tsv"),
		"# elsewhere\nmirror/big.iso\t1048576\t"+strings.Repeat("ab", 32)+"\n")
	if out := mustRampart(t, "repo", "add", dir, "--from-manifest", manifest); !strings.Contains(out, "1 target added") {
		t.Errorf("manifest add output: %s", out)
	}
	keyDir := filepath.Join(tmp, "keys")
	k1, _ := newEncKey(t, keyDir, "ci")
	mustRampart(t, "repo", "delegate", dir, "ci", "--key", k1, "--paths", "nightly/*", "--terminating")
	nightly := writeFile(t, filepath.Join(tmp, "n.tgz"), "nightly build")
	if out := mustRampart(t, "repo", "add", dir, nightly, "--as", "nightly/n.tgz"); !strings.Contains(out, "role ci") {
		t.Errorf("nightly went elsewhere: %s", out)
	}
	mustRampart(t, "repo", "remove", dir, "notes.txt")
	out = mustRampart(t, "repo", "publish", dir, "--out", pub)
	if !strings.Contains(out, "published root v1") {
		t.Errorf("publish output: %s", out)
	}
	for _, f := range []string{"metadata/root.json", "metadata/1.root.json", "metadata/timestamp.json", "metadata/2.ci.json"} {
		if _, err := os.Stat(filepath.Join(pub, f)); err != nil {
			t.Errorf("published tree lacks %s", f)
		}
	}
	// go-tuf fetches what the CLI published, custom metadata included.
	c := newGoTUF(t, pub)
	if err := c.refresh(); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"release/bin/tool": "tool v1", "nightly/n.tgz": "nightly build"} {
		got, err := c.get(p)
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v", p, got, err)
		}
	}
	ti, err := c.updater.GetTargetInfo("release/doc/guide.txt")
	if err != nil || ti.Custom == nil || !strings.Contains(string(*ti.Custom), "stable") {
		t.Errorf("custom metadata of release/doc/guide.txt: %v, %v", ti, err)
	}
	if _, err := c.get("notes.txt"); err == nil {
		t.Error("removed target notes.txt is still there")
	}
	// Rotate the targets key, and status.
	newTargets, _ := newEncKey(t, keyDir, "targets2")
	mustRampart(t, "repo", "rotate", dir, "targets", "--add-key", newTargets)
	out = mustRampart(t, "repo", "status", dir)
	for _, want := range []string{"root", "targets", "ci", "snapshot", "timestamp", "2/1"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	var st repo.Status
	if err := json.Unmarshal([]byte(mustRampart(t, "repo", "status", dir, "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Roles) != 5 || len(st.Warnings) != 0 {
		t.Errorf("status --json: %d roles, warnings %v", len(st.Roles), st.Warnings)
	}
	// Expiry policy and refresh.
	mustRampart(t, "repo", "expiry", dir, "ci", "10d")
	out = mustRampart(t, "repo", "refresh", dir, "targets")
	if !strings.Contains(out, "refreshed targets") {
		t.Errorf("refresh output: %s", out)
	}
	if out := mustRampart(t, "repo", "refresh", dir); !strings.Contains(out, "no role needs refreshing") {
		t.Errorf("refresh of a fresh repository: %s", out)
	}
	if err := json.Unmarshal([]byte(mustRampart(t, "repo", "status", dir, "--json")), &st); err != nil {
		t.Fatal(err)
	}
	for _, rs := range st.Roles {
		switch rs.Name {
		case "ci":
			if d := time.Until(rs.Expires); d > 10*24*time.Hour || d < 9*24*time.Hour {
				t.Errorf("ci expires in %v, want 10 days", d)
			}
		case "targets":
			if rs.Version != 8 { // init, 3 adds, delegate, remove, rotate, refresh
				t.Errorf("targets version %d after refresh, want 8", rs.Version)
			}
		}
	}
	mustRampart(t, "repo", "publish", dir, "--out", pub)
	if err := c.refresh(); err != nil {
		t.Fatalf("go-tuf after rotation: %v", err)
	}

	// Errors say what is wrong and what to do.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"repo", "init", dir}, "already a repository"},
		{[]string{"repo", "add", dir}, "either SOURCE or --from-manifest"},
		{[]string{"repo", "add", filepath.Join(tmp, "nope"), single}, "not a Rampart repository"},
		{[]string{"repo", "add", dir, single, "--as", "../x"}, "invalid target path"},
		{[]string{"repo", "add", dir, single, "--custom", "[1]"}, "JSON object"},
		{[]string{"repo", "add", dir, single, "--as", "other/x", "--role", "ci"}, "not trusted for other/x"},
		{[]string{"repo", "remove", dir, "no/such"}, "not in the repository"},
		{[]string{"repo", "delegate", dir, "x", "--key", k1}, "either --paths or --hash-prefixes"},
		{[]string{"repo", "delegate", dir, "snapshot", "--key", k1, "--paths", "*"}, "top-level role"},
		{[]string{"repo", "sign", dir, "targets", "--key", k1}, "is not a key of targets"},
		{[]string{"repo", "rotate", dir, "targets", "--remove-key", "ffff"}, "no key ffff"},
		{[]string{"repo", "publish", dir}, "--out"},
	} {
		_, stderr, err := rampart(t, tc.args...)
		if err == nil || !strings.Contains(stderr, tc.want) {
			t.Errorf("rampart %s: err %v, stderr %q; want it to mention %q", strings.Join(tc.args, " "), err, stderr, tc.want)
		}
	}
}

// TestOfflineThresholdCLI: a targets role with threshold 2 of 3 keys held by
// three people, each with their own key directory. The maintainer prepares
// the change, two holders sign in their copies, the maintainer merges and
// publishes.
func TestOfflineThresholdCLI(t *testing.T) {
	t.Setenv("RAMPART_PASSPHRASE", testPassphrase)
	tmp := t.TempDir()
	var pubs, privs []string
	for _, h := range []string{"alice", "bob", "carol"} {
		priv, pub := newEncKey(t, filepath.Join(tmp, h), "targets")
		pubs, privs = append(pubs, pub), append(privs, priv)
	}
	dir := filepath.Join(tmp, "repo")
	pubDir := filepath.Join(tmp, "pub")
	args := []string{"repo", "init", dir, "--threshold", "targets=2"}
	for _, p := range pubs {
		args = append(args, "--key", "targets="+p)
	}
	mustRampart(t, args...)
	f := writeFile(t, filepath.Join(tmp, "release.tgz"), "release 1")
	_, stderr, err := rampart(t, "repo", "add", dir, f)
	if err != nil || !strings.Contains(stderr, "note: targets is staged with 0 of 2 signatures") {
		t.Errorf("add with offline targets keys: %v, stderr %q", err, stderr)
	}

	// Nothing signed targets yet.
	_, stderr, err = rampart(t, "repo", "publish", dir, "--out", pubDir)
	if err == nil || !strings.Contains(stderr, "role targets has 0 of 2 required signatures") {
		t.Fatalf("publish with no targets signature: %v\n%s", err, stderr)
	}
	// Each holder gets a copy and signs with their own key.
	aliceCopy, bobCopy := filepath.Join(tmp, "alice", "repo"), filepath.Join(tmp, "bob", "repo")
	repotest.CopyDir(t, dir, aliceCopy)
	repotest.CopyDir(t, dir, bobCopy)
	mustRampart(t, "repo", "sign", aliceCopy, "targets", "--key", privs[0])
	mustRampart(t, "repo", "sign", bobCopy, "targets", "--key", privs[1])

	// One signature is not enough; the error names the keys still missing.
	mustRampart(t, "repo", "merge", dir, aliceCopy)
	_, stderr, err = rampart(t, "repo", "publish", dir, "--out", pubDir)
	bobPub, _ := repo.PlainKeyStore{}.ReadPublic(pubs[1])
	carolPub, _ := repo.PlainKeyStore{}.ReadPublic(pubs[2])
	bobID, carolID := repo.KeyID(bobPub), repo.KeyID(carolPub)
	if err == nil || !strings.Contains(stderr, "role targets has 1 of 2 required signatures; missing keys: ") ||
		!strings.Contains(stderr, bobID[:12]+" ("+pubs[1]+")") || !strings.Contains(stderr, carolID[:12]) {
		t.Fatalf("publish with 1 of 2: %v\n%s", err, stderr)
	}
	status := mustRampart(t, "repo", "status", dir)
	if !strings.Contains(status, "1/2") || !strings.Contains(status, bobID[:12]) {
		t.Errorf("status does not show targets at 1/2 missing bob:\n%s", status)
	}
	// Merging bob's copy (the staged file alone works too) reaches the threshold.
	out := mustRampart(t, "repo", "merge", dir, filepath.Join(bobCopy, "staged", "targets.json"))
	if !strings.Contains(out, "targets") {
		t.Errorf("merge output: %s", out)
	}
	mustRampart(t, "repo", "publish", dir, "--out", pubDir)
	c := newGoTUF(t, pubDir)
	if err := c.refresh(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.get("release.tgz"); err != nil || string(got) != "release 1" {
		t.Fatalf("go-tuf: %q, %v", got, err)
	}
	// A signature over other content is refused.
	f2 := writeFile(t, filepath.Join(tmp, "release2.tgz"), "release 2")
	mustRampart(t, "repo", "add", dir, f2)
	_, stderr, err = rampart(t, "repo", "merge", dir, filepath.Join(bobCopy, "staged", "targets.json"))
	if err == nil || !strings.Contains(stderr, "different targets metadata") {
		t.Errorf("merging a stale signature: %v %s", err, stderr)
	}
}

// TestEncryptedKeyStoreCreate checks that the keys one store creates share
// one derivation of the passphrase and are given back by Load without
// asking for it, while another store (another command) must unlock them
// with the passphrase.
func TestEncryptedKeyStoreCreate(t *testing.T) {
	dir := t.TempDir()
	asked := 0
	ks := repo.NewEncryptedKeyStore(nil, func(string) ([]byte, error) { asked++; return []byte(testPassphrase), nil })
	var pks []string
	for _, name := range []string{"a", "b"} {
		pk, err := ks.Create(ctx, dir, name)
		if err != nil {
			t.Fatal(err)
		}
		pks = append(pks, repo.KeyID(pk))
	}
	if asked != 1 {
		t.Errorf("passphrase of new keys asked %d times, want 1", asked)
	}
	for i, name := range []string{"a", "b"} {
		s, err := ks.Load(ctx, filepath.Join(dir, name+".key"))
		if err != nil {
			t.Fatalf("Load of a key the store made: %v", err)
		}
		if repo.KeyID(s.PublicKey()) != pks[i] {
			t.Errorf("Load(%s) gave key %s, want %s", name, repo.KeyID(s.PublicKey()), pks[i])
		}
	}
	other := repo.NewEncryptedKeyStore(func(string) ([]byte, error) { return []byte("wrong"), nil }, nil)
	if _, err := other.Load(ctx, filepath.Join(dir, "a.key")); err == nil {
		t.Error("another store opened a key with a wrong passphrase")
	}
	other = repo.NewEncryptedKeyStore(func(string) ([]byte, error) { return []byte(testPassphrase), nil }, nil)
	for i, name := range []string{"a", "b"} {
		s, err := other.Load(ctx, filepath.Join(dir, name+".key"))
		if err != nil || repo.KeyID(s.PublicKey()) != pks[i] {
			t.Errorf("another store's Load(%s): %v", name, err)
		}
	}
}

// TestEncryptedKeyStoreAsksOnce: a store that opens several key files
// under one passphrase asks for it once, however many files it opens and
// whatever their KDF salts (keys made at different times have their own):
// the passphrase that worked is kept whole for the next file.
func TestEncryptedKeyStoreAsksOnce(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, name := range []string{"a", "b", "c", "d"} {
		maker := repo.NewEncryptedKeyStore(nil, func(string) ([]byte, error) { return []byte(testPassphrase), nil })
		if _, err := maker.Create(ctx, dir, name); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, filepath.Join(dir, name+".key"))
	}
	asked := 0
	ks := repo.NewEncryptedKeyStore(func(string) ([]byte, error) { asked++; return []byte(testPassphrase), nil }, nil)
	for _, p := range paths {
		if _, err := ks.Load(ctx, p); err != nil {
			t.Fatalf("Load(%s): %v", p, err)
		}
	}
	if asked != 1 {
		t.Errorf("the passphrase was asked %d times for %d files, want once", asked, len(paths))
	}
}
