package repo_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/server/apiclient"
)

// snapshotGets returns the snapshot files a publish read.
func snapshotGets(reqs []string) []string {
	var out []string
	for _, q := range reqs {
		if strings.HasPrefix(q, http.MethodGet+" ") && strings.HasSuffix(q, ".snapshot.json") {
			out = append(out, q[strings.LastIndex(q, "/")+1:])
		}
	}
	return out
}

// lyingMetadata is a real server's client whose snapshots are changed on
// the way.
type lyingMetadata struct {
	*apiclient.Client
}

func (l lyingMetadata) Metadata(ctx context.Context, gun, file string, limit int64) ([]byte, error) {
	b, err := l.Client.Metadata(ctx, gun, file, limit)
	if err == nil && strings.HasSuffix(file, ".snapshot.json") {
		b = bytes.Replace(b, []byte(`"_type":"snapshot"`), []byte(`"_type":"snapshoT"`), 1)
	}
	return b, err
}

// snapshotFirst holds the answer to a timestamp request until a snapshot
// was asked for, for at most a few seconds, and says whether it was.
type snapshotFirst struct {
	seen   chan struct{}
	once   sync.Once
	waited atomic.Bool
}

func (g *snapshotFirst) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case strings.HasSuffix(req.URL.Path, ".snapshot.json"):
		g.once.Do(func() { close(g.seen) })
	case strings.HasSuffix(req.URL.Path, "/timestamp.json"):
		select {
		case <-g.seen:
			g.waited.Store(true)
		case <-time.After(5 * time.Second):
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestServerPublishSnapshotHint: a publish remembers the snapshot version
// the server answered with, and the next publish reads that snapshot
// alongside root and timestamp instead of after them. A wrong, foreign or
// torn hint only costs the request; a snapshot read on a hint is checked
// as any other.
func TestServerPublishSnapshotHint(t *testing.T) {
	srv, rt, c, r, addFile := recordedServerRepo(t)
	hint := filepath.Join(r.Dir(), "server-snapshot.txt")
	addFile("a")
	publishServer(t, r, c)
	want := fmt.Sprintf("rampart snapshot hint 1 %s %s 1\n", srv.URL, testGUN)
	if got := string(mustRead(t, hint)); got != want {
		t.Fatalf("hint after the first publish: %q, want %q", got, want)
	}

	publish := func(name string, wantSnapshots ...string) {
		t.Helper()
		addFile(name)
		rt.Reset()
		res := publishServer(t, r, c)
		reqs := rt.Requests()
		// In any order: the hinted read runs alongside the timestamp's.
		if got := slices.Sorted(slices.Values(snapshotGets(reqs))); !slices.Equal(got, slices.Sorted(slices.Values(wantSnapshots))) {
			t.Errorf("publish of %s read snapshots %q, want %q (requests %q)", name, got, wantSnapshots, reqs)
		}
		if !strings.HasPrefix(reqs[len(reqs)-1], http.MethodPost) {
			t.Errorf("publish of %s did not end with its POST: %q", name, reqs)
		}
		want := fmt.Sprintf("rampart snapshot hint 1 %s %s %d\n", srv.URL, testGUN, res.SnapshotVersion)
		if got := string(mustRead(t, hint)); got != want {
			t.Errorf("hint after publishing %s: %q, want %q", name, got, want)
		}
	}
	// The hint is right: one snapshot read, the one hinted, asked for
	// before the timestamp is answered.
	g := &snapshotFirst{seen: make(chan struct{})}
	gc, err := apiclient.New(srv.URL, srv.Admin, &http.Client{Transport: g})
	if err != nil {
		t.Fatal(err)
	}
	addFile("a2")
	publishServer(t, r, gc)
	if !g.waited.Load() {
		t.Error("the timestamp was answered before the hinted snapshot was asked for")
	}
	publish("b", "2.snapshot.json")
	publish("c", "3.snapshot.json")

	// A stale hint (another copy published since): the hinted snapshot
	// is read, not used, and the one the timestamp names is read too.
	writeFile(t, hint, fmt.Sprintf("rampart snapshot hint 1 %s %s 1\n", srv.URL, testGUN))
	publish("d", "1.snapshot.json", "4.snapshot.json")

	// Hints for another GUN or server, and a torn or garbled hint, are
	// not used.
	for i, h := range []string{
		fmt.Sprintf("rampart snapshot hint 1 %s example.com/other 4\n", srv.URL),
		fmt.Sprintf("rampart snapshot hint 1 http://127.0.0.1:1 %s 4\n", testGUN),
		fmt.Sprintf("rampart snapshot hint 1 %s %s", srv.URL, testGUN),
		fmt.Sprintf("rampart snapshot hint 1 %s %s -4\n", srv.URL, testGUN),
	} {
		writeFile(t, hint, h)
		publish(fmt.Sprintf("e%d", i), fmt.Sprintf("%d.snapshot.json", 5+i))
	}

	// A snapshot read on the hint that is not the server's signed one is
	// refused, and nothing is sent.
	addFile("f")
	rt.Reset()
	_, err = r.PublishToServer(ctx, lyingMetadata{c}, repo.ServerOptions{})
	if err == nil || !strings.Contains(err.Error(), "fails a check") {
		t.Errorf("publish reading a changed snapshot on its hint: %v, want it refused", err)
	}
	if n := rt.Count(http.MethodPost); n != 0 {
		t.Errorf("publish reading a changed snapshot sent %d POSTs", n)
	}
	if got := snapshotGets(rt.Requests()); len(got) != 1 || got[0] != "9.snapshot.json" {
		t.Errorf("the refused publish read snapshots %q, want the hinted 9.snapshot.json only", got)
	}
	if _, err := os.Stat(hint); err != nil {
		t.Fatal(err)
	}
}
