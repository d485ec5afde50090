package mirror_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/internal/repotest"
)

// TestMirrorSlashRoleNames mirrors a repository whose delegated roles have
// '/' in their names (CNAB's and Notary's "targets/releases", and a role
// it delegates to): the mirror holds them at their names as relative paths,
// where a static web server finds them for clients that ask for
// 1.targets%2Freleases.json, and both clients read targets through them.
func TestMirrorSlashRoleNames(t *testing.T) {
	repo := repotest.New(t)
	repo.Delegate("targets", "targets/releases", []string{"releases/*"}, false)
	repo.AddTarget("targets/releases", "releases/app-1.0", []byte("app 1.0"))
	repo.Delegate("targets/releases", "targets/releases/beta", []string{"releases/beta-*"}, true)
	repo.AddTarget("targets/releases/beta", "releases/beta-2.0", []byte("beta 2.0"))
	repo.Publish()
	dir := t.TempDir()
	if _, err := run(t, repo.Serve(), dir, repo.RootBytes(1)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"metadata/1.targets/releases.json", "metadata/1.targets/releases/beta.json"} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p))); err != nil {
			t.Errorf("mirror: %v", err)
		}
	}
	base := serveDir(t, dir)
	for path, want := range map[string]string{"releases/app-1.0": "app 1.0", "releases/beta-2.0": "beta 2.0"} {
		if got, err := rampartGet(t, base, repo.RootBytes(1), path); err != nil || string(got) != want {
			t.Errorf("rampart client, %s from the mirror: %q, %v", path, got, err)
		}
		if got, err := goTUFGet(t, base, repo.RootBytes(1), path); err != nil || string(got) != want {
			t.Errorf("go-tuf client, %s from the mirror: %q, %v", path, got, err)
		}
	}
}

// TestMirrorRefusesEscapingRoleName mirrors a repository (signed as its
// root says, so the client accepts it) with a role named to climb out of
// the mirror's metadata directory: the mirror refuses it and writes
// nothing, inside its directory or out of it.
func TestMirrorRefusesEscapingRoleName(t *testing.T) {
	repo := repotest.New(t)
	repo.Delegate("targets", "../../escape", []string{"x/*"}, false)
	repo.AddTarget("../../escape", "x/a", []byte("a"))
	repo.Publish()
	parent := t.TempDir()
	dir := filepath.Join(parent, "a", "b", "mirror")
	_, err := run(t, repo.Serve(), dir, repo.RootBytes(1))
	if err == nil || !strings.Contains(err.Error(), "not a safe file name") {
		t.Fatalf("mirror of a role named ../../escape: %v, want a refusal", err)
	}
	for rel := range tree(t, parent) {
		if !strings.HasPrefix(rel, filepath.Join("a", "b", "mirror")+string(filepath.Separator)) || strings.Contains(rel, "escape") {
			t.Errorf("the refused mirror wrote %s", rel)
		}
	}
}
