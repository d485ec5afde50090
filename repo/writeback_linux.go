package repo

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback starts writing the data of f, just written, to its
// storage without waiting for it, so that the sync that makes a batch of
// thousands of files durable (one SyncFS) finds most of it written while
// the rest of the batch was being made, instead of waiting for all of it.
// It is a hint: an error changes nothing, since the sync follows.
func startWriteback(f *os.File) {
	unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}
