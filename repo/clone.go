package repo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// CloneOptions configures Clone.
type CloneOptions struct {
	// Server is the metadata server, with a push token, and GUN the
	// repository's name there.
	Server MetadataServer
	GUN    string
	// Root is a root.json of the repository obtained out of band (any
	// version the server has): the clone trusts what chains to it, not
	// what the server says.
	Root []byte
	// Keys are private key files of the maintainer's keys, which the
	// clone signs with whenever they are there.
	Keys []string
	// Content says where the target content is served from (the server
	// does not know): empty means ContentStored.
	Content ContentMode
}

// Clone makes a new repository in dir, which must not exist or be empty,
// from a repository on a metadata server, for a maintainer who does not
// have its directory: every root version, checked from o.Root, every
// role as PullFromServer checks it, and a repo.json that knows the
// server's online keys, the delegations and the hashed bins. Target
// content stays on the server. Nothing is left in dir when Clone fails.
func Clone(ctx context.Context, dir string, o CloneOptions, opts Options) (*Repo, *PullResult, error) {
	if o.Server == nil || o.GUN == "" {
		return nil, nil, fmt.Errorf("clone needs the server and the repository's GUN there")
	}
	trusted, err := metadata.ParseRoot(o.Root)
	if err != nil {
		return nil, nil, fmt.Errorf("trusted root: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, configFile)); err == nil {
		return nil, nil, fmt.Errorf("%s is already a repository (it has %s)", dir, configFile)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, nil, fmt.Errorf("%s is not empty: clone needs a new or empty directory", dir)
	}
	content := ContentStored
	if o.Content != "" {
		if content, err = ParseContentMode(string(o.Content)); err != nil {
			return nil, nil, err
		}
	}
	gun, where := o.GUN, o.Server.RepositoryURL(o.GUN)

	// Root versions 1 to the trusted one, which must chain to it.
	set, roots, err := fetchRootChain(ctx, o.Server, gun, nil, trusted.Signed.Version, opts.Now)
	if err != nil {
		return nil, nil, err
	}
	prev := set.Root().Metadata
	if !bytes.Equal(prev.SignedBytes(), trusted.SignedBytes()) {
		return nil, nil, fmt.Errorf("%s/metadata/%d.root.json is not the trusted root you gave: the server does not serve this repository as %s", where, trusted.Signed.Version, gun)
	}

	// The server's online keys, to know which keys of root it holds.
	cfg := &Config{Format: 1, Expires: map[string]Duration{}, Delegations: map[string]string{}, Keys: map[string]KeyRef{},
		Server: &ServerConfig{URL: o.Server.URL(), GUN: gun}, Content: content}
	for _, role := range []string{metadata.TypeTimestamp, metadata.TypeSnapshot} {
		k, err := o.Server.OnlineKey(ctx, gun, role)
		if err != nil {
			return nil, nil, fmt.Errorf("fetching the server's %s key for %s: %w", role, gun, err)
		}
		cfg.Keys[k.ID()] = KeyRef{Server: true}
	}

	_, statErr := os.Stat(dir)
	created := os.IsNotExist(statErr)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	r, err := startClone(dir, o.Keys, cfg, roots, opts)
	if err == nil {
		r.root = prev
		var res *PullResult
		if res, err = r.PullFromServer(ctx, o.Server); err == nil {
			return r, res, nil
		}
		r.Close()
	}
	// On failure dir is as it was: removed if Clone made it, emptied if
	// it was there (and empty) before.
	if created {
		os.RemoveAll(dir)
	} else if entries, rerr := os.ReadDir(dir); rerr == nil {
		for _, e := range entries {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	return nil, nil, err
}

// startClone makes the repository in dir with cfg, the maintainer's keys
// and the root files fetched, and empty placeholders for snapshot and
// timestamp until the pull replaces them: every role is there to fetch.
func startClone(dir string, keyFiles []string, cfg *Config, roots []change, opts Options) (*Repo, error) {
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	r := newRepo(dir, opts, cfg, unlock)
	err = func() error {
		for _, f := range keyFiles {
			pk, ref, err := r.importKey(f)
			if err != nil {
				return fmt.Errorf("key %s: %w", f, err)
			}
			cfg.Keys[KeyID(pk)] = ref
		}
		now := r.opts.Now()
		snap := metadata.NewSnapshot(now)
		snap.Meta = map[string]metadata.MetaFile{}
		sb, err := metadata.New(snap).Encode()
		if err != nil {
			return err
		}
		tb, err := metadata.New(metadata.NewTimestamp(now)).Encode()
		if err != nil {
			return err
		}
		changes := append(roots,
			change{path: stagedRel(metadata.TypeRoot), data: roots[len(roots)-1].data},
			change{path: stagedRel(metadata.TypeSnapshot), data: sb},
			change{path: stagedRel(metadata.TypeTimestamp), data: tb},
			change{path: configFile, data: cfg.encode()})
		if err := os.MkdirAll(filepath.Join(dir, targetsDir), 0o755); err != nil {
			return err
		}
		return commitFiles(dir, changes)
	}()
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}
