package repo

import (
	"io"

	"github.com/rampart-tuf/rampart/internal/progress"
)

// newCountBar returns a progress bar for n items on w, or a bar that draws
// nothing when w is nil or n is small. internal/progress counts bytes; the
// items are shown through its count (lead: a count mode there would read
// better than "4.0 KiB" for 4096 roles).
func newCountBar(w io.Writer, n int, desc string) *progress.Bar {
	if w == nil || n < 256 {
		return nil
	}
	return progress.New(w, int64(n), desc)
}

// newByteBar returns a progress bar for total bytes on w.
func newByteBar(w io.Writer, total int64, desc string) *progress.Bar {
	if w == nil {
		return nil
	}
	return progress.New(w, total, desc)
}
