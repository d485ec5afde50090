package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/rampart-tuf/rampart/server/store"
)

// GCResult says what a garbage collection removed.
type GCResult struct {
	// Timestamps is the number of timestamp versions deleted: those more
	// than the history kept older than the current one.
	Timestamps int
	// StagedUpdates is the number of staged updates removed: those never
	// committed before they expired.
	StagedUpdates int
}

// CollectGarbage deletes what the server no longer needs:
// Config.TimestampHistory timestamp versions of each repository are kept,
// older ones deleted. Run does it every Config.GCInterval.
func (s *Server) CollectGarbage(ctx context.Context) (GCResult, error) {
	return CollectGarbage(ctx, s.store, s.cfg.TimestampHistory, s.log)
}

// CollectGarbage is the garbage collection of a server's store, for
// rampart serve gc: it keeps timestampHistory timestamp versions of each
// repository (the current one included) and deletes older ones.
func CollectGarbage(ctx context.Context, st store.Store, timestampHistory int64, log *slog.Logger) (GCResult, error) {
	var res GCResult
	n, err := st.PruneTimestamps(ctx, timestampHistory)
	if err != nil {
		return res, err
	}
	res.Timestamps = n
	if n > 0 {
		log.Info("garbage collected", "timestamps", n)
	}
	if sg, ok := st.(store.Staging); ok {
		n, err := sg.DeleteExpiredStaged(ctx, time.Now())
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
