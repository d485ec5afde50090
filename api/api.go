// Package api holds the wire types and name rules of the metadata server's
// HTTP API (docs/server-api.md): what the server (package server) and its
// clients (package server/apiclient, and through a Server interface the
// repository library) must agree on. It does no I/O.
package api

import (
	"errors"

	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// ErrNotFound is matched by errors.Is for a 404 answer: no such
// repository, file, key or route.
var ErrNotFound = errors.New("not found")

// ErrTooLarge is matched by errors.Is for a 413 answer: a request body
// over the server's limit.
var ErrTooLarge = errors.New("request too large")

// IsReserved reports whether seg is one of the path segments that end a
// GUN in the server's URLs ("metadata", "targets", "keys", "changefeed"):
// no segment of a GUN may be one, or the GUN would address another
// repository's files.
func IsReserved(seg string) bool {
	switch seg {
	case "metadata", "targets", "keys", "changefeed":
		return true
	}
	return false
}

// ValidRoleName reports whether name can name a delegated role, whose
// metadata becomes a URL path and a file: metadata.CheckRoleName's rule,
// 1 to 255 bytes of '/'-separated segments ("targets/releases"), each 1 to
// 128 letters, digits, '.', '_' and '-', starting with a letter or digit
// (so never empty, "." or "..").
func ValidRoleName(name string) bool { return metadata.CheckRoleName(name) == nil }

// TokenIDLength is the length of a token's ID: 16 lowercase hex digits,
// the first 8 bytes of the SHA-256 of the token.
const TokenIDLength = 16

// ValidTokenID reports whether id looks like a token ID.
func ValidTokenID(id string) bool {
	if len(id) != TokenIDLength {
		return false
	}
	for _, c := range []byte(id) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// PublishResult is the server's answer to a successful publish.
type PublishResult struct {
	GUN              string `json:"gun"`
	ChangeID         int64  `json:"change_id"`
	RootVersion      int64  `json:"root_version"`
	SnapshotVersion  int64  `json:"snapshot_version"`
	TimestampVersion int64  `json:"timestamp_version"`
	// ETag is the ETag of the new timestamp.json, for If-Match on the
	// next publish.
	ETag string `json:"etag"`
}
