package repo

import (
	"testing"
	"unsafe"
)

// TestSlab: the pieces a slab hands out do not overlap, what a piece did
// not fill goes to the next, and a piece that outgrew its capacity gives
// nothing back.
func TestSlab(t *testing.T) {
	var s slab[int32]
	a := s.take(100)
	if len(a) != 0 || cap(a) != 100 {
		t.Fatalf("take(100) = len %d cap %d", len(a), cap(a))
	}
	a = append(a, 1, 2, 3)
	s.give(a, 100)
	b := s.take(10)
	if &b[:1][0] != &a[:4][3] {
		t.Errorf("the next piece does not start where the first one's 3 values end")
	}
	b = append(b, 7)
	if a[:4][3] != 7 || a[2] != 3 {
		t.Errorf("pieces: %v and %v", a[:4], b)
	}
	s.give(b, 10)
	c := s.take(4)
	grown := append(c, 1, 2, 3, 4, 5) // outgrows it: a new array
	s.give(grown, 4)
	d := s.take(1)
	if uintptr(unsafe.Pointer(unsafe.SliceData(d))) != uintptr(unsafe.Pointer(unsafe.SliceData(c)))+4*4 {
		t.Errorf("a piece that outgrew its capacity gave its room back")
	}
	// A piece larger than a block gets a block of its own.
	big := s.take(slabBlock)
	if cap(big) != slabBlock {
		t.Errorf("take(%d): cap %d", slabBlock, cap(big))
	}
	if h := hugeSlice[binTarget](1 << 20); len(h) != 0 || cap(h) != 1<<20 {
		t.Errorf("hugeSlice(1<<20) = len %d cap %d", len(h), cap(h))
	}
}
