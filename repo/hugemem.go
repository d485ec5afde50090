package repo

import "unsafe"

// hugePage is the size of a transparent huge page on the systems that
// have them (amd64, arm64 with 4 KiB pages), to which hugeSlice aligns
// large blocks.
const hugePage = 2 << 20

// hugeSlice returns a new slice of length 0 and capacity n for the large,
// pointer-free blocks that a bulk add fills (the paths, digests and bin
// entries of a million targets), its memory advised for huge pages (see
// adviseHuge). A new block is memory the Go runtime takes fresh from the
// system and does not touch before it is filled, so the advice comes in
// time; a block made from memory the runtime had already used is cleared
// by it, and ordinary memory.
func hugeSlice[T any](n int) []T {
	var zero T
	size := max(1, int(unsafe.Sizeof(zero)))
	if n*size < 4*hugePage {
		// Small: only the huge pages wholly inside it are advised.
		s := make([]T, 0, n)
		adviseHuge(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), n*size))
		return s
	}
	// A huge page's more, to start the slice at a huge page: the part
	// before it is never touched, and costs nothing but addresses.
	s := make([]T, 0, n+hugePage/size)
	start := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	skip := int((start+hugePage-1)&^(hugePage-1)-start) / size
	s = s[skip : skip : skip+n]
	adviseHuge(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), n*size))
	return s
}

// slab hands out parts of large blocks (hugeSlice), so that many small
// pieces share a few huge pages. It is not safe for concurrent use: each
// worker has its own.
type slab[T any] struct {
	block []T
}

// slabBlock is the least number of bytes of a slab's block.
const slabBlock = 8 << 20

// take returns a piece of length 0 and capacity n; give returns to the
// slab what its last piece did not use.
func (s *slab[T]) take(n int) []T {
	if cap(s.block)-len(s.block) < n {
		var zero T
		s.block = hugeSlice[T](max(n, slabBlock/max(1, int(unsafe.Sizeof(zero)))))
	}
	l := len(s.block)
	s.block = s.block[:l+n]
	return s.block[l : l : l+n]
}

// give takes back the end of piece, the last that take returned, that its
// user did not fill: piece as filled, which still lies in the block when
// it did not outgrow its capacity.
func (s *slab[T]) give(piece []T, capacity int) {
	if cap(piece) != capacity || len(piece) == capacity {
		return // outgrew it (a new array), or filled it
	}
	s.block = s.block[:len(s.block)-(capacity-len(piece))]
}
