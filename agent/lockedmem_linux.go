//go:build linux

package agent

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockedBuf is memory of its own pages, outside the Go heap, locked into
// RAM (never swapped) and left out of core dumps.
type lockedBuf struct {
	mem   []byte // the n bytes asked for
	pages []byte // the whole mapping
}

// newLocked maps n bytes (rounded up to whole pages) and locks them.
func newLocked(n int) (*lockedBuf, error) {
	page := os.Getpagesize()
	size := max(1, (n+page-1)/page) * page
	pages, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("mapping memory for a key: %w", err)
	}
	if err := unix.Mlock(pages); err != nil {
		unix.Munmap(pages)
		return nil, fmt.Errorf("locking a key's memory against swapping (mlock; raise RLIMIT_MEMLOCK, ulimit -l): %w", err)
	}
	if err := unix.Madvise(pages, unix.MADV_DONTDUMP); err != nil {
		unix.Munlock(pages)
		unix.Munmap(pages)
		return nil, fmt.Errorf("keeping a key's memory out of core dumps (madvise): %w", err)
	}
	return &lockedBuf{mem: pages[:n:n], pages: pages}, nil
}

// free zeroes, unlocks and unmaps the buffer.
func (b *lockedBuf) free() {
	if b.pages == nil {
		return
	}
	clear(b.pages)
	unix.Munlock(b.pages)
	unix.Munmap(b.pages)
	b.mem, b.pages = nil, nil
}

// HardenProcess marks the process as not dumpable: no core dumps, and processes
// of the same user cannot ptrace it or read its memory through /proc.
func HardenProcess() error {
	return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}
