//go:build linux

package repo

import (
	"os"

	"golang.org/x/sys/unix"
)

// perFileSync is false where one syncfs call makes a whole batch of writes
// durable, which is far cheaper than syncing thousands of bins one by one.
const perFileSync = false

// syncFS flushes the file system holding path to stable storage.
func syncFS(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
