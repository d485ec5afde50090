package atomicfile

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
