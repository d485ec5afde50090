package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rampart-tuf/rampart/server/blob"
	"github.com/rampart-tuf/rampart/server/store"
)

// The garbage collection deletes what the server no longer needs: old
// timestamp versions, and target content that no metadata lists.
//
// Target content is collected in two steps. First the target records
// (which repository holds which content) that nothing keeps: added more
// than the grace ago, and not listed by their repository now, nor by a
// version replaced less than the grace before the snapshot that listed it
// expired (see store.Listing: the server serves content so until then).
// Deleting a repository deletes its records at once. Then the blobs that
// no record of any repository names, and that were stored more than the
// grace ago.
//
// The grace keeps what is in flight: content uploaded (or uploaded again)
// for a publish that has not happened yet, and a blob stored by an upload
// that has not recorded it yet. A publish and the collection of its
// repository's records are serialized by the store (store.CollectTargets),
// and a blob is removed only if it was not stored again in the meantime
// (blob.Collector).

// DefaultGCGrace is how long unlisted target content is kept (Config.GCGrace).
const DefaultGCGrace = 24 * time.Hour

// GCOptions says what a garbage collection keeps.
type GCOptions struct {
	// TimestampHistory is how many timestamp versions of each repository
	// are kept, the current one included.
	TimestampHistory int64
	// Grace is how long target content is kept after it was last uploaded
	// or listed; at least 0.
	Grace time.Duration
	// Now is the collection's time (time.Now when zero).
	Now time.Time

	uploads *uploadGuard // the server's own uploads, if any
}

// GCResult says what a garbage collection removed.
type GCResult struct {
	// Timestamps is the number of timestamp versions deleted: those more
	// than the history kept older than the current one.
	Timestamps int
	// Targets are the target records deleted.
	Targets []store.HeldTarget
	// Blobs are the SHA-256 of the content removed, Bytes its length in
	// all.
	Blobs []string
	Bytes int64
	// StagedUpdates is the number of staged updates removed: those never
	// committed before they expired.
	StagedUpdates int
}

// CollectGarbage collects the server's garbage now. Run does it every
// Config.GCInterval.
func (s *Server) CollectGarbage(ctx context.Context) (GCResult, error) {
	o := GCOptions{TimestampHistory: s.cfg.TimestampHistory, Grace: s.cfg.GCGrace, Now: s.now(), uploads: &s.uploads}
	return CollectGarbage(ctx, s.store, s.blobs, o, s.log)
}

// uploadGuard keeps this process's collection from removing content that
// one of its uploads is storing or has just recorded, whatever the blob
// store's clock says: a blob is removed only if no upload of it ran since
// the collection read which blobs the store's records name.
type uploadGuard struct {
	mu       sync.Mutex
	inFlight map[string]int  // uploads running, by SHA-256
	touched  map[string]bool // uploads that ran during a sweep; nil when none runs
}

// start records an upload of sum; the function returned ends it.
func (g *uploadGuard) start(sum string) (end func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.inFlight == nil {
		g.inFlight = map[string]int{}
	}
	g.inFlight[sum]++
	if g.touched != nil {
		g.touched[sum] = true
	}
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.inFlight[sum]--; g.inFlight[sum] == 0 {
			delete(g.inFlight, sum)
		}
		if g.touched != nil {
			g.touched[sum] = true
		}
	}
}

// sweep starts a sweep: call it before reading the store's records, and
// the function returned when the sweep is over.
func (g *uploadGuard) sweep() (done func()) {
	g.mu.Lock()
	g.touched = map[string]bool{}
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		g.touched = nil
		g.mu.Unlock()
	}
}

// removeIf calls remove unless an upload of sum runs or ran during the
// sweep, with uploads held off meanwhile.
func (g *uploadGuard) removeIf(sum string, remove func() (bool, error)) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.inFlight[sum] > 0 || g.touched[sum] {
		return false, nil
	}
	return remove()
}

// CollectGarbage is the garbage collection of a server's store and blob
// store, for rampart serve gc. Blobs that are not a blob.Collector are
// left alone.
func CollectGarbage(ctx context.Context, st store.Store, blobs blob.Store, o GCOptions, log *slog.Logger) (GCResult, error) {
	var res GCResult
	if o.Grace < 0 {
		return res, fmt.Errorf("garbage collection: negative grace %s", o.Grace)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	n, err := st.PruneTimestamps(ctx, o.TimestampHistory)
	if err != nil {
		return res, err
	}
	res.Timestamps = n
	cutoff := o.Now.Add(-o.Grace)
	if res.Targets, err = st.CollectTargets(ctx, cutoff); err != nil {
		return res, err
	}
	if c, ok := blobs.(blob.Collector); ok {
		if err := collectBlobs(ctx, st, c, cutoff, o.uploads, &res); err != nil {
			return res, err
		}
	}
	if res.Timestamps > 0 || len(res.Targets) > 0 || len(res.Blobs) > 0 {
		log.Info("garbage collected", "timestamps", res.Timestamps, "targets", len(res.Targets), "blobs", len(res.Blobs), "bytes", res.Bytes)
	}
	if sg, ok := st.(store.Staging); ok {
		n, err := sg.DeleteExpiredStaged(ctx, o.Now)
		if err != nil {
			return res, err
		}
		res.StagedUpdates = n
		if n > 0 {
			log.Info("garbage collected", "expired_staged_updates", n)
		}
	}
	return res, nil
}

// collectBlobs removes the blobs stored before cutoff that no target
// record names.
func collectBlobs(ctx context.Context, st store.Store, c blob.Collector, cutoff time.Time, g *uploadGuard, res *GCResult) error {
	if g == nil {
		g = &uploadGuard{}
	}
	defer g.sweep()()
	sums, err := c.List(ctx)
	if err != nil {
		return err
	}
	held, err := st.TargetDigests(ctx)
	if err != nil {
		return err
	}
	for _, sum := range sums {
		if held[sum] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var size int64
		if b, err := c.Open(ctx, sum); err == nil {
			size = b.Size()
			b.Close()
		}
		removed, err := g.removeIf(sum, func() (bool, error) { return c.Remove(ctx, sum, cutoff) })
		if err != nil {
			return errors.Join(fmt.Errorf("removing target content %s", sum), err)
		}
		if removed {
			res.Blobs = append(res.Blobs, sum)
			res.Bytes += size
		}
	}
	return nil
}
