package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// requested returns, sorted, the paths requested since the counts in
// before were taken.
func requested(repo *repotest.Repo, before map[string]int) []string {
	var out []string
	for p, n := range repo.RequestCounts() {
		if n > before[p] {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func counts(repo *repotest.Repo) map[string]int { return repo.RequestCounts() }

func pathHashPrefix(p string) string {
	sum := sha256.Sum256([]byte(p))
	return hex.EncodeToString(sum[:2])
}

// TestRefreshUsesCache: a refresh of an unchanged repository fetches the
// next root (absent) and the timestamp only; metadata on disk is reused by
// a new client as long as the snapshot lists its version.
func TestRefreshUsesCache(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	repo.Delegate("targets", "d", []string{"d/*"}, false)
	repo.Delegate("targets", "e", []string{"e/*"}, false)
	repo.AddTarget("d", "d/x", []byte("x"))
	repo.AddTarget("e", "e/y", []byte("y"))
	repo.Publish()
	c, dir, srv := setup(t, repo)
	for _, p := range []string{"d/x", "e/y"} {
		if _, err := c.Target(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	before := counts(repo)
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := requested(repo, before), []string{"/metadata/2.root.json", "/metadata/timestamp.json"}; !slices.Equal(got, want) {
		t.Fatalf("refresh of an unchanged repository fetched %v, want %v", got, want)
	}

	// Only d changes: a new client fetches the new snapshot, targets is
	// unchanged and read from disk, d is fetched, e is read from disk.
	repo.AddTarget("d", "d/x", []byte("x2"))
	repo.Publish()
	c2, err := client.New(client.Config{MetadataURL: srv.URL + "/metadata", TargetsURL: srv.URL + "/targets", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	before = counts(repo)
	for _, p := range []string{"d/x", "e/y"} {
		if _, err := c2.Target(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"/metadata/2.root.json",
		fmt.Sprintf("/metadata/%d.d.json", repo.Targets["d"].Signed.Version),
		fmt.Sprintf("/metadata/%d.snapshot.json", repo.Snapshot.Signed.Version),
		"/metadata/timestamp.json",
	}
	slices.Sort(want)
	if got := requested(repo, before); !slices.Equal(got, want) {
		t.Fatalf("fetched %v, want %v", got, want)
	}
	if !bytes.Equal(state(t, dir)["d.json"], repo.Meta("d")) {
		t.Fatal("d.json not updated on disk")
	}
}

// TestNamesAndURLs: consistent and plain repositories, delegated role names
// that need escaping in URLs and on disk, and targets in directories.
func TestNamesAndURLs(t *testing.T) {
	for _, consistent := range []bool{true, false} {
		t.Run(fmt.Sprintf("consistent=%v", consistent), func(t *testing.T) {
			ctx := context.Background()
			repo := repotest.New(t)
			repo.Root.Signed.ConsistentSnapshot = consistent
			repo.MarkDirty("root")
			role := "team a/../b%"
			repo.Delegate("targets", role, []string{"dir/*"}, false)
			content := []byte("spaced out")
			repo.AddTarget(role, "dir/file name.txt", content)
			repo.Publish()
			c, dir, _ := setup(t, repo)
			before := counts(repo)
			info, err := c.Target(ctx, "dir/file name.txt")
			if err != nil {
				t.Fatal(err)
			}
			if info.Role != role {
				t.Fatalf("found in %q", info.Role)
			}
			var buf bytes.Buffer
			if err := c.Download(ctx, info, &buf); err != nil || !bytes.Equal(buf.Bytes(), content) {
				t.Fatalf("Download = %q, %v", buf.Bytes(), err)
			}
			tf := repo.Targets[role].Signed.Targets["dir/file name.txt"]
			want := []string{"/metadata/2.root.json", "/metadata/3.root.json", "/metadata/timestamp.json"}
			if consistent {
				want = append(want,
					fmt.Sprintf("/metadata/%d.snapshot.json", repo.Snapshot.Signed.Version),
					fmt.Sprintf("/metadata/%d.targets.json", repo.Targets["targets"].Signed.Version),
					fmt.Sprintf("/metadata/%d.%s.json", repo.Targets[role].Signed.Version, role),
					"/targets/dir/"+fmt.Sprintf("%x", tf.Hashes.SHA256)+".file name.txt")
			} else {
				want = append(want, "/metadata/snapshot.json", "/metadata/targets.json",
					"/metadata/"+role+".json", "/targets/dir/file name.txt")
			}
			slices.Sort(want)
			if got := requested(repo, before); !slices.Equal(got, want) {
				t.Fatalf("fetched\n%v\nwant\n%v", got, want)
			}
			// The URL escapes the role name into one path segment.
			if u := c.TargetURL(info); !strings.HasSuffix(u, "file%20name.txt") {
				t.Fatalf("TargetURL = %s", u)
			}
			// On disk: one flat, safe file per role, byte for byte.
			st := state(t, dir)
			if got := st["team%20a%2F..%2Fb%25.json"]; !bytes.Equal(got, repo.Meta(role)) {
				t.Fatalf("delegated metadata not stored under an escaped name: %v", slices.Sorted(maps.Keys(st)))
			}
			if len(st) != 5 {
				t.Fatalf("%d files on disk", len(st))
			}
		})
	}
}

// TestSearchOrder covers the pre-order depth-first search: delegation
// order, terminating roles, cycles, path_hash_prefixes and succinct bins.
func TestSearchOrder(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	// targets: [a (x/*, non-terminating), b (x/*, terminating), c (x/*)]
	// a -> a1 (x/only-a1)        b lists x/in-b, c lists x/in-c
	// cyc1 (y/*) -> cyc2 (y/*) -> cyc1
	repo.Delegate("targets", "a", []string{"x/*"}, false)
	repo.Delegate("targets", "b", []string{"x/*"}, true)
	repo.Delegate("targets", "c", []string{"x/*", "z/*"}, false)
	repo.Delegate("a", "a1", []string{"x/only-a1", "x/both"}, false)
	repo.AddTarget("a1", "x/only-a1", []byte("1"))
	repo.AddTarget("a1", "x/both", []byte("from a1"))
	repo.AddTarget("b", "x/both", []byte("from b"))
	repo.AddTarget("b", "x/in-b", []byte("b"))
	repo.AddTarget("c", "x/in-c", []byte("c"))
	repo.AddTarget("c", "z/in-c", []byte("z"))
	repo.Delegate("targets", "cyc1", []string{"y/*"}, false)
	repo.Delegate("cyc1", "cyc2", []string{"y/*"}, false)
	repo.DelegateWith("cyc2", "cyc1", []string{"y/*"}, false, repo.Signers["cyc1"][0])
	// hashed: path_hash_prefixes
	repo.Delegate("targets", "hashed", []string{"unused"}, false)
	d := repo.Targets["targets"].Signed.Delegations
	i := slices.IndexFunc(d.Roles, func(r metadata.DelegatedRole) bool { return r.Name == "hashed" })
	d.Roles[i].Paths = nil
	d.Roles[i].PathHashPrefixes = []string{pathHashPrefix("h/1")}
	repo.AddTarget("hashed", "h/1", []byte("h1"))
	repo.AddTarget("hashed", "h/2", []byte("h2")) // listed, but not delegated
	repo.Publish()
	c, _, _ := setup(t, repo)
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, role string
		visited    []string // metadata fetched, in order, beyond the top level
	}{
		{"x/only-a1", "a1", []string{"a", "a1"}},
		{"x/both", "a1", nil},                    // a1 before b: depth first, in order
		{"x/in-b", "b", []string{"b"}},           // a and a1 searched (cached), then b
		{"x/in-c", "", nil},                      // b is terminating: c is never reached
		{"z/in-c", "c", []string{"c"}},           // b is not trusted for z/*
		{"y/none", "", []string{"cyc1", "cyc2"}}, // the cycle ends
		{"h/1", "hashed", []string{"hashed"}},
		{"h/2", "", nil},
	}
	for _, tt := range tests {
		before := counts(repo)
		info, err := c.Target(ctx, tt.path)
		if tt.role == "" {
			if !errors.Is(err, client.ErrUnknownTarget) || strings.Contains(err.Error(), "gave up") {
				t.Errorf("Target(%s) = %q, %v; want ErrUnknownTarget", tt.path, info.Role, err)
			}
		} else if err != nil || info.Role != tt.role {
			t.Errorf("Target(%s) = %q, %v; want %q", tt.path, info.Role, err, tt.role)
		}
		var fetched []string
		for _, p := range requested(repo, before) {
			name := strings.TrimSuffix(p[strings.LastIndex(p, "/")+1:], ".json")
			fetched = append(fetched, name[strings.Index(name, ".")+1:])
		}
		want := slices.Clone(tt.visited)
		slices.Sort(want)
		if !slices.Equal(fetched, want) {
			t.Errorf("Target(%s) fetched %v, want %v", tt.path, fetched, want)
		}
	}
}

func TestSuccinctBins(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	repo.DelegateSuccinct("targets", "bin", 6)
	paths := []string{"a", "b/c", "d/e/f", "g"}
	for _, p := range paths {
		repo.AddTarget(repo.BinFor("targets", p), p, []byte("content of "+p))
	}
	repo.Publish()
	c, _, _ := setup(t, repo)
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		before := counts(repo)
		info, err := c.Target(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Role != repo.BinFor("targets", p) {
			t.Fatalf("%s found in %s", p, info.Role)
		}
		if got := requested(repo, before); len(got) > 1 {
			t.Fatalf("looking up %s fetched %v: more than its bin", p, got)
		}
	}
	// A target listed in the wrong bin is not trusted.
	wrong := repo.BinFor("targets", "a")
	for _, p := range []string{"x1", "x2", "x3", "x4", "x5", "x6"} {
		if repo.BinFor("targets", p) != wrong {
			repo.AddTarget(wrong, p, []byte("misplaced"))
			repo.Publish()
			c, _, _ := setup(t, repo)
			if _, err := c.Target(ctx, p); !errors.Is(err, client.ErrUnknownTarget) {
				t.Fatalf("target in the wrong bin: %v", err)
			}
			return
		}
	}
	t.Fatal("no path outside the bin")
}

// TestRootChainEnd: 403 ends the root chain like 404; other errors abort.
func TestRootChainEnd(t *testing.T) {
	for _, status := range []int{http.StatusForbidden, http.StatusNotFound, http.StatusInternalServerError} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			repo := repotest.New(t)
			repo.Hook = func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path == "/metadata/2.root.json" {
					http.Error(w, "no", status)
					return true
				}
				return false
			}
			c, dir, _ := setup(t, repo)
			before := state(t, dir)
			err := c.Refresh(context.Background())
			if status == http.StatusInternalServerError {
				if err == nil || !strings.Contains(err.Error(), "2.root.json") || !strings.Contains(err.Error(), "500") {
					t.Fatalf("got %v", err)
				}
				if !sameState(before, state(t, dir)) {
					t.Fatal("state changed")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDownloadFileReplaces: a file at the destination with other content
// is replaced, and a failed download leaves it as it was.
func TestDownloadFileReplaces(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	repo.AddTarget("targets", "f", []byte("new content"))
	repo.Publish()
	c, _, _ := setup(t, repo)
	info, err := c.Target(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "f")
	os.WriteFile(dst, []byte("old"), 0o644)
	good := repo.File("targets/" + info.ConsistentPath("f"))
	repo.SetFile("targets/"+info.ConsistentPath("f"), []byte("bad content"))
	if _, err := c.DownloadFile(ctx, info, dst); err == nil {
		t.Fatal("bad content accepted")
	}
	if data, _ := os.ReadFile(dst); string(data) != "old" {
		t.Fatalf("failed download changed the file: %q", data)
	}
	repo.SetFile("targets/"+info.ConsistentPath("f"), good)
	if got, err := c.DownloadFile(ctx, info, dst); err != nil || !got {
		t.Fatal(got, err)
	}
	if data, _ := os.ReadFile(dst); string(data) != "new content" {
		t.Fatalf("got %q", data)
	}
	if entries, _ := os.ReadDir(filepath.Dir(dst)); len(entries) != 1 {
		t.Fatalf("files left behind: %v", entries)
	}
}

// TestKeyRotationDropsCache: when a new root changes the timestamp keys,
// the cached timestamp and snapshot are deleted at once (spec 5.3.11), even
// if the refresh then fails.
func TestKeyRotationDropsCache(t *testing.T) {
	repo := repotest.New(t)
	c, dir, before := refreshed(t, repo)
	if before["timestamp.json"] == nil || before["snapshot.json"] == nil {
		t.Fatal("nothing cached")
	}
	repo.RotateKeys("timestamp", 1, 1)
	repo.Publish()
	repo.Hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/metadata/timestamp.json" {
			http.NotFound(w, r)
			return true
		}
		return false
	}
	err := c.Refresh(context.Background())
	if !errors.Is(err, client.ErrNotFound) || !strings.Contains(err.Error(), "timestamp.json") {
		t.Fatalf("got %v", err)
	}
	st := state(t, dir)
	if !bytes.Equal(st["root.json"], repo.RootBytes(2)) {
		t.Fatal("new root not persisted")
	}
	if st["timestamp.json"] != nil || st["snapshot.json"] != nil {
		t.Fatal("cached timestamp and snapshot kept after a key rotation")
	}
	if !bytes.Equal(st["targets.json"], before["targets.json"]) {
		t.Fatal("targets changed")
	}
}
