package store

import (
	"context"
	"time"

	"github.com/rampart-tuf/rampart/api"
)

// A staged update is a publish too large for one request: its documents
// arrive in parts (see Staging), are checked when the publisher commits
// it, and are then moved into the repository in one transaction. Until it
// is committed nothing of it is served; one that is never committed
// expires and is removed. Only documents are staged: the target listings
// of the update are computed by the commit and written by it.

// Staged is a staged update of a repository.
type Staged struct {
	GUN     string
	ID      string // random, chosen by the server
	Created time.Time
	Expires time.Time
}

// StagedPart is one document of a staged update, under its part name: a
// role name, or RootPart(i) for the i-th new root version of the chain.
type StagedPart struct {
	Name   string
	SHA256 string // hex digest of Data
	Length int64
	Data   []byte // nil in listings
}

// StagedFile says where a committed part goes: the document of part Part
// becomes version Version of Role.
type StagedFile struct {
	Part    string
	Role    string
	Version int64
}

// Staging is implemented by the stores that keep staged updates (both
// stores of this module).
type Staging interface {
	// CreateStaged records a new staged update, unless s.GUN already has
	// maxOpen staged updates that expire after s.Created: then it fails
	// with ErrLimit, changing nothing. The count and the insert are one
	// atomic step.
	CreateStaged(ctx context.Context, s Staged, maxOpen int) error
	// Staged returns a staged update and its parts (without data),
	// sorted by name. It fails with ErrNotFound for an unknown ID, one of
	// another GUN, and one that expired before now.
	Staged(ctx context.Context, gun, id string, now time.Time) (Staged, []StagedPart, error)
	// PutStagedParts adds parts, or replaces the parts of the same names,
	// in one transaction.
	PutStagedParts(ctx context.Context, gun, id string, ps []StagedPart) error
	// StagedPart returns one part with its data.
	StagedPart(ctx context.Context, gun, id, name string) (StagedPart, error)
	// StagedPartsNamed returns the parts of the given names with their
	// data, in one read (those it lacks are left out).
	StagedPartsNamed(ctx context.Context, gun, id string, names []string) ([]StagedPart, error)
	// CommitStaged is Publish with more files: each part of moves
	// becomes the file it names, in the same transaction as u (whose
	// listings are every listing the update changes); the staged update
	// is deleted with it. On any error nothing changes.
	CommitStaged(ctx context.Context, u Update, id string, moves []StagedFile) (Change, error)
	// DeleteStaged deletes a staged update and its parts.
	DeleteStaged(ctx context.Context, gun, id string) error
	// DeleteExpiredStaged deletes every staged update that expired
	// before now and returns how many.
	DeleteExpiredStaged(ctx context.Context, now time.Time) (int, error)
}

// RootPart is the part name of the i-th (from 1) new root version of a
// staged update's chain. No role name begins with "root/" (see
// metadata.CheckRoleName).
func RootPart(i int) string { return api.StagedRootPart(i) }
