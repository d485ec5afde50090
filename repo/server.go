package repo

import (
	"context"
	"io"

	"github.com/rampart-tuf/rampart/api"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// MetadataServer is what the repository library needs of a metadata
// server (rampart serve; docs/server-api.md): its public metadata, the
// repository's creation and online keys, target uploads and atomic
// publishes. server/apiclient's
// Client, which carries the token, is one.
type MetadataServer interface {
	// URL is the server's base URL and RepositoryURL the one of gun's
	// files, for repo.json, the upload record and messages.
	URL() string
	RepositoryURL(gun string) string
	// Metadata reads a metadata file of gun ("root.json",
	// "3.targets.json"), failing beyond limit bytes. A file or repository
	// the server does not have matches api.ErrNotFound.
	Metadata(ctx context.Context, gun, file string, limit int64) ([]byte, error)
	// CreateRepository creates gun on the server, which makes its online
	// keys, and reports whether it was new (an existing one is no error).
	CreateRepository(ctx context.Context, gun string) (created bool, err error)
	// OnlineKey returns the key the server signs gun's role with.
	OnlineKey(ctx context.Context, gun, role string) (*metadata.Key, error)
	// HasTarget reports whether the server has the content of gun at
	// consistentPath ("dir/HASH.name").
	HasTarget(ctx context.Context, gun, consistentPath string) (bool, error)
	// UploadTarget uploads length bytes of content for targetPath, whose
	// SHA-256 is sha256Hex.
	UploadTarget(ctx context.Context, gun, targetPath, sha256Hex string, length int64, body io.Reader) error
	// PublishChain sends new root versions, in order, and roles in one
	// atomic update. An update over the server's size limit matches
	// api.ErrTooLarge.
	PublishChain(ctx context.Context, gun string, roots [][]byte, roles map[string][]byte, ifMatch string) (*api.PublishResult, error)
}
