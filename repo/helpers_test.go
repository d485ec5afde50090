package repo_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

var ctx = context.Background()

// plainOpts keeps test keys unencrypted: encrypted keys cost an Argon2
// derivation each time they are opened. The CLI tests use encrypted keys.
var plainOpts = repo.Options{Keys: repo.PlainKeyStore{}}

func initRepo(t *testing.T, o repo.InitOptions) *repo.Repo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	r, err := repo.Init(ctx, dir, o, plainOpts)
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func reopen(t *testing.T, r *repo.Repo) *repo.Repo {
	t.Helper()
	dir := r.Dir()
	r.Close()
	r2, err := repo.Open(ctx, dir, plainOpts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { r2.Close() })
	return r2
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// newKey writes a key pair NAME.key/NAME.pub in dir and returns the paths.
func newKey(t *testing.T, dir, name string) (priv, pub string) {
	t.Helper()
	if _, err := (repo.PlainKeyStore{}).Create(ctx, dir, name); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
}

func loadKey(t *testing.T, path string) keys.Signer {
	t.Helper()
	s, err := (repo.PlainKeyStore{}).Load(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func publish(t *testing.T, r *repo.Repo, out string) *repo.PublishResult {
	t.Helper()
	res, err := r.Publish(ctx, out)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	return res
}

// goTUFClient is go-tuf v2's updater over HTTP on a published directory.
type goTUFClient struct {
	t       *testing.T
	srv     *httptest.Server
	base    string // the repository's URL, when srv is nil
	root    []byte
	cache   string
	updater *updater.Updater
}

func serve(t *testing.T, pub string) *httptest.Server {
	srv := httptest.NewServer(http.FileServer(http.Dir(pub)))
	t.Cleanup(srv.Close)
	return srv
}

// newGoTUF trusts the root published as 1.root.json.
func newGoTUF(t *testing.T, pub string) *goTUFClient {
	t.Helper()
	root, err := os.ReadFile(filepath.Join(pub, "metadata", "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	return &goTUFClient{t: t, srv: serve(t, pub), root: root, cache: t.TempDir()}
}

func (c *goTUFClient) refresh() error {
	base := c.base
	if c.srv != nil {
		base = c.srv.URL
	}
	cfg, err := config.New(base+"/metadata", c.root)
	if err != nil {
		c.t.Fatal(err)
	}
	cfg.RemoteTargetsURL = base + "/targets"
	cfg.LocalMetadataDir = filepath.Join(c.cache, "metadata")
	cfg.LocalTargetsDir = filepath.Join(c.cache, "targets")
	if err := cfg.EnsurePathsExist(); err != nil {
		c.t.Fatal(err)
	}
	up, err := updater.New(cfg)
	if err != nil {
		return err
	}
	c.updater = up
	return up.Refresh()
}

// get fetches a target and returns its content.
func (c *goTUFClient) get(path string) ([]byte, error) {
	ti, err := c.updater.GetTargetInfo(path)
	if err != nil {
		return nil, err
	}
	_, data, err := c.updater.DownloadTarget(ti, filepath.Join(c.t.TempDir(), "dl"), "")
	return data, err
}

// info looks a target up without downloading it.
func (c *goTUFClient) info(path string) (int64, error) {
	ti, err := c.updater.GetTargetInfo(path)
	if err != nil {
		return 0, err
	}
	return ti.Length, nil
}
