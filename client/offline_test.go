package client_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

func offlineRepo(t *testing.T) *repotest.Repo {
	repo := repotest.New(t)
	repo.AddTarget("targets", "a.txt", []byte("aaa"))
	repo.Delegate("targets", "docs", []string{"docs/*"}, false)
	repo.AddTarget("docs", "docs/readme", []byte("read me"))
	repo.Publish()
	return repo
}

// offline returns a client of dir that fails the test if it fetches.
func offline(t *testing.T, dir string, now time.Time) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{MetadataURL: "http://192.0.2.1/metadata", TargetsURL: "http://192.0.2.1/targets", Dir: dir,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRefreshOffline(t *testing.T) {
	repo := offlineRepo(t)
	online, dir, _ := refreshed(t, repo)
	ctx := context.Background()
	if _, err := online.ListTargets(ctx, 0); err != nil { // loads docs.json too
		t.Fatal(err)
	}
	info, err := online.Target(ctx, "docs/readme")
	if err != nil {
		t.Fatal(err)
	}
	store := client.TargetStore{Dir: t.TempDir()}
	if err := store.Put(info, strings.NewReader("read me")); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(info, strings.NewReader("read mE")); err == nil {
		t.Fatal("the store took content that does not match")
	}
	before := repo.RequestCounts()

	c := offline(t, dir, time.Now())
	if err := c.RefreshOffline(false); err != nil {
		t.Fatal(err)
	}
	got, err := c.Target(ctx, "docs/readme")
	if err != nil || got.Length != 7 || got.Role != "docs" {
		t.Fatalf("offline lookup: %+v, %v", got, err)
	}
	out := filepath.Join(t.TempDir(), "readme")
	if copied, err := store.CopyTo(got, out); err != nil || !copied {
		t.Fatalf("copy from the store: %v %v", copied, err)
	}
	if data, _ := os.ReadFile(out); string(data) != "read me" {
		t.Fatalf("copied %q", data)
	}
	a, err := c.Target(ctx, "a.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CopyTo(a, filepath.Join(t.TempDir(), "a")); !errors.Is(err, client.ErrOffline) {
		t.Fatalf("a target not in the store: %v", err)
	}
	if list, err := c.ListTargets(ctx, 0); err != nil || len(list) != 2 {
		t.Fatalf("offline list: %d, %v", len(list), err)
	}
	if after := repo.RequestCounts(); !sameCounts(before, after) {
		t.Fatalf("the offline client used the network: %v then %v", before, after)
	}
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestRefreshOfflineRefuses(t *testing.T) {
	repo := offlineRepo(t)
	_, dir, _ := refreshed(t, repo) // docs.json is not loaded
	ctx := context.Background()

	// A role never loaded is not there.
	c := offline(t, dir, time.Now())
	if err := c.RefreshOffline(false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Target(ctx, "docs/readme"); !errors.Is(err, client.ErrOffline) {
		t.Fatalf("a role not on disk: %v", err)
	}

	// Expired metadata: refused, or accepted and named.
	later := repo.Expires.Add(time.Hour)
	c = offline(t, dir, later)
	err := c.RefreshOffline(false)
	if !client.IsExpired(err) {
		t.Fatalf("expired metadata offline: %v", err)
	}
	if err := c.RefreshOffline(true); err != nil {
		t.Fatalf("--allow-expired: %v", err)
	}
	exp := strings.Join(c.Expired(later), "; ")
	for _, want := range []string{"root.json", "timestamp.json", "snapshot.json", "targets.json"} {
		if !strings.Contains(exp, want+" (expired ") {
			t.Errorf("Expired does not name %s: %s", want, exp)
		}
	}

	// Metadata changed on disk is refused.
	p := filepath.Join(dir, "targets.json")
	data, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(data, []byte(`"a.txt"`), []byte(`"b.txt"`), 1), 0o644)
	c = offline(t, dir, time.Now())
	if err := c.RefreshOffline(false); err == nil || !strings.Contains(err.Error(), "targets.json") {
		t.Fatalf("tampered targets.json on disk: %v", err)
	}
	os.WriteFile(p, data, 0o644)
	ts := filepath.Join(dir, "timestamp.json")
	os.WriteFile(ts, repotest.Forge[*metadata.Timestamp](t, repo.Meta("timestamp"), nil, repotest.NewSigner(t)), 0o644)
	if err := offline(t, dir, time.Now()).RefreshOffline(false); err == nil || !strings.Contains(err.Error(), "timestamp.json") {
		t.Fatalf("timestamp.json signed by another key on disk: %v", err)
	}
	os.Remove(ts)
	if err := offline(t, dir, time.Now()).RefreshOffline(false); err == nil || !strings.Contains(err.Error(), "no trusted timestamp.json") {
		t.Fatalf("no timestamp on disk: %v", err)
	}
}
