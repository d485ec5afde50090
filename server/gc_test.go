package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/servertest"
)

// skewedServer returns a server whose clock runs skew ahead of the real
// one.
func skewedServer(t *testing.T, kind string, skew *atomic.Int64) *testServer {
	return newServer(t, openStore(t, kind), func(c *server.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	})
}

// held reports whether the server's blob store has content.
func held(t *testing.T, ts *testServer, content string) bool {
	t.Helper()
	b, err := ts.Blobs.Open(context.Background(), sha256hex(content))
	if err != nil {
		return false
	}
	b.Close()
	return true
}

// served returns the status of a GET of the content under name.
func served(t *testing.T, ts *testServer, gun, name, content string) int {
	t.Helper()
	dir, base := path.Split(name)
	code, b, _ := request(t, "GET", ts.URL+"/tuf/"+gun+"/targets/"+dir+sha256hex(content)+"."+base, "", nil)
	if code == 200 && string(b) != content {
		t.Errorf("GET %s served %q, want %q", name, b, content)
	}
	return code
}

// TestGarbageCollection (issue 9, point 10): content that no metadata has
// listed for a day goes, and so does the content of a deleted repository;
// listed content, content within the grace, and content that a replaced
// version listed and the server still serves (point 3) stay.
func TestGarbageCollection(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		var skew atomic.Int64
		ts := skewedServer(t, kind, &skew)
		ctx := context.Background()
		const (
			listed   = "listed by the current version"
			replaced = "listed by the replaced version"
			stray    = "<html>never listed</html>"
			gone     = "content of a deleted repository"
		)
		m := newMaintainer(t, ts, "example.com/gc/app")
		m.Upload("listed.txt", listed)
		m.Upload("replaced.txt", replaced)
		m.Upload("stray.html", stray)
		root := servertest.Sign(t, m.RootDoc(1), m.Root)
		m.MustPublish(map[string][]byte{"root": root,
			"targets": servertest.Sign(t, m.TargetsDoc(1, map[string]string{"listed.txt": listed, "replaced.txt": replaced}), m.Targets)})
		m.MustPublish(map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(2, map[string]string{"listed.txt": listed}), m.Targets)})

		d := newMaintainer(t, ts, "example.com/gc/deleted")
		d.Upload("gone.txt", gone)
		d.MustPublish(map[string][]byte{"root": servertest.Sign(t, d.RootDoc(1), d.Root),
			"targets": servertest.Sign(t, d.TargetsDoc(1, map[string]string{"gone.txt": gone}), d.Targets)})
		if code, b, _ := request(t, "DELETE", ts.URL+"/api/v1/repositories/"+d.GUN, ts.Admin, nil); code != 200 {
			t.Fatalf("delete: %d %s", code, b)
		}

		// Within the grace, nothing goes.
		res, err := ts.Server.CollectGarbage(ctx)
		if err != nil || len(res.Targets) != 0 || len(res.Blobs) != 0 {
			t.Fatalf("collection within the grace: %+v, %v; want nothing removed", res, err)
		}
		for _, c := range []string{listed, replaced, stray, gone} {
			if !held(t, ts, c) {
				t.Errorf("%q removed within the grace", c)
			}
		}

		// A day and an hour later: the stray upload and the deleted
		// repository's content go; the replaced version's content stays
		// while the snapshot that listed it is valid.
		skew.Store(int64(25 * time.Hour))
		res, err = ts.Server.CollectGarbage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Targets) != 1 || res.Targets[0].GUN != m.GUN || res.Targets[0].SHA256 != sha256hex(stray) {
			t.Errorf("target records collected after a day: %+v, want the stray upload's", res.Targets)
		}
		if want := []string{sha256hex(stray), sha256hex(gone)}; !sameSet(res.Blobs, want) {
			t.Errorf("blobs removed after a day: %v, want %v", res.Blobs, want)
		}
		if res.Bytes != int64(len(stray)+len(gone)) {
			t.Errorf("bytes removed: %d, want %d", res.Bytes, len(stray)+len(gone))
		}
		for c, want := range map[string]bool{listed: true, replaced: true, stray: false, gone: false} {
			if held(t, ts, c) != want {
				t.Errorf("after a day, %q held: %v, want %v", c, !want, want)
			}
		}
		if code := served(t, ts, m.GUN, "replaced.txt", replaced); code != 200 {
			t.Errorf("content of the replaced version after the collection, within the snapshot's expiry: %d, want 200", code)
		}

		// Once that snapshot has expired, and a day more, it goes too.
		skew.Store(int64(7*24*time.Hour + 26*time.Hour))
		res, err = ts.Server.CollectGarbage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Targets) != 1 || res.Targets[0].SHA256 != sha256hex(replaced) || !sameSet(res.Blobs, []string{sha256hex(replaced)}) {
			t.Errorf("collected a day after the replaced version's snapshot expired: %+v; want its content", res)
		}
		if !held(t, ts, listed) || served(t, ts, m.GUN, "listed.txt", listed) != 200 {
			t.Error("listed content removed")
		}
		if got, err := newClient(t, ts.URL, m.GUN, root).fetch("listed.txt"); err != nil || got != listed {
			t.Errorf("client fetching listed content after the collections: %q, %v", got, err)
		}
	})
}

func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	in := map[string]bool{}
	for _, s := range got {
		in[s] = true
	}
	for _, s := range want {
		if !in[s] {
			return false
		}
	}
	return true
}

// TestGarbageCollectionRacesPublish runs collections without pause while a
// maintainer uploads content and publishes metadata listing it, round
// after round, with the clock moving on nine days a round so that each
// round leaves content for the collection to remove: nothing a publish
// lists is lost.
func TestGarbageCollectionRacesPublish(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		var skew atomic.Int64
		ts := skewedServer(t, kind, &skew)
		m := newMaintainer(t, ts, "example.com/gc/busy")
		root := servertest.Sign(t, m.RootDoc(1), m.Root)
		m.MustPublish(map[string][]byte{"root": root, "targets": servertest.Sign(t, m.TargetsDoc(1, nil), m.Targets)})

		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var removed atomic.Int64
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				res, err := ts.Server.CollectGarbage(ctx)
				if err != nil && ctx.Err() == nil {
					t.Errorf("collection: %v", err)
					return
				}
				removed.Add(int64(len(res.Blobs)))
			}
		}()
		const rounds, perRound = 6, 4
		for r := range rounds {
			skew.Add(int64(9 * 24 * time.Hour))
			files := map[string]string{}
			for i := range perRound {
				name, content := fmt.Sprintf("r%d/f%d.txt", r, i), fmt.Sprintf("round %d file %d", r, i)
				m.Upload(name, content)
				files[name] = content
			}
			m.MustPublish(map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(int64(r+2), files), m.Targets)})
			for name, content := range files {
				if code := served(t, ts, m.GUN, name, content); code != 200 || !held(t, ts, content) {
					t.Errorf("round %d: %s just published: served %d, held %v", r, name, code, held(t, ts, content))
				}
			}
		}
		cancel()
		wg.Wait()
		// One more collection after the last round, so that the count does
		// not depend on how many the loop fitted in on a busy machine.
		res, err := ts.Server.CollectGarbage(context.Background())
		if err != nil {
			t.Fatalf("collection after the race: %v", err)
		}
		removed.Add(int64(len(res.Blobs)))
		if got, err := newClient(t, ts.URL, m.GUN, root).fetch(fmt.Sprintf("r%d/f0.txt", rounds-1)); err != nil {
			t.Errorf("client after the race: %q, %v", got, err)
		}
		// Rounds before the last two are unlisted for more than a day
		// past their snapshot's expiry: the collection removed them.
		if n := removed.Load(); n < int64((rounds-2)*perRound) {
			t.Errorf("the collections removed %d blobs during the race; want at least %d", n, (rounds-2)*perRound)
		}
	})
}

// TestServeGCCommand: rampart serve gc, run a day and an hour later (its
// clock moved by FAKETIME), removes the unlisted content and says what it
// removed.
func TestServeGCCommand(t *testing.T) {
	bin := buildRampart(t)
	forEachStore(t, func(t *testing.T, kind string) {
		dir, storeURL, cmd, ts := startServeProcess(t, bin, kind)
		m := newMaintainer(t, ts, "example.com/gc/cli")
		const listed, stray = "listed", "never listed"
		m.Upload("listed.txt", listed)
		m.Upload("stray.txt", stray)
		m.MustPublish(map[string][]byte{"root": servertest.Sign(t, m.RootDoc(1), m.Root),
			"targets": servertest.Sign(t, m.TargetsDoc(1, map[string]string{"listed.txt": listed}), m.Targets)})
		if kind == "bolt" { // the embedded database is locked by the server
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
		args := []string{"serve", "gc", "--data", dir, "--grace", "1d"}
		if storeURL != "" {
			args = append(args, "--store", storeURL)
		}
		gc := exec.Command(bin, args...)
		gc.Env = append(os.Environ(), "FAKETIME=+25h") // a day and an hour later
		out, err := gc.CombinedOutput()
		if err != nil {
			t.Fatalf("rampart serve gc: %v\n%s", err, out)
		}
		for _, want := range []string{"deleted 1 target records", m.GUN + " sha256:" + sha256hex(stray), "removed 1 blobs (12 bytes)", "sha256:" + sha256hex(stray)} {
			if !strings.Contains(string(out), want) {
				t.Errorf("rampart serve gc said:\n%s\nwant %q", out, want)
			}
		}
		if strings.Contains(string(out), sha256hex(listed)) {
			t.Errorf("rampart serve gc removed listed content:\n%s", out)
		}
		url := ts.URL
		if kind == "bolt" {
			_, url = startProcess(t, bin, dir, storeURL)
		}
		if code, _, _ := request(t, "GET", url+"/tuf/"+m.GUN+"/targets/"+sha256hex(listed)+".listed.txt", "", nil); code != http.StatusOK {
			t.Errorf("listed content after rampart serve gc: %d", code)
		}
	})
}
