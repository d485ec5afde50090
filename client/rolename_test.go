package client_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/internal/repotest"
)

// TestSlashRoleNameBundle: a role named "targets/releases" is fetched as
// metadata/1.targets/releases.json (the client escapes the '/'), kept in the client's directory as one file
// (targets%2Freleases.json), carried in a bundle at its name as a path
// (metadata/targets/releases.json), and an air-gapped client that imports
// the bundle finds the role's target offline.
func TestSlashRoleNameBundle(t *testing.T) {
	repo := repotest.New(t)
	repo.Delegate("targets", "targets/releases", []string{"releases/*"}, false)
	repo.AddTarget("targets/releases", "releases/app-1.0", []byte("app 1.0"))
	repo.Publish()
	c, dir, _ := refreshed(t, repo)
	ti, err := c.Target(context.Background(), "releases/app-1.0")
	if err != nil || ti.Role != "targets/releases" {
		t.Fatalf("Target: %+v, %v", ti, err)
	}
	if n := repo.RequestCount("/metadata/1.targets/releases.json"); n != 1 {
		t.Errorf("requests for 1.targets/releases.json: %d, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "targets%2Freleases.json")); err != nil {
		t.Errorf("trusted copy: %v", err)
	}

	bundle := exportBundle(t, repo, "releases/app-1.0")
	var names []string
	for _, e := range entries(t, bundle) {
		names = append(names, e.hdr.Name)
	}
	if !strings.Contains(strings.Join(names, " "), " metadata/targets/releases.json ") {
		t.Errorf("bundle entries %v lack metadata/targets/releases.json", names)
	}
	gapped, store := airGapped(t, repo)
	if _, err := importBundle(gapped, store, bundle, time.Now()); err != nil {
		t.Fatal(err)
	}
	oc := offline(t, gapped, time.Now())
	if err := oc.RefreshOffline(false); err != nil {
		t.Fatal(err)
	}
	if ti, err := oc.Target(context.Background(), "releases/app-1.0"); err != nil || ti.Role != "targets/releases" {
		t.Fatalf("offline Target: %+v, %v", ti, err)
	}
	if _, err := os.Stat(filepath.Join(gapped, "targets%2Freleases.json")); err != nil {
		t.Errorf("imported copy: %v", err)
	}
}
