package server_test

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/blob/blobtest"
	"github.com/rampart-tuf/rampart/server/servertest"
	"github.com/rampart-tuf/rampart/server/store/postgres"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// TestDatabaseOutage stops PostgreSQL under a running server: requests
// that need the database get 503 with a JSON body, and the server serves
// and publishes again by itself once the database is back.
func TestDatabaseOutage(t *testing.T) {
	ts := newServer(t, openStore(t, "postgres"), func(c *server.Config) { c.CacheTTL = 50 * time.Millisecond })
	m := newMaintainer(t, ts, "example.com/outage")
	root := servertest.Sign(t, m.RootDoc(1), m.Root)
	m.MustPublish(map[string][]byte{"root": root, "targets": servertest.Sign(t, m.TargetsDoc(1, nil), m.Targets)})

	pg.StopServer()
	restarted := false
	defer func() {
		if !restarted {
			pg.StartServer()
		}
	}()
	time.Sleep(100 * time.Millisecond) // let the cached timestamp go stale
	for _, path := range []string{"/healthz", "/tuf/example.com/outage/metadata/timestamp.json", "/tuf/example.com/outage/metadata/1.root.json"} {
		code, b, h := request(t, "GET", ts.URL+path, "", nil)
		var e apiError
		if code != http.StatusServiceUnavailable || json.Unmarshal(b, &e) != nil || e.Check != "store" || h.Get("Retry-After") == "" {
			t.Errorf("GET %s with the database down: %d %s", path, code, b)
		}
	}
	if code, e, _ := m.Publish(map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(2, nil), m.Targets)}); code != http.StatusServiceUnavailable {
		t.Errorf("publish with the database down: %d %+v", code, e)
	}

	if err := pg.StartServer(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, _, _ := m.Publish(map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(2, nil), m.Targets)})
		if code == 200 {
			break
		}
		if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("publish after the database came back: %d", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _, _ := request(t, "GET", ts.URL+"/healthz", "", nil); code != 200 {
		t.Errorf("/healthz after recovery: %d", code)
	}
	if _, err := newClient(t, ts.URL, m.GUN, root).refresh(); err != nil {
		t.Errorf("client after recovery: %v", err)
	}
}

// TestReplicas runs two servers on one database: concurrent publishes
// through both, while clients read from both, stay consistent, and a
// publish on one is visible on the other at once (LISTEN/NOTIFY).
func TestReplicas(t *testing.T) {
	url := pg.NewDatabase(t)
	open := func() *testServer {
		st, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		// A long TTL: only notifications keep the replicas in step.
		return newServer(t, st, func(c *server.Config) { c.CacheTTL = time.Hour })
	}
	a, b := open(), open()
	m := newMaintainer(t, a, "example.com/replicated")
	runConcurrentPublishers(t, []string{a.URL, b.URL}, a.Admin, m, 16)

	// Warm b's cache, publish on a, and read on b.
	if _, _, err := currentTargets(b.URL, m.GUN); err != nil {
		t.Fatal(err)
	}
	cur, _, err := currentTargets(a.URL, m.GUN)
	if err != nil {
		t.Fatal(err)
	}
	res := m.MustPublish(map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(cur.Version+1, nil), m.Targets)})
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, h := request(t, "GET", b.URL+"/tuf/"+m.GUN+"/metadata/timestamp.json", "", nil)
		if h.Get("ETag") == res.ETag {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replica b still serves the old timestamp 5s after a publish on a")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReplicaTargets uploads target content through one replica and reads
// it through another on the same database, with no volume shared between
// them: whole, by byte ranges across chunk boundaries, by either digest,
// and with a TUF client.
func TestReplicaTargets(t *testing.T) {
	url := pg.NewDatabase(t)
	open := func() *testServer {
		st, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return newServer(t, st, func(c *server.Config) { c.Blobs = st.Blobs() })
	}
	a, b := open(), open()
	m := newMaintainer(t, a, "example.com/replicated/content")
	big := string(blobtest.Content(blobtest.BigSize, 7))
	m.Upload("dist/app.bin", big)
	m.Upload("small.txt", "uploaded to a")
	root := servertest.Sign(t, m.RootDoc(1), m.Root)
	tg := m.TargetsDoc(1, map[string]string{"small.txt": "uploaded to a"})
	tg.Targets["dist/app.bin"] = metadata.NewTargetFile([]byte(big), true) // by SHA-512 too
	m.MustPublish(map[string][]byte{"root": root, "targets": servertest.Sign(t, tg, m.Targets)})

	targets := b.URL + "/tuf/" + m.GUN + "/targets/"
	sum512 := sha512.Sum512([]byte(big))
	for _, p := range []string{"dist/" + sha256hex(big) + ".app.bin", "dist/" + hex.EncodeToString(sum512[:]) + ".app.bin"} {
		code, body, h := request(t, "GET", targets+p, "", nil)
		if code != http.StatusOK || string(body) != big || h.Get("ETag") != `"`+sha256hex(big)+`"` {
			t.Fatalf("GET %s on the other replica: %d, %d bytes, ETag %s", p, code, len(body), h.Get("ETag"))
		}
	}
	if code, body, _ := request(t, "GET", targets+sha256hex("uploaded to a")+".small.txt", "", nil); code != http.StatusOK || string(body) != "uploaded to a" {
		t.Fatalf("GET small.txt on the other replica: %d %q", code, body)
	}
	p := targets + "dist/" + sha256hex(big) + ".app.bin"
	for _, r := range []struct{ first, last int }{
		{0, 9}, {1<<20 - 1000, 1<<20 + 999}, {1<<20 - 10, 3<<20 + 10}, {len(big) - 100, len(big) - 1},
	} {
		code, body, h := request(t, "GET", p, "", nil, "Range", fmt.Sprintf("bytes=%d-%d", r.first, r.last))
		if code != http.StatusPartialContent || string(body) != big[r.first:r.last+1] ||
			h.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", r.first, r.last, len(big)) {
			t.Errorf("GET bytes %d-%d on the other replica: %d, %d bytes, Content-Range %q", r.first, r.last, code, len(body), h.Get("Content-Range"))
		}
	}
	code, body, h := request(t, "HEAD", p, "", nil)
	if code != http.StatusOK || len(body) != 0 || h.Get("Content-Length") != strconv.Itoa(len(big)) {
		t.Errorf("HEAD on the other replica: %d, Content-Length %q", code, h.Get("Content-Length"))
	}
	if got, err := newClient(t, b.URL, m.GUN, root).fetch("dist/app.bin"); err != nil || got != big {
		t.Fatalf("TUF client of the other replica: %d bytes, %v", len(got), err)
	}

	// The same content uploaded again, through the other replica.
	code, body, _ = request(t, "PUT", b.URL+"/api/v1/repositories/"+m.GUN+"/targets/again/app.bin", b.Admin,
		strings.NewReader(big), "X-Rampart-Sha256", sha256hex(big))
	if code != http.StatusCreated {
		t.Fatalf("uploading the same content to the other replica: %d %s", code, body)
	}
}
