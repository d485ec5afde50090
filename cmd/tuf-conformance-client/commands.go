package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/rampart-tuf/rampart/client"
)

func initialize(o options, trustedRoot string) error {
	data, err := os.ReadFile(trustedRoot)
	if err != nil {
		return err
	}
	return client.Init(o.metadataDir, data)
}

func newClient(o options) (*client.Client, error) {
	now := o.now
	return client.New(client.Config{
		MetadataURL: o.metadataURL,
		TargetsURL:  o.targetBaseURL,
		Dir:         o.metadataDir,
		Now:         func() time.Time { return now },
	})
}

func refresh(ctx context.Context, o options) error {
	c, err := newClient(o)
	if err != nil {
		return err
	}
	return c.Refresh(ctx)
}

// download refreshes, then downloads each target in argument order with one
// client, stopping at the first failure. A target is stored under its path
// escaped into one file name, so the same target keeps its name; an
// unchanged target already there is not downloaded again.
func download(ctx context.Context, o options, stderr io.Writer) error {
	c, err := newClient(o)
	if err != nil {
		return err
	}
	if err := c.Refresh(ctx); err != nil {
		return err
	}
	if err := os.MkdirAll(o.targetDir, 0o755); err != nil {
		return err
	}
	for _, name := range o.targetNames {
		info, err := c.Target(ctx, name)
		if err != nil {
			return err
		}
		dst := filepath.Join(o.targetDir, url.PathEscape(name))
		got, err := c.DownloadFile(ctx, info, dst)
		if err != nil {
			return err
		}
		if !got {
			fmt.Fprintf(stderr, "%s: already downloaded\n", name)
		}
	}
	return nil
}
