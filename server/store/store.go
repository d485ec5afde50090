// Package store defines how the Rampart server keeps its state: the signed
// metadata of every repository, the changefeed, access tokens, online keys
// and the index of target files held on the server.
//
// A [Store] is implemented by an embedded database (package
// server/store/bolt) and by PostgreSQL (package server/store/postgres);
// package server/store/storetest holds the conformance tests both pass.
//
// A publish is one transaction: the new documents, the repository's new
// state and a changefeed entry are written together or not at all, and only
// if the repository's timestamp is still the one the publisher started from
// (optimistic concurrency). Everything else is simple reads and writes.
//
// The JSON names of Repo, Change, Token, OnlineKey and Target are the form
// in which the embedded store keeps them: they are written out so that
// renaming a Go field does not change stored data. Never change them.
package store

import (
	"context"
	"errors"
	"iter"
	"time"
)

// Errors returned by every Store. Implementations wrap them with context;
// test with errors.Is.
var (
	// ErrNotFound reports a repository, document, token, key or target
	// that does not exist.
	ErrNotFound = errors.New("not found")

	// ErrConflict reports a publish that lost a race: the repository
	// changed since the publisher read it, or a document of the same role
	// and version already exists.
	ErrConflict = errors.New("conflict: the repository changed concurrently")

	// ErrUnavailable reports that the database cannot be reached; the
	// operation may succeed later.
	ErrUnavailable = errors.New("store unavailable")

	// ErrLimit reports a write refused because it would exceed a limit
	// on what a repository may hold (open staged updates).
	ErrLimit = errors.New("limit reached")
)

// Repo is the current state of one repository.
type Repo struct {
	GUN              string `json:"GUN"`
	RootVersion      int64  `json:"RootVersion"`
	SnapshotVersion  int64  `json:"SnapshotVersion"`
	TimestampVersion int64  `json:"TimestampVersion"`
	// TimestampExpires and SnapshotExpires are the expiry times of the
	// current timestamp and snapshot; the server re-signs them in time.
	TimestampExpires time.Time `json:"TimestampExpires"`
	SnapshotExpires  time.Time `json:"SnapshotExpires"`
	// SnapshotOnline is set when the server signs the snapshot.
	SnapshotOnline bool      `json:"SnapshotOnline"`
	UpdatedAt      time.Time `json:"UpdatedAt"`
}

// File is one stored metadata document.
type File struct {
	Role    string // "root", "targets", "snapshot", "timestamp" or a delegated role
	Version int64
	SHA256  string // hex digest of Data
	Data    []byte
}

// Update is one publish: every new document of a repository, including the
// new snapshot (when it changes) and timestamp, and the state that results.
type Update struct {
	// Base is the timestamp version the update was computed from, or 0
	// when it creates the repository. Publish fails with ErrConflict when
	// the repository's current timestamp version differs.
	Base  int64
	Files []File
	// Repo is the state after the update; its GUN names the repository.
	Repo Repo
	// Listings record which target content the new metadata lists, and
	// which content it no longer lists (see Listing). ListingGroups holds
	// more of them, in the groups an update of thousands of roles makes
	// (one per role), so that a million listings are not copied into one
	// slice only to be placed in the index's chunks. Of listings of the
	// same role, path and digest the last counts, Listings before the
	// groups, in order.
	Listings      []Listing
	ListingGroups [][]Listing
	// Prepared holds more, made by the store's PrepareListings
	// (ListingPreparer), after those of ListingGroups in order.
	Prepared []PreparedListings
}

// ListingPreparer is a store that makes listings into the form it keeps
// them in ahead of the update that stores them (Update.Prepared), so that
// an update of a million listings holds them in that smaller form while
// it is checked, and makes them on the cores that check it.
type ListingPreparer interface {
	// PrepareListings returns ls in the store's form; it refuses what
	// Publish would refuse of them.
	PrepareListings(ls []Listing) (PreparedListings, error)
	// PrepareListed is PrepareListings for what a role's first version
	// lists: each path and digest (raw SHA-256 or SHA-512 bytes) that all
	// yields, about n of them, listed by role (Until zero); other digests
	// are left out, as Publish leaves them out.
	PrepareListed(role string, n int, all iter.Seq2[string, []byte]) PreparedListings
}

// PreparedListings are listings as a store's PrepareListings made them:
// only that store takes them.
type PreparedListings interface {
	// Len returns the number of records the listings became.
	Len() int
}

// AllListings returns u's listings as groups, in order: Listings first.
func (u *Update) AllListings() [][]Listing {
	return append([][]Listing{u.Listings}, u.ListingGroups...)
}

// Listing records that a targets role of a repository lists target
// content under a path, by one of its digests (hex SHA-256 or SHA-512):
// the server serves content only so. Until is zero while the role's
// current version lists it; once a new version no longer does, Until says
// how long clients in the middle of an update may still fetch it. Both
// stores keep listings in the compact index of package listindex, by
// keyed hashes (Until to the microsecond), so that a million of them cost
// a fraction of the metadata that lists them.
type Listing struct {
	Role, Path, Digest string
	Until              time.Time
}

// ListingsIndexed is the Listing that AddListings records for a repository
// whose listings are complete (see Server.IndexListings); it lists nothing.
var ListingsIndexed = Listing{Role: "", Path: "", Digest: ""}

// Change is one changefeed entry: a published timestamp or a deletion.
type Change struct {
	ID        int64     `json:"ID"`
	GUN       string    `json:"GUN"`
	Version   int64     `json:"Version"`  // timestamp version; 0 for a deletion
	SHA256    string    `json:"SHA256"`   // hex digest of the timestamp; empty for a deletion
	Category  string    `json:"Category"` // CategoryUpdate or CategoryDeletion
	CreatedAt time.Time `json:"CreatedAt"`
}

// Change categories.
const (
	CategoryUpdate   = "update"
	CategoryDeletion = "deletion"
)

// Token is an access token, kept only as the hash of its secret.
type Token struct {
	Hash string `json:"Hash"` // hex SHA-256 of the token string; empty in listings
	// ID names the token in listings and revocations: the first
	// TokenIDLength hex digits of Hash (see TokenID). Stores fill it in on
	// reads and ignore it on writes.
	ID          string    `json:"ID"`
	GUNPrefix   string    `json:"GUNPrefix"` // GUNs the token covers; empty covers all
	Scope       string    `json:"Scope"`     // "pull", "push" or "admin"
	Description string    `json:"Description"`
	CreatedAt   time.Time `json:"CreatedAt"` // zero if the store does not know it
}

// TokenIDLength is the length of a token ID, in hex digits: 64 bits of the
// hash, enough to tell tokens apart and too little to check a guessed token
// against.
const TokenIDLength = 16

// TokenID returns the ID of the token with the given hash: its first
// TokenIDLength characters (all of it, if shorter). Whoever holds a token
// can compute its ID without asking the server.
func TokenID(hash string) string {
	if len(hash) > TokenIDLength {
		return hash[:TokenIDLength]
	}
	return hash
}

// OnlineKey is a key the server signs timestamp or snapshot metadata with.
type OnlineKey struct {
	GUN     string `json:"GUN"`
	Role    string `json:"Role"` // "timestamp" or "snapshot"
	KeyID   string `json:"KeyID"`
	Public  []byte `json:"Public"`  // the TUF key object, canonical JSON
	Private []byte `json:"Private"` // the private key, sealed by the signer; opaque here
	// CreatedAt orders a repository's keys for a role, newest first.
	CreatedAt time.Time `json:"CreatedAt"`
}

// Target records a target file whose content the server holds for a
// repository. The content itself lives in a blob store, by SHA-256.
type Target struct {
	SHA256    string    `json:"SHA256"` // hex
	SHA512    string    `json:"SHA512"` // hex
	Length    int64     `json:"Length"`
	CreatedAt time.Time `json:"CreatedAt"`
}

// HeldTarget is a target record and its repository.
type HeldTarget struct {
	GUN string
	Target
}

// Store is the server's persistent state. Every method is safe for
// concurrent use, also by several processes sharing one database where the
// implementation allows it.
type Store interface {
	// Repo returns the current state of a repository.
	Repo(ctx context.Context, gun string) (Repo, error)
	// File returns one version of a role's document.
	File(ctx context.Context, gun, role string, version int64) (File, error)
	// Publish applies an update atomically and records a changefeed entry
	// for its timestamp. It fails with ErrConflict, changing nothing, when
	// the repository's timestamp version is not u.Base or a file of the
	// same role and version exists.
	Publish(ctx context.Context, u Update) (Change, error)
	// Delete removes a repository's metadata, listings and target index, records
	// the GUN as deleted (see Deleted) and a deletion in the changefeed.
	// It does so also when the store has nothing of gun: the repository
	// may have existed only as online keys, which the signer retires.
	Delete(ctx context.Context, gun string) (Change, error)
	// PruneTimestamps deletes, in every repository, the timestamp
	// versions more than keep versions older than the current one, and
	// returns how many it deleted. keep is at least 1.
	PruneTimestamps(ctx context.Context, keep int64) (int, error)
	// Deleted reports whether gun was ever deleted.
	Deleted(ctx context.Context, gun string) (bool, error)
	// Expiring returns the repositories whose timestamp expires before
	// timestampBefore, or whose online-signed snapshot expires before
	// snapshotBefore.
	Expiring(ctx context.Context, timestampBefore, snapshotBefore time.Time) ([]Repo, error)

	// Changes returns up to limit changefeed entries with an ID greater
	// than since, oldest first; for one repository, or for all when gun is
	// empty.
	Changes(ctx context.Context, gun string, since int64, limit int) ([]Change, error)
	// ChangesBefore returns up to limit changefeed entries with an ID
	// less than before (before < 0: the latest entries), oldest first:
	// the page that ends where a forward page would start.
	ChangesBefore(ctx context.Context, gun string, before int64, limit int) ([]Change, error)

	// CreateToken stores a token. It fails with ErrConflict when a token
	// with the same hash, or with the same ID, exists.
	CreateToken(ctx context.Context, t Token) error
	// Token returns the token with the given hash.
	Token(ctx context.Context, hash string) (Token, error)
	// Tokens returns every token, oldest first (then by ID), with ID set
	// and Hash empty.
	Tokens(ctx context.Context) ([]Token, error)
	// DeleteToken deletes the token with the given ID and returns it, with
	// Hash empty; the token stops working for every process sharing the
	// store once the call returns. It fails with ErrNotFound when no token
	// has that ID. When check is not nil it is called with the token
	// first, in the same transaction; an error from check cancels the
	// deletion and is returned as it is.
	DeleteToken(ctx context.Context, id string, check func(Token) error) (Token, error)

	// AddOnlineKey stores a key. With onlyIfNone, it stores nothing when
	// the repository already has a key for the role. It returns the
	// newest key for the role after the call.
	AddOnlineKey(ctx context.Context, k OnlineKey, onlyIfNone bool) (OnlineKey, error)
	// OnlineKeys returns the repository's keys for role, newest first.
	OnlineKeys(ctx context.Context, gun, role string) ([]OnlineKey, error)
	// SomeOnlineKeys returns up to limit online keys of any repository,
	// the newest first.
	SomeOnlineKeys(ctx context.Context, limit int) ([]OnlineKey, error)
	// DeleteOnlineKeys deletes every online key of gun, of every role,
	// and returns how many there were.
	DeleteOnlineKeys(ctx context.Context, gun string) (int, error)

	// AddListings adds or replaces listings of a repository, outside a
	// publish (to index repositories published before listings existed).
	AddListings(ctx context.Context, gun string, ls []Listing) error
	// Listed reports whether a role of the repository lists content by
	// digest under path with Until zero or after at. With
	// ListingsIndexed's empty digest and path it reports whether the
	// repository's listings are indexed.
	Listed(ctx context.Context, gun, digest, path string, at time.Time) (bool, error)

	// AddTarget records that the server holds the content of a target.
	AddTarget(ctx context.Context, gun string, t Target) error
	// Target finds a target of the repository by its hex SHA-256 or
	// SHA-512 digest.
	Target(ctx context.Context, gun, digest string) (Target, error)
	// CollectTargets deletes the target records that nothing keeps and
	// returns them: those added (or added again) before cutoff that no
	// listing of their repository keeps, by either digest, with Until
	// zero or after cutoff (the index matches digests by a 64-bit keyed
	// MAC: a collision, about 2^-64 for two digests, keeps more). It deletes the listings whose Until is
	// before cutoff too. A repository's records are checked and deleted
	// in one transaction that is serialized with publishes to it, so a
	// publish that lists content either commits first and keeps it, or
	// finds it gone.
	CollectTargets(ctx context.Context, cutoff time.Time) ([]HeldTarget, error)
	// TargetDigests returns the SHA-256 of every target record of every
	// repository: the content the server still holds for someone.
	TargetDigests(ctx context.Context) (map[string]bool, error)

	// Watch calls fn with the GUN of every change committed from now on,
	// by this process or any other sharing the store, until ctx is done.
	// fn("") means that changes may have been missed, so everything
	// cached must be dropped. Watch returns when ctx is done.
	Watch(ctx context.Context, fn func(gun string)) error

	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store.
	Close() error
}
