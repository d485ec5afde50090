package blob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Collector is a Store whose blobs a garbage collection can remove.
//
// Put of content that is stored already counts as storing it again: the
// blob's storage time moves to the time of that Put. A collection removes
// only blobs stored before a cutoff, so that content an upload has just
// stored, and is about to record, is never removed under it.
type Collector interface {
	Store
	// List returns the SHA-256 of every blob.
	List(ctx context.Context) ([]string, error)
	// Remove removes the blob sum if it was last stored before cutoff,
	// and reports whether it did. A blob that is not there is not an
	// error.
	Remove(ctx context.Context, sum string, cutoff time.Time) (bool, error)
}

var _ Collector = (*Dir)(nil)

// List implements Collector.
func (d *Dir) List(context.Context) ([]string, error) {
	sums, err := d.list()
	if err != nil {
		return nil, fmt.Errorf("blob store: listing: %w", err)
	}
	return sums, nil
}

// Remove implements Collector. A blob's storage time is its file's
// modification time: Put renames a freshly written file into place, also
// for content that is there already. The file is first moved out of the
// way, then its time is read: a Put that came before the move shows in
// that time, and the file is put back; a Put after it writes a new file.
func (d *Dir) Remove(_ context.Context, sum string, cutoff time.Time) (bool, error) {
	if !ValidSHA256(sum) {
		return false, fmt.Errorf("blob store: remove %q: not a SHA-256", sum)
	}
	p := d.path(sum)
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("blob store: %w", err)
	}
	if !fi.ModTime().Before(cutoff) {
		return false, nil
	}
	trash := filepath.Join(d.dir, "tmp", "gc-"+sum)
	if err := os.Rename(p, trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("blob store: %w", err)
	}
	defer os.Remove(trash)
	if fi, err = os.Stat(trash); err != nil {
		return false, fmt.Errorf("blob store: %w", err)
	}
	if !fi.ModTime().Before(cutoff) {
		// Stored again meanwhile: put it back, unless a newer Put did.
		if err := os.Link(trash, p); err != nil && !errors.Is(err, fs.ErrExist) {
			return false, fmt.Errorf("blob store: putting back %s: %w", sum, err)
		}
		return false, nil
	}
	return true, nil
}
