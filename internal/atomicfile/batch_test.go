package atomicfile

import (
	"errors"
	"os"
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

// TestSyncBatchFiles checks that the files of a batch written without a
// sync are synced and closed, with its directories, that the work run
// alongside (also) is waited for and its failure reported, and that a
// large batch needs only the file system's directory.
func TestSyncBatchFiles(t *testing.T) {
	dir := t.TempDir()
	open := func(n int) []*os.File {
		var fs []*os.File
		for i := range n {
			f, err := os.Create(filepath.Join(dir, "f"+string(rune('a'+i))))
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("data")
			fs = append(fs, f)
		}
		return fs
	}
	closed := func(fs []*os.File) bool {
		for _, f := range fs {
			if err := f.Close(); !errors.Is(err, os.ErrClosed) {
				return false
			}
		}
		return true
	}
	fs := open(3)
	ran := false
	if err := SyncBatchFiles(4, fs, []string{dir}, func() error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("SyncBatchFiles = %v (also ran: %v)", err, ran)
	}
	if !closed(fs) {
		t.Error("SyncBatchFiles left files open")
	}
	errAlso := errors.New("injected")
	fs = open(2)
	if err := SyncBatchFiles(2, fs, []string{dir}, func() error { return errAlso }); !errors.Is(err, errAlso) {
		t.Errorf("SyncBatchFiles with a failing also = %v, want it", err)
	}
	if !closed(fs) {
		t.Error("SyncBatchFiles left files open after a failure")
	}
	missing := filepath.Join(dir, "missing")
	if err := SyncBatchFiles(1, open(1), []string{dir, missing}); err == nil {
		t.Error("SyncBatchFiles of a small batch did not sync (or check) its directories")
	}
	err := SyncBatchFiles(SmallBatch+1, open(SmallBatch), []string{dir, missing})
	if PerFileSync && err == nil {
		t.Error("SyncBatchFiles of a large batch without SyncFS did not sync its directories")
	}
	if !PerFileSync && err != nil {
		t.Errorf("SyncBatchFiles of a large batch: %v, want one SyncFS of %s", err, dir)
	}
}
