package mirror_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/atomicfile"
	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/mirror"
)

// BenchmarkMirror compares a cold mirror run of a repository of many small
// targets (RAMPART_BENCH_TARGETS, default 10,000, one targets.json) with
//
//   - client-refresh: a client's cold refresh alone (the metadata a mirror
//     must verify too);
//   - raw-get-files: the transfer of the targets' bytes as a tool that
//     verifies nothing does it from the same server, with the same HTTP
//     client and number of downloads at once as the mirror: a GET of every
//     target URL (listed before the clock starts), each body written to
//     its file below a directory (no fsync);
//   - raw-get-files-synced: raw-get-files, then one syncfs, as the mirror
//     makes its files durable before its metadata points to them;
//   - raw-get-discard: the same GETs with the bodies read and dropped,
//     which shows what creating the files costs;
//   - client-refresh-and-download: a client's cold refresh, then every
//     target downloaded and verified into its file, one after the other.
//
// Each reports cpu-s/op, the CPU time of the process (server included:
// it runs in the process too) per run. At the end it logs the ratio the
// issue sets (at most 2): mirror / (client-refresh + raw-get-*).
//
//	RAMPART_BENCH_TARGETS=100000 go test -run '^$' -bench Mirror -benchtime 1x ./mirror/
//	RAMPART_BENCH_TARGETS=100000 go test -run '^$' -bench 'Mirror/^(client-refresh|raw-get-files|raw-get-files-synced|raw-get-discard|mirror)$/' -benchtime 1x ./mirror/
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
	const workers = 8 // the mirror's default
	took := map[string]time.Duration{}
	// measure runs a sub-benchmark: setup, when not nil, then run in a
	// loop, timed.
	measure := func(name string, setup func(b *testing.B), run func(b *testing.B)) {
		b.Run(fmt.Sprintf("%s/%d", name, n), func(b *testing.B) {
			if setup != nil {
				setup(b)
			}
			cpu0, runs := cpuTime(), 0
			for b.Loop() {
				run(b)
				runs++
			}
			took[name] = b.Elapsed() / time.Duration(runs)
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(runs), "cpu-s/op")
		})
	}

	measure("client-refresh", nil, func(b *testing.B) {
		if list := coldList(b, srv.URL, root); len(list) != n {
			b.Fatalf("%d targets", len(list))
		}
	})
	var urls, paths []string
	{
		c, list := coldClient(b, srv.URL, root)
		for _, t := range list {
			urls = append(urls, c.TargetURL(t))
			paths = append(paths, filepath.FromSlash(t.Path))
		}
	}
	measure("raw-get-files", nil, func(b *testing.B) {
		rawGet(b, urls, paths, b.TempDir(), workers)
	})
	measure("raw-get-files-synced", nil, func(b *testing.B) {
		dir := b.TempDir()
		rawGet(b, urls, paths, dir, workers)
		if err := atomicfile.SyncFS(dir); err != nil {
			b.Fatal(err)
		}
	})
	measure("raw-get-discard", nil, func(b *testing.B) {
		rawGet(b, urls, nil, "", workers)
	})
	measure("mirror", nil, func(b *testing.B) {
		res, err := mirror.Run(ctx, mirror.Options{URL: srv.URL, Dir: b.TempDir(), Root: root, Workers: workers})
		if err != nil || res.Targets != n {
			b.Fatalf("%+v %v", res, err)
		}
	})
	var dir string
	measure("mirror-rerun-unchanged", func(b *testing.B) {
		dir = b.TempDir()
		if _, err := mirror.Run(ctx, mirror.Options{URL: srv.URL, Dir: dir, Root: root, Workers: workers}); err != nil {
			b.Fatal(err)
		}
	}, func(b *testing.B) {
		res, err := mirror.Run(ctx, mirror.Options{URL: srv.URL, Dir: dir, Root: root, Workers: workers})
		if err != nil || !res.UpToDate() {
			b.Fatalf("%+v %v", res, err)
		}
	})
	measure("client-refresh-and-download", nil, func(b *testing.B) {
		dir := b.TempDir()
		c, list := coldClient(b, srv.URL, root)
		for _, t := range list {
			if _, err := c.DownloadFile(ctx, t, filepath.Join(dir, filepath.FromSlash(t.Path))); err != nil {
				b.Fatal(err)
			}
		}
	})

	for _, raw := range []string{"raw-get-files", "raw-get-files-synced", "raw-get-discard"} {
		m, r, t := took["mirror"], took["client-refresh"], took[raw]
		if m > 0 && r > 0 && t > 0 {
			fmt.Printf("%d targets: mirror %v / (client-refresh %v + %s %v) = %.2f\n", n, m, r, raw, t, m.Seconds()/(r+t).Seconds())
		}
	}
}

// coldClient returns a client that trusts only root, and the targets its
// first refresh lists.
func coldClient(b *testing.B, url string, root []byte) (*client.Client, []client.TargetInfo) {
	b.Helper()
	dir := b.TempDir()
	if err := client.Init(dir, root); err != nil {
		b.Fatal(err)
	}
	c, err := client.New(client.Config{MetadataURL: url + "/metadata", TargetsURL: url + "/targets", Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	list, err := c.ListTargets(context.Background(), 0)
	if err != nil {
		b.Fatal(err)
	}
	return c, list
}

func coldList(b *testing.B, url string, root []byte) []client.TargetInfo {
	_, list := coldClient(b, url, root)
	return list
}

// rawGet fetches every URL, workers at once, and writes each body to
// dir/paths[i], or drops it when paths is nil. It checks the status, and
// nothing else.
func rawGet(b *testing.B, urls, paths []string, dir string, workers int) {
	hc := mirror.HTTPClient(workers)
	defer hc.CloseIdleConnections()
	var (
		next     atomic.Int64
		made     sync.Map // directories created
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	get := func(i int, buf []byte) error {
		resp, err := hc.Get(urls[i])
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", urls[i], resp.Status)
		}
		if paths == nil {
			_, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{resp.Body}, buf)
			return err
		}
		p := filepath.Join(dir, paths[i])
		if d := filepath.Dir(p); !isMade(&made, d) {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
			made.Store(d, true)
		}
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		if _, err := io.CopyBuffer(struct{ io.Writer }{f}, struct{ io.Reader }{resp.Body}, buf); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 32<<10)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(urls) {
					return
				}
				if err := get(i, buf); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
}

func isMade(m *sync.Map, d string) bool {
	_, ok := m.Load(d)
	return ok
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
