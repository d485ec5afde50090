package client

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rampart-tuf/rampart/internal/atomicfile"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// store keeps the trusted metadata in one directory, byte for byte as it
// was received, under non-versioned names. Delegated role names are
// percent-encoded into a single safe file name (metadata.RoleFileName).
type store struct{ dir string }

// fileName returns the file name of role's metadata in a store.
func fileName(role string) string { return metadata.RoleFileName(role) }

func (s store) path(role string) string { return filepath.Join(s.dir, fileName(role)) }

// read returns the stored metadata of role, or nil when there is none.
func (s store) read(role string, maxLength int64) ([]byte, error) {
	f, err := os.Open(s.path(role))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxLength {
		return nil, fmt.Errorf("%s: %d bytes exceeds the bound of %d", s.path(role), st.Size(), maxLength)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return nil, err
	}
	return data, nil
}

// staleTempAge is how old a temporary file of the store must be before it
// counts as left behind by a write that never finished (a crash); younger
// ones may belong to another process writing right now.
const staleTempAge = time.Hour

// removeStaleTemp removes temporary files of writes that never finished,
// last modified before cutoff. They are never read; this only keeps the
// directory from filling up. Errors are ignored: the files are harmless.
func (s store) removeStaleTemp(cutoff time.Time) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".tmp-") || !e.Type().IsRegular() {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(s.dir, e.Name()))
		}
	}
}

// write stores data as role's metadata atomically.
func (s store) write(role string, data []byte) error {
	return writeFileAtomic(s.path(role), data, 0o644)
}

func (s store) remove(role string) error {
	err := os.Remove(s.path(role))
	if os.IsNotExist(err) {
		return nil
	}
	return err
}

// writeFileAtomic replaces path with data, atomically and durably (see
// package atomicfile).
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	return atomicfile.WriteFile(path, data, mode)
}
