//go:build linux

package mirror

import (
	"os"

	"golang.org/x/sys/unix"
)

// perFileSync is false where one syncfs call makes a whole run's files
// durable, far cheaper than syncing 100,000 targets one by one.
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
