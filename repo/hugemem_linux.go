package repo

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// adviseHuge asks the system to back the memory of b, where it covers
// whole huge pages, with transparent huge pages (where they are enabled
// for madvise): touching it the first time then costs a page fault per
// 2 MiB instead of one per 4 KiB, which on some virtual machines is most
// of what filling a large new block costs. It is advice: when the system
// declines, b is ordinary memory.
func adviseHuge(b []byte) {
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	first := (start + hugePage - 1) &^ (hugePage - 1)
	end := (start + uintptr(len(b))) &^ (hugePage - 1)
	if end <= first {
		return
	}
	p := unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), first-start)
	unix.Madvise(unsafe.Slice((*byte)(p), end-first), unix.MADV_HUGEPAGE)
}
