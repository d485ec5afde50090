package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

func TestRefreshAndDownload(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	repo.AddTarget("targets", "a/hello.txt", []byte("hello"))
	repo.Delegate("targets", "libs", []string{"lib/*"}, false)
	repo.AddTarget("libs", "lib/x.so", []byte("library"))
	repo.Publish()
	c, dir, _ := setup(t, repo)
	for _, p := range []string{"a/hello.txt", "lib/x.so"} {
		info, err := c.Target(ctx, p)
		if err != nil {
			t.Fatalf("Target(%s): %v", p, err)
		}
		dst := filepath.Join(t.TempDir(), "out")
		got, err := c.DownloadFile(ctx, info, dst)
		if err != nil || !got {
			t.Fatalf("DownloadFile(%s) = %v, %v", p, got, err)
		}
		if data, _ := os.ReadFile(dst); !bytes.Equal(data, repo.Content[p]) {
			t.Fatalf("%s: got %q", p, data)
		}
		// Cache reuse: an unchanged target on disk is not fetched again.
		url := "/targets/" + info.ConsistentPath(p)
		before := repo.RequestCount(url)
		if got, err := c.DownloadFile(ctx, info, dst); err != nil || got {
			t.Fatalf("second DownloadFile = %v, %v", got, err)
		}
		if repo.RequestCount(url) != before || before != 1 {
			t.Fatalf("target fetched %d then %d times", before, repo.RequestCount(url))
		}
	}
	// Metadata is stored byte for byte under non-versioned names.
	st := state(t, dir)
	for name, file := range map[string]string{
		"root.json":      "metadata/1.root.json",
		"timestamp.json": "metadata/timestamp.json",
		"snapshot.json":  fmt.Sprintf("metadata/%d.snapshot.json", repo.Snapshot.Signed.Version),
		"targets.json":   fmt.Sprintf("metadata/%d.targets.json", repo.Targets["targets"].Signed.Version),
		"libs.json":      fmt.Sprintf("metadata/%d.libs.json", repo.Targets["libs"].Signed.Version),
	} {
		if !bytes.Equal(st[name], repo.File(file)) {
			t.Errorf("%s differs from the served %s", name, file)
		}
	}
	if _, err := c.Target(ctx, "nope"); !errors.Is(err, client.ErrUnknownTarget) {
		t.Fatalf("unknown target: %v", err)
	}
}

func TestNonConsistentSnapshots(t *testing.T) {
	repo := repotest.New(t)
	repo.Root.Signed.ConsistentSnapshot = false
	repo.MarkDirty("root")
	repo.AddTarget("targets", "f", []byte("x"))
	repo.Publish()
	// Serve root v2 as v1's successor; the client starts from v1.
	c, _, _ := setup(t, repo)
	ctx := context.Background()
	info, err := c.Target(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Download(ctx, info, new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	if repo.RequestCount("/metadata/snapshot.json") != 1 || repo.RequestCount("/metadata/targets.json") != 1 || repo.RequestCount("/targets/f") != 1 {
		t.Fatalf("requests: %v", repo.Requests)
	}
}

func TestRootRotation(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	c, dir, _ := setup(t, repo)
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		repo.RotateKeys("root", 2, 2)
		repo.Publish()
	}
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := state(t, dir)["root.json"]; !bytes.Equal(got, repo.RootBytes(4)) {
		t.Fatal("trusted root is not version 4")
	}
	// Rotating timestamp and snapshot keys and restarting their versions
	// (recovery from a fast-forward attack) works: cached ones are dropped.
	repo.RotateKeys("timestamp", 1, 1)
	repo.RotateKeys("snapshot", 1, 1)
	repo.Timestamp.Signed.Version = 0
	repo.Snapshot.Signed.Version = 0
	repo.Publish()
	if err := c.Refresh(ctx); err != nil {
		t.Fatalf("refresh after timestamp/snapshot key rotation: %v", err)
	}
}

func TestRootRotationLimit(t *testing.T) {
	repo := repotest.New(t)
	for range 3 {
		repo.RotateKeys("root", 1, 1)
		repo.Publish()
	}
	c, dir, _ := setup(t, repo, func(cfg *client.Config) { cfg.Limits.MaxRootRotations = 2 })
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := state(t, dir)["root.json"]; !bytes.Equal(got, repo.RootBytes(3)) {
		t.Fatal("did not stop after 2 rotations")
	}
}

func TestDelegationSearch(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	// targets -> a (terminating for x/*) -> a1 ; targets -> b (x/*) lists x/1 too.
	repo.Delegate("targets", "a", []string{"x/*"}, true)
	repo.Delegate("a", "a1", []string{"x/1"}, false)
	repo.Delegate("targets", "b", []string{"x/*", "y/*"}, false)
	repo.AddTarget("a1", "x/1", []byte("from a1"))
	repo.AddTarget("b", "x/1", []byte("from b"))
	repo.AddTarget("b", "x/2", []byte("b2"))
	repo.AddTarget("b", "y/1", []byte("y from b"))
	repo.Publish()
	c, _, _ := setup(t, repo)
	tests := []struct {
		path, role string
		err        error
	}{
		{"x/1", "a1", nil},                   // depth first, in delegation order
		{"x/2", "", client.ErrUnknownTarget}, // a is terminating: b is never asked
		{"y/1", "b", nil},
		{"z", "", client.ErrUnknownTarget},
	}
	for _, tt := range tests {
		info, err := c.Target(ctx, tt.path)
		if !errors.Is(err, tt.err) || info.Role != tt.role {
			t.Errorf("Target(%s) = %q, %v; want %q, %v", tt.path, info.Role, err, tt.role, tt.err)
		}
	}
}

func TestDelegationVisitBound(t *testing.T) {
	repo := repotest.New(t)
	parent := "targets"
	for i := range 10 {
		role := fmt.Sprintf("r%d", i)
		repo.Delegate(parent, role, []string{"*"}, false)
		parent = role
	}
	repo.AddTarget(parent, "deep", []byte("d"))
	repo.Publish()
	c, _, _ := setup(t, repo, func(cfg *client.Config) { cfg.Limits.MaxDelegations = 5 })
	_, err := c.Target(context.Background(), "deep")
	if !errors.Is(err, client.ErrUnknownTarget) || !strings.Contains(err.Error(), "gave up after visiting 5 roles") {
		t.Fatalf("got %v", err)
	}
	c2, _, _ := setup(t, repo)
	if _, err := c2.Target(context.Background(), "deep"); err != nil {
		t.Fatalf("within the default bound: %v", err)
	}
}

// TestSameRoleTwoParents delegates one role from two parents with different
// keys; the role is signed only by the first parent's key. Trust gained
// through the first parent must not carry over to the second.
func TestSameRoleTwoParents(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	repo.Delegate("targets", "p1", []string{"a/*"}, false)
	repo.Delegate("targets", "p2", []string{"b/*"}, false)
	good := repotest.NewSigner(t)
	other := repotest.NewSigner(t)
	repo.DelegateWith("p1", "shared", []string{"a/*", "b/*"}, false, good)
	// p2 delegates "shared" to another key, which never signs it.
	p2 := repo.Targets["p2"].Signed
	k := repotest.KeyOf(other)
	p2.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{k.ID(): k}, Roles: []metadata.DelegatedRole{{Name: "shared", KeyIDs: []string{k.ID()}, Threshold: 1, Paths: []string{"b/*"}}}}
	repo.AddTarget("shared", "a/ok", []byte("a"))
	repo.AddTarget("shared", "b/evil", []byte("b"))
	repo.Publish()
	c, _, _ := setup(t, repo)
	if _, err := c.Target(ctx, "a/ok"); err != nil {
		t.Fatalf("a/ok through p1: %v", err)
	}
	_, err := c.Target(ctx, "b/evil")
	if err == nil || !strings.Contains(err.Error(), "shared.json: signatures check failed") {
		t.Fatalf("b/evil through p2: got %v, want a signature failure", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	repo := repotest.New(t)
	repo.AddTarget("targets", "t", []byte("t"))
	repo.Publish()
	c, _, _ := setup(t, repo)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 8 {
		wg.Add(2)
		go func() { defer wg.Done(); errs <- c.Refresh(context.Background()) }()
		go func() {
			defer wg.Done()
			_, err := c.Target(context.Background(), "t")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestInitRejectsGarbage(t *testing.T) {
	if err := client.Init(t.TempDir(), []byte(`{"signed":{}}`)); err == nil {
		t.Fatal("Init accepted a non-root")
	}
}

// TestStaleTempFilesRemoved: temporary files that a crashed write left in
// the state directory are removed when a client opens it, once they are
// old enough not to belong to a write in progress; metadata is untouched.
func TestStaleTempFilesRemoved(t *testing.T) {
	repo := repotest.New(t)
	repo.Publish()
	_, dir, srv := setup(t, repo)
	old := filepath.Join(dir, ".tmp-timestamp.json-123")
	fresh := filepath.Join(dir, ".tmp-snapshot.json-456")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "root.json"))
	if _, err := client.New(client.Config{MetadataURL: srv.URL + "/metadata", TargetsURL: srv.URL + "/targets", Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("a stale temporary file is still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a recent temporary file (maybe a write in progress) was removed: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "root.json")); !bytes.Equal(before, after) {
		t.Error("root.json changed")
	}
}
