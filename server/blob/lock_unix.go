//go:build unix

package blob

import (
	"errors"
	"os"
	"syscall"
)

// lockUpload takes an exclusive lock on an upload's temporary file, held
// until the file is closed (or the process dies).
func lockUpload(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// abandoned reports whether the temporary file at p belongs to no live
// upload: whether its lock can be taken.
func abandoned(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	return err == nil || !errors.Is(err, syscall.EWOULDBLOCK)
}
