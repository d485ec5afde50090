//go:build linux

package atomicfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// PerFileSync is false where one SyncFS call makes a whole batch of
// writes durable, which is far cheaper than syncing thousands of files one
// by one. Where it is true, there is no such call: sync each file as it is
// written and each directory once its files are in place.
const PerFileSync = false

// SyncFS flushes the file system holding path to stable storage.
func SyncFS(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
