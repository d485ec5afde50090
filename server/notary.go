package server

import "github.com/rampart-tuf/rampart/server/notaryapi"

// newNotaryAPI returns Notary v1's API (the /v2/ routes) over the server's
// store, online keys, tokens and caches.
func (s *Server) newNotaryAPI() *notaryapi.API {
	return notaryapi.New(notaryapi.Config{
		Store: s.store, Signer: s.signer, Logger: s.log, Now: s.now, NoAuth: s.cfg.NoAuth,
		ValidateGUN: validateGUN, Lock: s.lockGUN, Invalidate: s.invalidate,
		MaxMetadataBytes: s.cfg.MaxMetadataBytes,
		TimestampExpiry:  s.cfg.TimestampExpiry, SnapshotExpiry: s.cfg.SnapshotExpiry,
		CacheTTL: s.cfg.CacheTTL,
	})
}
