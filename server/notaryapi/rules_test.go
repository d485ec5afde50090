package notaryapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/notary"
)

// TestPublishRules: a publish through the Notary API is held to the
// version bounds and the target-path rule of the server's own publish
// (issue 9, points 6 and 8).
func TestPublishRules(t *testing.T) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			s := startServer(t, kind)
			m := newMaintainer(t, s, "example.com/rules/app")
			snapFor := func(v int64, root, targets []byte) []byte {
				return m.snapshotDoc(v, map[string][]byte{"root": root, "targets": targets})
			}
			targets1 := m.targetsDoc(1, []string{"a"}, nil, nil, m.targets)
			for _, v := range []int64{metadata.MaxVersion + 1} {
				root := m.rootDoc(v, m.snp.Key)
				code, body := m.post(map[string][]byte{"root": root, "targets": targets1, "snapshot": snapFor(1, root, targets1)})
				checkError(t, fmt.Sprintf("first root version %d", v), code, body, 400, "INVALID_UPDATE", "ErrBadRoot")
			}
			root1 := m.rootDoc(1, m.snp.Key)
			if code, body := m.post(map[string][]byte{"root": root1, "targets": targets1, "snapshot": snapFor(1, root1, targets1)}); code != 200 {
				t.Fatalf("first publish: %d %s", code, body)
			}
			_, ts1 := m.get("timestamp.json")
			huge := m.targetsDoc(metadata.MaxVersion+1, []string{"a"}, nil, nil, m.targets)
			cases := map[string]struct {
				parts  map[string][]byte
				detail string
			}{
				"targets version above 2^53-1":  {map[string][]byte{"targets": huge, "snapshot": snapFor(2, root1, huge)}, "ErrBadTargets"},
				"snapshot version above 2^53-1": {map[string][]byte{"snapshot": snapFor(metadata.MaxVersion+1, root1, targets1)}, "ErrBadSnapshot"},
			}
			for _, name := range []string{"", "../../etc/passwd", "/abs/path", "a//b", `a\..\b`, "invoice\u202egpj.exe", "./a", "a/../b"} {
				tg := m.targetsDoc(2, []string{"a", name}, nil, nil, m.targets)
				cases["target path "+name] = struct {
					parts  map[string][]byte
					detail string
				}{map[string][]byte{"targets": tg, "snapshot": snapFor(2, root1, tg)}, "ErrBadTargets"}
			}
			for what, tc := range cases {
				code, body := m.post(tc.parts)
				checkError(t, what, code, body, 400, "INVALID_UPDATE", tc.detail)
				if _, ts := m.get("timestamp.json"); !bytes.Equal(ts, ts1) {
					t.Errorf("%s: the refused publish changed timestamp.json", what)
				}
			}
			tg := m.targetsDoc(2, []string{"a", "dir/b"}, nil, nil, m.targets)
			if code, body := m.post(map[string][]byte{"targets": tg, "snapshot": snapFor(2, root1, tg)}); code != 200 {
				t.Errorf("publish of clean target paths: %d %s", code, body)
			}
		})
	}
}

// TestNotaryClientListings: what the real notary client publishes is
// recorded in the server's listings index, as its own publishes are: the
// content is served under its name (uploaded through /api/v1), kept by the
// garbage collection while listed and while a replaced version's snapshot
// is valid, and collected after. A target path the server's rules refuse
// is refused from the notary client too.
func TestNotaryClientListings(t *testing.T) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			var skew atomic.Int64
			s := startServer(t, kind, func(c *server.Config) {
				c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
			})
			gun := "example.com/listings/app"
			token := s.token(t, "admin", "example.com/listings")
			n := newNotaryCLI(t, s, token)
			content := "hello listings\n"
			file := filepath.Join(t.TempDir(), "hello.txt")
			if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			n.must("init", gun)
			n.must("add", gun, "hello", file)
			n.must("publish", gun)
			sum := sha256.Sum256([]byte(content))
			digest := hex.EncodeToString(sum[:])

			// The content, uploaded through /api/v1, is served under the
			// name the notary metadata lists, and only there.
			code, body, _ := s.doHeader(t, "PUT", "/api/v1/repositories/"+gun+"/targets/hello", "Bearer "+token, []byte(content), "X-Rampart-Sha256", digest)
			if code != 201 {
				t.Fatalf("upload: %d %s", code, body)
			}
			get := func(name string) int {
				code, b, _ := s.do(t, "GET", "/tuf/"+gun+"/targets/"+digest+"."+name, "", "", nil)
				if code == 200 && string(b) != content {
					t.Errorf("served %q", b)
				}
				return code
			}
			if code := get("hello"); code != 200 {
				t.Errorf("content a notary publish lists: %d, want 200", code)
			}
			if code := get("other"); code != 404 {
				t.Errorf("content under a name no metadata lists: %d, want 404", code)
			}
			if err := s.Server.Server.IndexListings(context.Background()); err != nil {
				t.Errorf("IndexListings with a Notary repository: %v", err)
			}

			ctx := context.Background()
			skew.Store(int64(25 * time.Hour))
			if res, err := s.Server.Server.CollectGarbage(ctx); err != nil || len(res.Blobs) != 0 {
				t.Errorf("collection a day later, content listed: %+v, %v; want nothing removed", res, err)
			}

			// notary remove: the replaced version's content stays while
			// the snapshot that listed it is valid, then goes.
			n.must("remove", gun, "hello")
			n.must("publish", gun)
			if code := get("hello"); code != 200 {
				t.Errorf("content of the replaced version: %d, want 200", code)
			}
			repo, err := s.Store.Repo(ctx, gun)
			if err != nil {
				t.Fatal(err)
			}
			snap, err := s.Store.File(ctx, gun, notary.RoleSnapshot, repo.SnapshotVersion-1)
			if err != nil {
				t.Fatal(err)
			}
			d, err := notary.ParseAs(snap.Data, notary.TypeSnapshot)
			if err != nil {
				t.Fatal(err)
			}
			skew.Store(int64(time.Until(d.Expires) + 26*time.Hour))
			res, err := s.Server.Server.CollectGarbage(ctx)
			if err != nil || len(res.Blobs) != 1 || res.Blobs[0] != digest {
				t.Errorf("collection a day after the replaced version's snapshot expired: %+v, %v; want %s removed", res, err, digest)
			}
			skew.Store(0)

			// A path the server's rule refuses.
			n.must("add", gun, "../../etc/passwd", file)
			if out, ok := n.run("publish", gun); ok {
				t.Errorf("notary publish of target ../../etc/passwd succeeded:\n%s", out)
			}
			if out := n.fresh().must("list", gun); strings.Contains(out, "passwd") {
				t.Errorf("the refused target is listed:\n%s", out)
			}
		})
	}
}

// TestRemovedDelegationListings: when the notary client removes a
// delegation, the content its role listed stops being listed. It stays
// served while the snapshot that listed it is valid, and the garbage
// collection removes it after, as for a target removed from a role.
func TestRemovedDelegationListings(t *testing.T) {
	var skew atomic.Int64
	s := startServer(t, "bolt", func(c *server.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	})
	gun := "example.com/listings/deleg"
	token := s.token(t, "admin", "example.com/listings")
	n := newNotaryCLI(t, s, token)
	dir := t.TempDir()
	content := "release one\n"
	file := filepath.Join(dir, "one.txt")
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	n.must("init", gun, "-p")
	delCert, delKey := delegationKey(t, dir)
	n.must("delegation", "add", gun, "targets/releases", delCert, "--all-paths", "-p")
	n.must("key", "import", delKey, "-r", "targets/releases")
	n.must("add", gun, "one", file, "-r", "targets/releases", "-p")
	sum := sha256.Sum256([]byte(content))
	digest := hex.EncodeToString(sum[:])
	if code, body, _ := s.doHeader(t, "PUT", "/api/v1/repositories/"+gun+"/targets/one", "Bearer "+token, []byte(content), "X-Rampart-Sha256", digest); code != 201 {
		t.Fatalf("upload: %d %s", code, body)
	}
	served := func() bool {
		code, _, _ := s.do(t, "GET", "/tuf/"+gun+"/targets/"+digest+".one", "", "", nil)
		return code == 200
	}
	if !served() {
		t.Fatal("content the delegated role lists is not served")
	}
	ctx := context.Background()
	repo, err := s.Store.Repo(ctx, gun)
	if err != nil {
		t.Fatal(err)
	}

	n.must("delegation", "remove", gun, "targets/releases", "-y", "-p")
	if out := n.fresh().must("list", gun); strings.Contains(out, "one") {
		t.Fatalf("the removed delegation's target is still listed:\n%s", out)
	}
	if !served() {
		t.Error("content of the removed delegation is not served while the snapshot that listed it is valid")
	}
	skew.Store(int64(time.Until(repo.SnapshotExpires) + 26*time.Hour))
	res, err := s.Server.Server.CollectGarbage(ctx)
	if err != nil || len(res.Blobs) != 1 || res.Blobs[0] != digest {
		t.Errorf("collection a day after the snapshot that listed the removed delegation expired: %+v, %v; want %s removed", res, err, digest)
	}
}
