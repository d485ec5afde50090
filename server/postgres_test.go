package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/store/postgres"
)

// TestDatabaseOutage stops PostgreSQL under a running server: requests
// that need the database get 503 with a JSON body, and the server serves
// and publishes again by itself once the database is back.
func TestDatabaseOutage(t *testing.T) {
	ts := newServer(t, openStore(t, "postgres"), func(c *server.Config) { c.CacheTTL = 50 * time.Millisecond })
	m := newMaintainer(t, ts, "example.com/outage")
	root := sign(t, m.rootDoc(1), m.root)
	m.mustPublish(map[string][]byte{"root": root, "targets": sign(t, m.targetsDoc(1, nil), m.targets)})

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
	if code, e, _ := m.publish(map[string][]byte{"targets": sign(t, m.targetsDoc(2, nil), m.targets)}); code != http.StatusServiceUnavailable {
		t.Errorf("publish with the database down: %d %+v", code, e)
	}

	if err := pg.StartServer(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, _, _ := m.publish(map[string][]byte{"targets": sign(t, m.targetsDoc(2, nil), m.targets)})
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
	if _, err := newClient(t, ts.URL, m.gun, root).refresh(); err != nil {
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
	if _, _, err := currentTargets(b.URL, m.gun); err != nil {
		t.Fatal(err)
	}
	cur, _, err := currentTargets(a.URL, m.gun)
	if err != nil {
		t.Fatal(err)
	}
	res := m.mustPublish(map[string][]byte{"targets": sign(t, m.targetsDoc(cur.Version+1, nil), m.targets)})
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, h := request(t, "GET", b.URL+"/tuf/"+m.gun+"/metadata/timestamp.json", "", nil)
		if h.Get("ETag") == res.ETag {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replica b still serves the old timestamp 5s after a publish on a")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
