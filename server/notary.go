package server

import (
	"context"
	"errors"

	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/notaryapi"
)

// newNotaryAPI returns Notary v1's API (the /v2/ routes) over the server's
// store, online keys, tokens and caches, creating and deleting
// repositories as the server's own routes do.
func (s *Server) newNotaryAPI() *notaryapi.API {
	return notaryapi.New(notaryapi.Config{
		Store: s.store, Signer: s.signer, Logger: s.log, Now: s.now, NoAuth: s.cfg.NoAuth,
		ValidateGUN: validateGUN, Lock: s.lockGUN, Invalidate: s.invalidate,
		Create: func(ctx context.Context, gun string, scope auth.Scope) error {
			_, err := s.Create(ctx, gun, scope)
			return notaryError(err)
		},
		Created: s.created,
		Delete: func(ctx context.Context, gun string) error {
			_, err := s.Delete(ctx, gun)
			return notaryError(err)
		},
		ListingChanges:   ListingChanges,
		MaxMetadataBytes: s.cfg.MaxMetadataBytes,
		TimestampExpiry:  s.cfg.TimestampExpiry, SnapshotExpiry: s.cfg.SnapshotExpiry,
		CacheTTL: s.cfg.CacheTTL,
	})
}

// notaryError passes the server's API errors to the Notary API with their
// status.
func notaryError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return &notaryapi.StatusError{Status: e.Status, Msg: e.Error()}
	}
	return err
}
