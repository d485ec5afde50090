package server_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rclient "github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/server/servertest"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// TestColdGetReads: a client that trusts only the first root and gets one
// target of a repository of hashed bins from the server reads exactly the
// next root version (to find none: the root chain), timestamp, snapshot,
// the top-level targets (which holds the bins' delegation), the one bin
// the target hashes to, and the target: not the other bins.
func TestColdGetReads(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts := newServer(t, openStore(t, kind))
		m := newMaintainer(t, ts, "example.com/reads")
		r := newBinsRepo(t, m, 8, 2000)
		const path = "pkgs/file-1234.txt"
		m.Upload(path, r.files[path])
		m.MustPublish(merge(merge(r.bins, "targets", r.targets), "root", r.root))

		dir := t.TempDir()
		if err := rclient.Init(dir, r.root); err != nil {
			t.Fatal(err)
		}
		rec := &servertest.Recorder{}
		base := ts.URL + "/tuf/" + m.GUN
		c, err := rclient.New(rclient.Config{MetadataURL: base + "/metadata", TargetsURL: base + "/targets", Dir: dir,
			Fetcher: &rclient.HTTPFetcher{Client: &http.Client{Transport: rec}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		ti, err := c.Target(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := c.Download(ctx, ti, &buf); err != nil || buf.String() != r.files[path] {
			t.Fatalf("download: %q, %v", buf.String(), err)
		}
		sr := metadata.SuccinctRoles{BitLength: 8, NamePrefix: "bins"}
		sum := ti.Hashes.SHA256
		want := []string{
			"GET /tuf/example.com/reads/metadata/2.root.json",
			"GET /tuf/example.com/reads/metadata/timestamp.json",
			"GET /tuf/example.com/reads/metadata/1.snapshot.json",
			"GET /tuf/example.com/reads/metadata/1.targets.json",
			"GET /tuf/example.com/reads/metadata/1." + sr.RoleFor(path) + ".json",
			"GET /tuf/example.com/reads/targets/pkgs/" + hex.EncodeToString(sum) + ".file-1234.txt",
		}
		if !slices.Equal(rec.Requests(), want) {
			t.Errorf("a cold get read\n  %s\nwant\n  %s", strings.Join(rec.Requests(), "\n  "), strings.Join(want, "\n  "))
		}
		if _, err := os.Stat(filepath.Join(dir, "root.json")); err != nil {
			t.Error(err)
		}
	})
}
