package server

import (
	"runtime"
	"sync"

	"github.com/rampart-tuf/rampart/server/store"
)

// The check of an update walks its targets roles one at a time, in the
// order of the specification's search. Loading a role sent (reading it,
// parsing it, encoding it again), verifying it against the delegations
// known when it is queued and working out the listings it changes take
// nearly all of the time of a large update, and depend only on the
// document and on what the walk has already fixed; a prefetcher does them
// for the next few roles of the walk on other cores, and the walk takes
// the results in its own order. Nothing a prefetch finds is used before
// the walk reaches the role, so an update is refused with the same error
// either way.

// prefetched is what a prefetch found for one role.
type prefetched struct {
	doc      *targetsDoc
	err      error // from loading or from verifying against edges
	edges    int   // the first edges of c.edges[role] verified
	listings []store.Listing
	prepared store.PreparedListings // the listings, when the sink prepares them
	lerr     error                  // from working out the listings
	done     chan struct{}
}

// prefetcher runs prefetches of roles in the order they are queued, with at
// most window of them started and not yet taken.
type prefetcher struct {
	run    func(role string, edges []edge) *prefetched
	window int

	mu      sync.Mutex
	queue   []queued
	started map[string]*prefetched
	seen    map[string]bool // roles ever started
	wg      sync.WaitGroup
	stopped bool
}

type queued struct {
	role  string
	edges []edge
}

func newPrefetcher(run func(role string, edges []edge) *prefetched) *prefetcher {
	return &prefetcher{run: run, window: 2 * runtime.GOMAXPROCS(0), started: map[string]*prefetched{}, seen: map[string]bool{}}
}

// add queues roles, with the delegations to each known now.
func (p *prefetcher) add(roles []string, edges map[string][]edge) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range roles {
		p.queue = append(p.queue, queued{r, append([]edge(nil), edges[r]...)})
	}
	p.fill()
}

// fill starts prefetches while the window has room; p.mu is held.
func (p *prefetcher) fill() {
	for !p.stopped && len(p.started) < p.window && len(p.queue) > 0 {
		q := p.queue[0]
		p.queue = p.queue[1:]
		if p.seen[q.role] {
			continue
		}
		f := &prefetched{done: make(chan struct{})}
		p.started[q.role], p.seen[q.role] = f, true
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			r := p.run(q.role, q.edges)
			f.doc, f.err, f.edges, f.listings, f.prepared, f.lerr = r.doc, r.err, r.edges, r.listings, r.prepared, r.lerr
			close(f.done)
		}()
	}
}

// take returns the prefetch of role, waiting for it to finish, or nil if
// none was started (the caller loads the role itself). A role queued and
// not started is dropped from the queue.
func (p *prefetcher) take(role string) *prefetched {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	f := p.started[role]
	if f != nil {
		p.mu.Unlock()
		<-f.done
		p.mu.Lock()
		delete(p.started, role)
	} else {
		for i, q := range p.queue {
			if q.role == role {
				p.queue = append(p.queue[:i:i], p.queue[i+1:]...)
				break
			}
		}
	}
	p.fill()
	p.mu.Unlock()
	return f
}

// stop drops what is queued and waits for the prefetches running.
func (p *prefetcher) stop() {
	p.mu.Lock()
	p.stopped, p.queue = true, nil
	p.mu.Unlock()
	p.wg.Wait()
}
