package repo_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/repo"
)

// TestRootRotationChain rotates root keys held by three people, with
// offline signing, and checks that every root version is published and
// that go-tuf's client follows the chain from the first root.
func TestRootRotationChain(t *testing.T) {
	tmp := t.TempDir()
	h1, _ := newKey(t, filepath.Join(tmp, "h1"), "root")
	h2priv, h2 := newKey(t, filepath.Join(tmp, "h2"), "root")
	h3priv, h3 := newKey(t, filepath.Join(tmp, "h3"), "root")
	dir := filepath.Join(tmp, "repo")
	// h1's key is at hand, h2's is offline.
	r, err := repo.Init(ctx, dir, repo.InitOptions{
		Thresholds: map[string]int{"root": 2},
		Keys:       map[string][]string{"root": {h1, h2}},
	}, plainOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pub := filepath.Join(tmp, "pub")
	if _, err := r.Publish(ctx, pub); err == nil || !strings.Contains(err.Error(), "root version 1 has 1 of 2 required signatures; missing keys: ") ||
		!strings.Contains(err.Error(), h2) {
		t.Fatalf("publish of a root with 1 of 2 signatures: %v", err)
	}
	if _, err := r.Sign(ctx, "root", loadKey(t, h2priv)); err != nil {
		t.Fatal(err)
	}
	publish(t, r, pub)
	client := newGoTUF(t, pub)
	if err := client.refresh(); err != nil {
		t.Fatal(err)
	}

	// Replace h1 by h3. Version 2 needs 2 of {h1, h2} and 2 of {h2, h3}.
	h1ID := r.Root().Signed.Roles["root"].KeyIDs[0]
	if err := r.Rotate(ctx, repo.RotateOptions{Role: "root", AddKeys: []string{h3}, RemoveKeys: []string{h1ID[:8]}}); err != nil {
		t.Fatal(err)
	}
	_, err = r.Publish(ctx, pub)
	var se *repo.SignatureError
	if !asSignatureError(err, &se) || len(se.Problems) != 2 {
		t.Fatalf("publish of an unsigned root rotation: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "root version 2 has 0 of 2 required signatures") ||
		!strings.Contains(msg, "root version 2 has 1 of 2 required signatures from the keys of root 1") {
		t.Errorf("error does not explain both thresholds:\n%s", msg)
	}
	if _, err := r.Sign(ctx, "root", loadKey(t, h2priv)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Publish(ctx, pub); err == nil || !strings.Contains(err.Error(), h3) {
		t.Fatalf("publish with h3 missing: %v", err)
	}
	// A key of neither root is refused.
	stranger, _ := newKey(t, filepath.Join(tmp, "x"), "x")
	if _, err := r.Sign(ctx, "root", loadKey(t, stranger)); err == nil {
		t.Error("a stranger's key signed root")
	}
	if _, err := r.Sign(ctx, "root", loadKey(t, h3priv)); err != nil {
		t.Fatal(err)
	}
	publish(t, r, pub)

	// A third version, a threshold change signed by h2 and h3 (from
	// another copy of the repository, merged).
	if err := r.Rotate(ctx, repo.RotateOptions{Role: "snapshot", Threshold: 1, AddKeys: []string{writeSnapshotKey(t, tmp)}}); err != nil {
		t.Fatal(err)
	}
	r = reopen(t, r)
	if _, err := r.Sign(ctx, "root", loadKey(t, h2priv)); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(tmp, "h3", "copy")
	repotest.CopyDir(t, r.Dir(), other)
	o, err := repo.Open(ctx, other, plainOpts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Sign(ctx, "root", loadKey(t, h3priv)); err != nil {
		t.Fatal(err)
	}
	o.Close()
	if _, err := r.Merge(ctx, other); err != nil {
		t.Fatal(err)
	}
	publish(t, r, pub)

	for v := 1; v <= 3; v++ {
		if _, err := os.Stat(filepath.Join(pub, "metadata", []string{"", "1", "2", "3"}[v]+".root.json")); err != nil {
			t.Errorf("root version %d is not published", v)
		}
	}
	latest, _ := os.ReadFile(filepath.Join(pub, "metadata", "3.root.json"))
	current, _ := os.ReadFile(filepath.Join(pub, "metadata", "root.json"))
	if !bytes.Equal(latest, current) {
		t.Error("root.json is not the newest root")
	}
	if err := client.refresh(); err != nil {
		t.Fatalf("go-tuf client that trusted root 1: %v", err)
	}
	if v := client.updater.GetTrustedMetadataSet().Root.Signed.Version; v != 3 {
		t.Errorf("go-tuf trusts root version %d, want 3", v)
	}
	fresh := newGoTUF(t, pub)
	if err := fresh.refresh(); err != nil {
		t.Fatalf("fresh go-tuf client from root 1: %v", err)
	}
}

func writeSnapshotKey(t *testing.T, tmp string) string {
	priv, _ := newKey(t, filepath.Join(tmp, "online"), "snapshot2")
	return priv
}

func asSignatureError(err error, se **repo.SignatureError) bool {
	for err != nil {
		if e, ok := err.(*repo.SignatureError); ok {
			*se = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}
