package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/internal/repotest"
)

// TestMirrorCommand mirrors a repository and reads the mirror with
// 'rampart client', trusting the origin's root.
func TestMirrorCommand(t *testing.T) {
	repo := repotest.New(t)
	repo.AddTarget("targets", "dir/app.tgz", []byte("the app"))
	repo.AddTarget("targets", "other/big.iso", []byte("not wanted"))
	repo.Publish()
	origin := repo.Serve()
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root.json")
	os.WriteFile(root, repo.RootBytes(1), 0o644)
	dir := filepath.Join(tmp, "mirror")

	code, out, errOut := runCLI(t, "mirror", origin.URL, dir, "--root", root, "--targets", "dir/*")
	if code != 0 || !strings.Contains(out, "1 of 1 target (7 bytes) copied") {
		t.Fatalf("mirror: %d %s %s", code, out, errOut)
	}
	if code, out, _ := runCLI(t, "mirror", origin.URL, dir, "--root", root, "--targets", "dir/*"); code != 0 || !strings.Contains(out, "is up to date") {
		t.Fatalf("second mirror run: %d %s", code, out)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	client := filepath.Join(tmp, "client")
	if code, _, errOut := runCLI(t, "client", "init", "--url", srv.URL, "--root", root, "--dir", client); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	got := filepath.Join(tmp, "app.tgz")
	if code, _, errOut := runCLI(t, "client", "get", "--dir", client, "dir/app.tgz", "-o", got); code != 0 {
		t.Fatalf("get from the mirror: %s", errOut)
	}
	if data, _ := os.ReadFile(got); string(data) != "the app" {
		t.Fatalf("got %q", data)
	}
	if code, _, errOut := runCLI(t, "client", "get", "--dir", client, "other/big.iso", "-o", got+"2"); code != 1 || !strings.Contains(errOut, "other/big.iso") {
		t.Fatalf("a target left out by --targets: %d %s", code, errOut)
	}
	// Another repository's root is refused.
	other := filepath.Join(tmp, "other.json")
	os.WriteFile(other, repotest.New(t).RootBytes(1), 0o644)
	if code, _, errOut := runCLI(t, "mirror", origin.URL, dir, "--root", other); code != 1 || !strings.Contains(errOut, "is not version 1 of the repository") {
		t.Fatalf("another root: %d %s", code, errOut)
	}
}
