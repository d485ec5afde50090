package mirror_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/mirror"
)

// BenchmarkMirror compares a cold mirror run of a repository of many small
// targets (RAMPART_BENCH_TARGETS, default 10,000, one targets.json) with
// what a client does for the same: a cold refresh, then every target
// downloaded and verified into files, one after the other; and with the
// cold refresh alone.
//
//	RAMPART_BENCH_TARGETS=100000 go test -run '^$' -bench Mirror -benchtime 1x ./mirror/
//	RAMPART_BENCH_TARGETS=100000 go test -run '^$' -bench 'Mirror/^(client-refresh|mirror)$/' -benchtime 1x ./mirror/
func BenchmarkMirror(b *testing.B) {
	n := 10000
	if s := os.Getenv("RAMPART_BENCH_TARGETS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	repo := repotest.New(b)
	content := make([]byte, 1024)
	for i := range n {
		copy(content, fmt.Sprintf("target %d", i))
		repo.AddTarget("targets", fmt.Sprintf("pkg/%03d/%07d.tgz", i%1000, i), append([]byte(nil), content...))
	}
	repo.Publish()
	srv := repo.Serve()
	root := repo.RootBytes(1)
	ctx := context.Background()

	// A cold refresh alone: the metadata a mirror must verify too.
	b.Run(fmt.Sprintf("client-refresh/%d", n), func(b *testing.B) {
		for b.Loop() {
			dir := b.TempDir()
			if err := client.Init(dir, root); err != nil {
				b.Fatal(err)
			}
			c, err := client.New(client.Config{MetadataURL: srv.URL + "/metadata", TargetsURL: srv.URL + "/targets", Dir: dir})
			if err != nil {
				b.Fatal(err)
			}
			if list, err := c.ListTargets(ctx, 0); err != nil || len(list) != n {
				b.Fatalf("%d targets, %v", len(list), err)
			}
		}
	})
	b.Run(fmt.Sprintf("client-refresh-and-download/%d", n), func(b *testing.B) {
		for b.Loop() {
			dir := b.TempDir()
			if err := client.Init(filepath.Join(dir, "metadata"), root); err != nil {
				b.Fatal(err)
			}
			c, err := client.New(client.Config{MetadataURL: srv.URL + "/metadata", TargetsURL: srv.URL + "/targets", Dir: filepath.Join(dir, "metadata")})
			if err != nil {
				b.Fatal(err)
			}
			list, err := c.ListTargets(ctx, 0)
			if err != nil {
				b.Fatal(err)
			}
			for _, t := range list {
				if _, err := c.DownloadFile(ctx, t, filepath.Join(dir, "targets", filepath.FromSlash(t.Path))); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run(fmt.Sprintf("mirror/%d", n), func(b *testing.B) {
		for b.Loop() {
			res, err := mirror.Run(ctx, mirror.Options{URL: srv.URL, Dir: b.TempDir(), Root: root})
			if err != nil || res.Targets != n {
				b.Fatalf("%+v %v", res, err)
			}
		}
	})
	b.Run(fmt.Sprintf("mirror-rerun-unchanged/%d", n), func(b *testing.B) {
		dir := b.TempDir()
		if _, err := mirror.Run(ctx, mirror.Options{URL: srv.URL, Dir: dir, Root: root}); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			res, err := mirror.Run(ctx, mirror.Options{URL: srv.URL, Dir: dir, Root: root})
			if err != nil || !res.UpToDate() {
				b.Fatalf("%+v %v", res, err)
			}
		}
	})
}
