package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/rampart-tuf/rampart/api"
	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/servertest"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/postgres/pgtest"
)

var pg *pgtest.Server

func TestMain(m *testing.M) {
	if addr := os.Getenv(envCrashChild); addr != "" {
		err := serveCrashChild(addr)
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(pgtest.Main(m, &pg))
}

// forEachStore runs fn against the embedded store and PostgreSQL.
func forEachStore(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, kind := range servertest.Stores {
		t.Run(kind, func(t *testing.T) { fn(t, kind) })
	}
}

func openStore(t testing.TB, kind string) store.Store { return servertest.OpenStore(t, kind, pg) }

// testServer is a running server with an admin token.
type testServer = servertest.Server

type option = func(*server.Config)

// newServer starts a server on st.
func newServer(t testing.TB, st store.Store, opts ...option) *testServer {
	t.Helper()
	return servertest.Start(t, append(opts, servertest.WithStore(st))...)
}

// request sends a request with an optional token and returns the status
// and body.
func request(t *testing.T, method, url, token string, body io.Reader, header ...string) (int, []byte, http.Header) {
	t.Helper()
	return servertest.DoReader(t, http.DefaultClient, method, url, token, body, header...)
}

// apiError is the JSON error body.
type apiError = api.ErrorBody

// maintainer holds a repository's offline keys and builds its metadata.
type maintainer = servertest.Maintainer

func newMaintainer(t testing.TB, ts *testServer, gun string) *maintainer {
	t.Helper()
	return servertest.NewMaintainer(t, ts, gun)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// body builds a publish request body.
func body(docs map[string][]byte) []byte {
	req := api.PublishRequest{Roles: map[string]json.RawMessage{}}
	for k, v := range docs {
		req.Roles[k] = v
	}
	b, _ := req.Encode() // tests send JSON documents
	return b
}

func publishTo(t testing.TB, url, token, gun string, b []byte, header ...string) (int, apiError, server.PublishResult) {
	t.Helper()
	return (&testServer{URL: url}).Publish(t, token, gun, b, header...)
}

// client is a go-tuf v2 client of a repository.
type client struct {
	t   testing.TB
	cfg *config.UpdaterConfig
}

func newClient(t testing.TB, base, gun string, root []byte) *client {
	t.Helper()
	u := base + "/tuf/" + gun
	cfg, err := config.New(u+"/metadata", root)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RemoteTargetsURL = u + "/targets"
	dir := t.TempDir()
	cfg.LocalMetadataDir = filepath.Join(dir, "metadata")
	cfg.LocalTargetsDir = filepath.Join(dir, "targets")
	must(t, cfg.EnsurePathsExist())
	return &client{t: t, cfg: cfg}
}

// refresh runs the client's update workflow.
func (c *client) refresh() (*updater.Updater, error) {
	up, err := updater.New(c.cfg)
	if err != nil {
		return nil, err
	}
	return up, up.Refresh()
}

// fetch refreshes and downloads a target, returning its content.
func (c *client) fetch(path string) (string, error) {
	up, err := c.refresh()
	if err != nil {
		return "", fmt.Errorf("refresh: %w", err)
	}
	ti, err := up.GetTargetInfo(path)
	if err != nil {
		return "", fmt.Errorf("target info %s: %w", path, err)
	}
	_, data, err := up.DownloadTarget(ti, filepath.Join(c.t.TempDir(), "dl"), "")
	if err != nil {
		return "", fmt.Errorf("download %s: %w", path, err)
	}
	return string(data), nil
}
