package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rampart-tuf/rampart/api"
	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// dirServer serves the metadata of a repository published with
// `repo publish --out` to repo.Clone and Repo.PullFromServer, read-only:
// the clone and pull measurements read a million-target repository from
// disk, without a server process whose memory would be counted apart.
type dirServer struct{ dir string }

var _ repo.MetadataServer = dirServer{}

var errReadOnly = errors.New("a published directory is read-only")

func (d dirServer) URL() string                     { return "file://" + d.dir }
func (d dirServer) RepositoryURL(gun string) string { return "file://" + d.dir }

func (d dirServer) Metadata(ctx context.Context, gun, file string, limit int64) ([]byte, error) {
	if !filepath.IsLocal(file) {
		return nil, fmt.Errorf("bad metadata name %q", file)
	}
	f, err := os.Open(filepath.Join(d.dir, "metadata", file))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", file, api.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("%s is longer than %d bytes", file, limit)
	}
	return b, err
}

// OnlineKey returns the first key root trusts for role: the published
// repository signed its own timestamp and snapshot.
func (d dirServer) OnlineKey(ctx context.Context, gun, role string) (*metadata.Key, error) {
	b, err := os.ReadFile(filepath.Join(d.dir, "metadata", "root.json"))
	if err != nil {
		return nil, err
	}
	root, err := metadata.ParseRoot(b)
	if err != nil {
		return nil, err
	}
	rk := root.Signed.Roles[role]
	if rk == nil || len(rk.KeyIDs) == 0 {
		return nil, fmt.Errorf("root has no key for %s", role)
	}
	return root.Signed.Keys[rk.KeyIDs[0]], nil
}

func (d dirServer) CreateRepository(ctx context.Context, gun string) (bool, error) {
	return false, errReadOnly
}

func (d dirServer) HasTarget(ctx context.Context, gun, consistentPath string) (bool, error) {
	_, err := os.Stat(filepath.Join(d.dir, "targets", filepath.FromSlash(consistentPath)))
	return err == nil, nil
}

func (d dirServer) UploadTarget(ctx context.Context, gun, targetPath, sha256Hex string, length int64, body io.Reader) error {
	return errReadOnly
}

func (d dirServer) PublishChain(ctx context.Context, gun string, roots [][]byte, roles map[string][]byte, ifMatch string) (*api.PublishResult, error) {
	return nil, errReadOnly
}
