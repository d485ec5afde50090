package client_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/repotest"
)

// FuzzImportBundle feeds arbitrary bytes to ImportBundle: it must never
// panic, and whatever it accepts must be metadata that a client then
// trusts offline.
func FuzzImportBundle(f *testing.F) {
	repo := repotest.New(f)
	repo.AddTarget("targets", "a.txt", []byte("aaa"))
	repo.Delegate("targets", "docs", []string{"docs/*"}, false)
	repo.AddTarget("docs", "docs/readme", []byte("read me"))
	repo.Publish()
	srv := repo.Serve()
	ctx := context.Background()
	dir := f.TempDir()
	if err := client.Init(dir, repo.RootBytes(1)); err != nil {
		f.Fatal(err)
	}
	c, err := client.New(client.Config{MetadataURL: srv.URL + "/metadata", TargetsURL: srv.URL + "/targets", Dir: dir})
	if err != nil {
		f.Fatal(err)
	}
	if err := c.Refresh(ctx); err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.WriteBundle(ctx, &buf, []string{"a.txt", "docs/readme"}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:len(buf.Bytes())/2])
	f.Add([]byte{})
	root := repo.RootBytes(1)
	now := time.Now()

	f.Fuzz(func(t *testing.T, data []byte) {
		dir := filepath.Join(t.TempDir(), "metadata")
		if err := client.Init(dir, root); err != nil {
			t.Fatal(err)
		}
		store := client.TargetStore{Dir: filepath.Join(filepath.Dir(dir), "targets")}
		res, err := client.ImportBundle(ctx, dir, store, bytes.NewReader(data), client.Limits{}, func() time.Time { return now })
		if err != nil {
			return
		}
		c, err := client.New(client.Config{MetadataURL: "http://192.0.2.1/metadata", Dir: dir, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.RefreshOffline(false); err != nil {
			t.Fatalf("an accepted bundle left metadata the client does not trust: %v", err)
		}
		for _, p := range res.Targets {
			info, err := c.Target(ctx, p)
			if err != nil || !store.Has(info) {
				t.Fatalf("an accepted bundle's target %s: %v (stored: %v)", p, err, err == nil && store.Has(info))
			}
		}
	})
}
