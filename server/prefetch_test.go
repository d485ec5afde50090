package server

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// TestPrefetcher: roles are prefetched in the order queued, at most window
// of them started and not taken at once, each role once; take gives the
// result of a started role, nil for one never started (and drops it from
// the queue), and stop waits for the prefetches running.
func TestPrefetcher(t *testing.T) {
	var running, most, calls atomic.Int32
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	p := newPrefetcher(func(role string, edges []edge) *prefetched {
		calls.Add(1)
		mu.Lock()
		order = append(order, role) // before running counts it: the test reads order once 3 run
		mu.Unlock()
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		running.Add(-1)
		if role == "bad" {
			return &prefetched{err: errors.New("bad role")}
		}
		return &prefetched{edges: len(edges)}
	})
	p.window = 3
	var roles []string
	for i := range 8 {
		roles = append(roles, fmt.Sprint("r", i))
	}
	p.add(append(roles, "bad"), map[string][]edge{"r0": {{parent: "targets"}, {parent: "x"}}})
	p.add([]string{"r0"}, nil) // queued again: not prefetched twice
	for running.Load() < 3 {
		runtime.Gosched()
	}
	mu.Lock()
	first := slices.Sorted(slices.Values(order))
	mu.Unlock()
	if !slices.Equal(first, []string{"r0", "r1", "r2"}) {
		t.Errorf("started first: %v, want the first 3 queued", first)
	}
	close(release)
	if f := p.take("r0"); f == nil || f.edges != 2 {
		t.Fatalf("r0: %+v, want its prefetch with the 2 edges known when it was queued", f)
	}
	if f := p.take("r7"); f != nil {
		t.Errorf("r7 was not started (the window is 3), but take gave %+v", f)
	}
	for _, r := range roles[1:7] {
		if f := p.take(r); f == nil {
			t.Errorf("%s: not prefetched", r)
		}
	}
	if f := p.take("bad"); f == nil || f.err == nil {
		t.Errorf("bad: %+v, want its error", f)
	}
	p.stop()
	if most.Load() > 3 {
		t.Errorf("%d prefetches at once, the window is 3", most.Load())
	}
	if calls.Load() != 8 { // r0..r6 and bad; r7 was taken before it started
		t.Errorf("%d prefetches, want 8", calls.Load())
	}
}
