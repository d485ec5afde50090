package blob_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server/blob"
)

// TestDirCollector: List names every blob; Remove removes a blob stored
// before the cutoff, keeps one stored (or stored again) after it, and
// leaves nothing in tmp.
func TestDirCollector(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := blob.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	put := func(content string) string {
		t.Helper()
		sum := sha256.Sum256([]byte(content))
		h := hex.EncodeToString(sum[:])
		if _, err := d.Put(ctx, strings.NewReader(content), 1<<20, h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	a, b := put("a"), put("b")
	if got, err := d.List(ctx); err != nil || !slices.Equal(got, slices.Sorted(slices.Values([]string{a, b}))) {
		t.Fatalf("List = %v, %v", got, err)
	}
	before := time.Now().Add(-time.Hour)
	if removed, err := d.Remove(ctx, a, before); err != nil || removed {
		t.Errorf("Remove of a blob stored after the cutoff: %v, %v", removed, err)
	}
	// Stored long ago, then again now: kept.
	old := time.Now().Add(-48 * time.Hour)
	p := filepath.Join(dir, "sha256", a[:2], a)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	put("a")
	if removed, err := d.Remove(ctx, a, before); err != nil || removed {
		t.Errorf("Remove of a blob stored again after the cutoff: %v, %v", removed, err)
	}
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	if removed, err := d.Remove(ctx, a, before); err != nil || !removed {
		t.Errorf("Remove of a blob stored before the cutoff: %v, %v", removed, err)
	}
	if _, err := d.Open(ctx, a); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open after Remove: %v", err)
	}
	if removed, err := d.Remove(ctx, a, time.Now()); err != nil || removed {
		t.Errorf("Remove of a missing blob: %v, %v", removed, err)
	}
	if _, err := d.Remove(ctx, "../../etc", time.Now()); err == nil {
		t.Error("Remove of a malformed digest succeeded")
	}
	if left, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(left) != 0 {
		t.Errorf("left in tmp: %v", left)
	}
	if got, _ := d.List(ctx); !slices.Equal(got, []string{b}) {
		t.Errorf("List after Remove = %v", got)
	}
}
