// Package bufpool keeps a few large byte buffers for reuse.
//
// Memory a process touches for the first time costs a page fault for each
// page (on some virtual machines more than filling the page does), and
// the Go runtime returns freed memory to the system, where touching it
// again faults again. A server that takes an update of a hundred
// megabytes in parts of up to 16 MiB so spends less reading each part
// into a buffer that held an earlier one than into a fresh one. Unlike a
// sync.Pool, a Pool keeps its buffers across garbage collections, and
// holds at most as many as it was made for.
package bufpool

// Pool is a bounded free list of byte buffers; it is safe for concurrent
// use. The zero Pool keeps nothing.
type Pool struct {
	free    chan []byte
	minSize int
}

// New returns a Pool that keeps up to n buffers, each made with room for
// at least minSize bytes, so that a buffer kept serves any later Get up to
// that size (room not written to costs no memory).
func New(n, minSize int) *Pool { return &Pool{free: make(chan []byte, n), minSize: minSize} }

// Get returns a buffer of length size: a kept one when one is large
// enough, else a new one. Its bytes are not cleared.
func (p *Pool) Get(size int) []byte {
	if p != nil {
		select {
		case b := <-p.free:
			if cap(b) >= size {
				return b[:size]
			}
			// Too small: dropped, and a larger one takes its place
			// when it is put back.
		default:
		}
		return make([]byte, size, max(size, p.minSize))
	}
	return make([]byte, size)
}

// Drain drops the buffers kept, for the garbage collector to take back:
// a caller done with a run of large buffers lets their memory serve what
// comes next.
func (p *Pool) Drain() {
	if p == nil {
		return
	}
	for {
		select {
		case <-p.free:
		default:
			return
		}
	}
}

// Put keeps b for a later Get, unless the pool is full. The caller must
// not use b afterwards.
func (p *Pool) Put(b []byte) {
	if p == nil || cap(b) == 0 {
		return
	}
	select {
	case p.free <- b[:0]:
	default:
	}
}
