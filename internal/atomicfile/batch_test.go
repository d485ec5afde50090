package atomicfile

import (
	"path/filepath"
	"testing"
)

// TestBatchRule checks the one rule of how a batch is made durable: the
// first SmallBatch files one by one, and a larger batch at once where
// SyncFS exists (where it does not, every file one by one).
func TestBatchRule(t *testing.T) {
	for _, c := range []struct {
		i    int
		want bool
	}{{0, true}, {SmallBatch - 1, true}, {SmallBatch, PerFileSync}, {100000, PerFileSync}} {
		if got := SyncEach(c.i); got != c.want {
			t.Errorf("SyncEach(%d) = %v, want %v", c.i, got, c.want)
		}
	}
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	// A small batch syncs each directory, so a missing one is an error.
	if err := SyncBatch(1, dir, missing); err == nil {
		t.Error("SyncBatch of a small batch did not sync (or check) its directories")
	}
	if err := SyncBatch(SmallBatch, dir); err != nil {
		t.Errorf("SyncBatch(%d): %v", SmallBatch, err)
	}
	// A large batch syncs the file system of the first directory only.
	err := SyncBatch(SmallBatch+1, dir, missing)
	if PerFileSync && err == nil {
		t.Error("SyncBatch of a large batch without SyncFS did not sync its directories")
	}
	if !PerFileSync && err != nil {
		t.Errorf("SyncBatch of a large batch: %v, want one SyncFS of %s", err, dir)
	}
}
