// Package atomicfile writes files so that readers, and the system after a
// crash, see either a file's previous content or the whole new content,
// never a part: the new content goes to a temporary file in the same
// directory, which is synced, renamed over the file, and the directory
// synced. It never replaces anything but a regular file.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// TempPrefix begins the name of every temporary file: ".tmp-NAME-RANDOM"
// next to NAME. Code that lists a directory skips, or sweeps up, these.
const TempPrefix = ".tmp-"

// ErrNotRegular is returned when path exists and is not a regular file
// (a symbolic link, a directory, a FIFO, a device...), which is left as is.
var ErrNotRegular = errors.New("not a regular file")

// CheckReplaceable returns an error wrapping ErrNotRegular when path
// exists and is not a regular file. A path that does not exist is fine.
func CheckReplaceable(path string) error {
	st, err := os.Lstat(path)
	if err != nil || st.Mode().IsRegular() {
		return nil
	}
	return fmt.Errorf("%s: %w (%s), so not replaced", path, ErrNotRegular, st.Mode().Type())
}

// A File is the new content of a file, written to a temporary file until
// Commit puts it in place. Abort, deferred, removes it if Commit was not
// reached.
type File struct {
	*os.File
	path string
	done bool
}

// Create starts a file that is to replace path (or create it). Its mode is
// perm exactly, whatever the umask. It fails with ErrNotRegular when path
// is not a regular file. The directory of path must exist.
func Create(path string, perm os.FileMode) (*File, error) {
	if err := CheckReplaceable(path); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), TempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return nil, err
	}
	// CreateTemp makes the file 0600; Chmod also sets the bits the umask
	// would have cleared.
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &File{File: f, path: path}, nil
}

// Commit makes the content durable and puts it at path, replacing what
// was there, then makes the rename durable.
func (f *File) Commit() error {
	return f.commit(false)
}

// CommitNew is Commit, but fails with an error wrapping fs.ErrExist
// instead of replacing a file already at path.
func (f *File) CommitNew() error {
	return f.commit(true)
}

func (f *File) commit(exclusive bool) error {
	if f.done {
		return errors.New("atomicfile: commit of a file already committed or aborted")
	}
	defer f.Abort()
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	var err error
	if exclusive {
		err = os.Link(f.Name(), f.path) // fails if path exists
	} else {
		if err = CheckReplaceable(f.path); err == nil {
			err = os.Rename(f.Name(), f.path)
		}
	}
	if err != nil {
		return err
	}
	return SyncDir(filepath.Dir(f.path))
}

// Abort removes the temporary file, unless Commit has put it in place. It
// may be called more than once, and after Commit.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name()) // after a rename there is nothing left to remove
}

// WriteFile replaces the file at path with data, atomically and durably,
// with mode perm. The directory of path must exist.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

// WriteNewFile is WriteFile, but fails with an error wrapping fs.ErrExist
// when path exists.
func WriteNewFile(path string, data []byte, perm os.FileMode) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s: %w", path, fs.ErrExist)
	}
	return write(path, data, perm, true)
}

func write(path string, data []byte, perm os.FileMode, exclusive bool) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.commit(exclusive)
}

// SyncDir makes the entries of dir (files created, renamed or removed in
// it) durable. Where directories cannot be synced (Windows), it does
// nothing.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	d.Close()
	if err != nil && (errors.Is(err, os.ErrInvalid) || runtime.GOOS == "windows") {
		return nil // directories cannot be synced here
	}
	return err
}
