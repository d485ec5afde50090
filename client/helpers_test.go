package client_test

import (
	"bytes"
	"context"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/repotest"
)

// setup serves repo and returns a client that trusts its first root.
func setup(t *testing.T, repo *repotest.Repo, mod ...func(*client.Config)) (*client.Client, string, *httptest.Server) {
	t.Helper()
	srv := repo.Serve()
	dir := filepath.Join(t.TempDir(), "metadata")
	if err := client.Init(dir, repo.RootBytes(1)); err != nil {
		t.Fatal(err)
	}
	cfg := client.Config{MetadataURL: srv.URL + "/metadata", TargetsURL: srv.URL + "/targets", Dir: dir}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, dir, srv
}

// state returns the files of a directory and their content.
func state(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = data
	}
	return out
}

func sameState(a, b map[string][]byte) bool { return maps.EqualFunc(a, b, bytes.Equal) }

// refreshed returns a client that has refreshed once, and its trusted state.
func refreshed(t *testing.T, repo *repotest.Repo, mod ...func(*client.Config)) (*client.Client, string, map[string][]byte) {
	t.Helper()
	c, dir, _ := setup(t, repo, mod...)
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	return c, dir, state(t, dir)
}
