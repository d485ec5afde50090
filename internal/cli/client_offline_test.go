package cli

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/repotest"
)

// TestClientOffline: once the repository is gone, get and list fail naming
// the URL and pointing to --offline, and work with --offline from what DIR
// trusts; expired metadata needs --allow-expired, which says so.
func TestClientOffline(t *testing.T) {
	repo := repotest.New(t)
	repo.AddTarget("targets", "dir/app.tgz", []byte("the app"))
	repo.Timestamp.Signed.Expires = time.Now().Add(2 * time.Second).UTC().Truncate(time.Second)
	repo.Publish()
	srv, dir, info := cachedClient(t, repo, "dir/app.tgz")
	tmp := filepath.Dir(dir)
	// The target's content, as a bundle would bring it in.
	if err := targetStore(dir).Put(info, strings.NewReader("the app")); err != nil {
		t.Fatal(err)
	}
	srv.Close()

	out := filepath.Join(tmp, "app.tgz")
	code, _, errOut := runCLI(t, "client", "get", "--dir", dir, "dir/app.tgz", "-o", out)
	if code != 1 || !strings.Contains(errOut, srv.URL+"/metadata/") || !strings.Contains(errOut, "--offline") {
		t.Fatalf("get with the repository gone: %d %s", code, errOut)
	}
	code, stdout, errOut := runCLI(t, "client", "get", "--dir", dir, "dir/app.tgz", "-o", out, "--offline")
	if code != 0 || !strings.Contains(stdout, "copied dir/app.tgz (7 bytes, verified, offline)") {
		t.Fatalf("get --offline: %d %s %s", code, stdout, errOut)
	}
	if data, _ := os.ReadFile(out); string(data) != "the app" {
		t.Fatalf("got %q", data)
	}
	if code, stdout, errOut := runCLI(t, "client", "list", "--dir", dir, "--offline"); code != 0 || !strings.Contains(stdout, "dir/app.tgz") {
		t.Fatalf("list --offline: %d %s %s", code, stdout, errOut)
	}
	if code, _, errOut := runCLI(t, "client", "list", "--dir", dir, "--allow-expired"); code != 1 || !strings.Contains(errOut, "--allow-expired goes with --offline") {
		t.Fatalf("--allow-expired alone: %d %s", code, errOut)
	}

	// The timestamp expires.
	time.Sleep(time.Until(repo.Timestamp.Signed.Expires) + 100*time.Millisecond)
	code, _, errOut = runCLI(t, "client", "list", "--dir", dir, "--offline")
	if code != 1 || !strings.Contains(errOut, "timestamp.json: expired") || !strings.Contains(errOut, "--allow-expired") {
		t.Fatalf("list --offline with an expired timestamp: %d %s", code, errOut)
	}
	code, stdout, errOut = runCLI(t, "client", "get", "--dir", dir, "dir/app.tgz", "-o", out+"2", "--offline", "--allow-expired")
	if code != 0 || !strings.Contains(errOut, "warning: --allow-expired: relying on expired metadata: timestamp.json (expired ") {
		t.Fatalf("get --offline --allow-expired: %d %s %s", code, stdout, errOut)
	}
}

// cachedClient serves repo, makes a client of it in a new directory
// with 'client init' and 'client refresh', and returns the server, the
// client's directory and what the repository says of target.
func cachedClient(t *testing.T, repo *repotest.Repo, target string) (*httptest.Server, string, client.TargetInfo) {
	t.Helper()
	srv, dir := initClient(t, repo)
	if code, _, errOut := runCLI(t, "client", "refresh", "--dir", dir); code != 0 {
		t.Fatalf("refresh: %s", errOut)
	}
	c, err := client.New(client.Config{MetadataURL: srv.URL + "/metadata", TargetsURL: srv.URL + "/targets", Dir: filepath.Join(dir, "metadata")})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Target(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	return srv, dir, info
}
