package repo

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"

	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// Content hosted elsewhere: a repository whose target content a registry,
// a CDN or a release page serves, while its metadata is published as
// usual. Such a repository records each target's length and hashes
// without keeping a copy of it, and its publishes send or write metadata
// only (see ContentExternal).

// ContentMode returns where the repository's target content is served
// from.
func (r *Repo) ContentMode() ContentMode { return r.cfg.ContentMode() }

// SetContentMode changes where the repository's target content is served
// from, for the targets added and the publishes made from now on. No role
// changes: targets already listed stay as they are, and content already
// in the store stays there (a stored repository publishes it as before;
// an external one no longer publishes any).
func (r *Repo) SetContentMode(ctx context.Context, m ContentMode) error {
	if _, err := ParseContentMode(string(m)); err != nil {
		return err
	}
	if r.cfg.Content == m {
		return nil
	}
	return r.Update(ctx, func(tx *Tx) error {
		tx.Config().Content = m
		return nil
	})
}

// hashContent describes the file src as a target, reading it once.
func hashContent(src string, bar interface{ WrapReader(io.Reader) io.Reader }) (metadata.TargetFile, error) {
	f, err := os.Open(src)
	if err != nil {
		return metadata.TargetFile{}, err
	}
	defer f.Close()
	var rd io.Reader = f
	if bar != nil {
		rd = bar.WrapReader(f)
	}
	h := sha256.New()
	n, err := io.Copy(h, rd)
	if err != nil {
		return metadata.TargetFile{}, fmt.Errorf("hashing %s: %w", src, err)
	}
	return metadata.TargetFile{Length: n, Hashes: metadata.Hashes{SHA256: h.Sum(nil)}}, nil
}
