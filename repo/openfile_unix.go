//go:build unix

package repo

import (
	"os"
	"syscall"
)

// openFile is os.OpenFile for the regular files of a repository. os.OpenFile
// offers every file it opens to the runtime's network poller, which
// regular files refuse, at four more system calls per file than the open
// itself; a commit or a publish of thousands of bins opens thousands of
// files, and on some virtual machines a system call costs microseconds.
// os.NewFile takes the file as it is, blocking, as the poller would have
// left it.
func openFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, flag|syscall.O_CLOEXEC, uint32(perm.Perm()))
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}
