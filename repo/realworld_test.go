package repo_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/repo"
)

// TestServerPullAndCloneReadOthersShapes: pull and clone read a root chain
// in the shapes other implementations write (see docs/compatibility.md):
// here a root version 2 that lists the root key under a name as well as
// under its hash, expires at a time with an offset and a fraction, says
// spec_version "1.0" and carries tuf-on-ci's extra members. It is served by
// a proxy in front of the server, as a repository others run would be.
func TestServerPullAndCloneReadOthersShapes(t *testing.T) {
	kd := t.TempDir()
	rootKey, _ := newKey(t, kd, "root")
	srv, c, a := newServerRepo(t, repo.InitOptions{Keys: map[string][]string{"root": {rootKey}}})
	root1 := mustRead(t, filepath.Join(a.Dir(), "roots", "1.root.json"))
	addContent(t, a, "one.txt", "1")
	publishServer(t, a, c)
	b := secondCopy(t, a)
	root2Key, root2Pub := newKey(t, kd, "root-2")
	if err := a.Rotate(ctx, repo.RotateOptions{Role: "root", AddKeys: []string{root2Pub}}); err != nil {
		t.Fatal(err)
	}
	addContent(t, a, "two.txt", "2")
	publishServer(t, a, c)

	s1, s2 := loadKey(t, rootKey), loadKey(t, root2Key)
	theirs := repotest.Rewrite(t, mustRead(t, filepath.Join(a.Dir(), "roots", "2.root.json")), func(s map[string]any) {
		keys := s["keys"].(map[string]any)
		keys["offline-root-1"] = keys[repotest.HashID(s1)]
		role := s["roles"].(map[string]any)["root"].(map[string]any)
		role["keyids"] = append(role["keyids"].([]any), "offline-root-1")
		role["x-tuf-on-ci-signing-period"] = 31
		s["x-tuf-on-ci-expiry-period"] = 182
		s["spec_version"] = "1.0"
		s["expires"] = "2099-12-18T13:28:12.99008-06:00"
	}, repotest.SignAs{KeyID: repotest.HashID(s1), Signer: s1}, repotest.SignAs{KeyID: "offline-root-1", Signer: s1}, repotest.SignAs{KeyID: repotest.HashID(s2), Signer: s2})
	proxy := tamperingProxy(t, srv.URL, func(p string, body []byte) ([]byte, bool) {
		if strings.HasSuffix(p, "/metadata/2.root.json") || strings.HasSuffix(p, "/metadata/root.json") {
			return theirs, true
		}
		return nil, false
	}, srv.Token(t, "push", "example.com/acme"))

	res, err := b.PullFromServer(ctx, proxy)
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if !slices.Equal(res.RootVersions, []int64{2}) || b.Root().Signed.Version != 2 {
		t.Fatalf("pull fetched %+v, root version %d", res, b.Root().Signed.Version)
	}
	if got := mustRead(t, filepath.Join(b.Dir(), "roots", "2.root.json")); !bytes.Equal(got, theirs) {
		t.Fatal("pulled root 2 is not kept byte for byte")
	}
	if _, err := b.Status(ctx); err != nil {
		t.Fatalf("status after the pull: %v", err)
	}
	if res, err := b.PullFromServer(ctx, proxy); err != nil || !res.UpToDate {
		t.Fatalf("second pull: %+v, %v", res, err)
	}

	dir := filepath.Join(t.TempDir(), "clone")
	cl, res, err := repo.Clone(ctx, dir, repo.CloneOptions{Server: proxy, GUN: testGUN, Root: root1}, plainOpts)
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	defer cl.Close()
	if !slices.Equal(res.RootVersions, []int64{2}) {
		t.Fatalf("clone fetched %+v", res)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "roots", "2.root.json")); err != nil || !bytes.Equal(got, theirs) {
		t.Fatalf("cloned root 2 is not kept byte for byte: %v", err)
	}
}
