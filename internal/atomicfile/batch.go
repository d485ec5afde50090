package atomicfile

import (
	"errors"
	"os"
	"sync"
)

// A batch is a set of files written together and made durable together
// (the files of one commit of a repository, say). How is decided here,
// once, by the number of files: a few are synced one by one (fsync of each
// file as it is written, then of the directories holding them), which
// costs a little per file and waits for nothing else; many are made
// durable by one SyncFS of the whole file system where the system has it,
// which is far cheaper than thousands of fsyncs but waits for every write
// pending on that file system, other programs' too.

// SmallBatch is the largest number of files a batch syncs one by one.
const SmallBatch = 16

// SyncEach reports whether the file of index i (from 0) of a batch is to be
// synced as soon as it is written: true for the first SmallBatch files, and
// for every file where there is no SyncFS.
func SyncEach(i int) bool { return PerFileSync || i < SmallBatch }

// Deferred reports whether the file of index i of a batch may be written
// without a sync, kept open, and handed to SyncBatchFiles at the end: the
// first SmallBatch files. Their syncs then run together, with those of
// the directories, which the file system commits at once instead of one
// after the other (a file that is synced as it is written waits for its
// own commit).
func Deferred(i int) bool { return i < SmallBatch }

// Finish settles file i of a batch, written and still open: a file the
// batch defers (see Deferred) is left open for SyncBatchFiles, and kept
// is true; any other is synced now when SyncEach(i) says, and closed.
func Finish(i int, f *os.File) (kept bool, err error) {
	if Deferred(i) {
		return true, nil
	}
	if SyncEach(i) {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return false, err
}

// SyncBatchFiles is SyncBatch for a batch whose first files, open in
// files, were written without a sync (see Deferred): a small batch syncs
// them and the directories concurrently; a large one is made durable by
// one SyncFS, which covers them. Each of also runs concurrently with these
// syncs: the making durable of other files that must be durable at the
// same point. The files are closed in every case.
func SyncBatchFiles(n int, files []*os.File, dirs []string, also ...func() error) error {
	fns := also
	if !PerFileSync && n > SmallBatch {
		fns = append(fns, func() error { return SyncFS(dirs[0]) })
	} else {
		for _, f := range files {
			fns = append(fns, f.Sync)
		}
		for _, d := range dirs {
			fns = append(fns, func() error { return SyncDir(d) })
		}
	}
	err := concurrently(fns)
	if cerr := CloseAll(files); err == nil {
		err = cerr
	}
	return err
}

// concurrently runs fns at once and returns their errors joined.
func concurrently(fns []func() error) error {
	if len(fns) == 1 {
		return fns[0]()
	}
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// CloseAll closes files, for a batch given up, and joins their errors.
func CloseAll(files []*os.File) error {
	var errs []error
	for _, f := range files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// SyncBatch makes a batch of n files durable, with the entries of the
// directories dirs (files created, renamed or removed there); the first of
// dirs also names the file system. Files of a batch synced one by one (see
// SyncEach) were synced as they were written: only the directories are
// synced. A larger batch is made durable by one SyncFS.
func SyncBatch(n int, dirs ...string) error {
	if !PerFileSync && n > SmallBatch {
		return SyncFS(dirs[0])
	}
	for _, d := range dirs {
		if err := SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}
