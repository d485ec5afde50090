package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/internal/repotest"
)

// TestClientGetOfflineStdout: `rampart client get --offline -o -` writes
// the target from DIR's trusted cache to standard output, with the message
// on standard error, once the repository is gone (issue 13: -o - writes to
// standard output, for every way of getting a target).
func TestClientGetOfflineStdout(t *testing.T) {
	repo := repotest.New(t)
	repo.AddTarget("targets", "dir/app.tgz", []byte("the app"))
	repo.Publish()
	srv, dir, info := cachedClient(t, repo, "dir/app.tgz")
	// The cache has no copy yet: nothing on standard output, an error
	// that says so.
	srv.Close()
	code, stdout, errOut := runCLI(t, "client", "get", "--dir", dir, "dir/app.tgz", "-o", "-", "--offline")
	if code != 1 || stdout != "" || !strings.Contains(errOut, "no copy in") {
		t.Fatalf("get --offline -o - with no cached copy: %d %q %q", code, stdout, errOut)
	}
	if err := targetStore(dir).Put(info, strings.NewReader("the app")); err != nil {
		t.Fatal(err)
	}
	// Online, the repository is gone: the command fails.
	if code, stdout, _ := runCLI(t, "client", "get", "--dir", dir, "dir/app.tgz", "-o", "-"); code != 1 || stdout != "" {
		t.Fatalf("get -o - with the repository gone: %d %q", code, stdout)
	}
	code, stdout, errOut = runCLI(t, "client", "get", "--dir", dir, "dir/app.tgz", "-o", "-", "--offline")
	if code != 0 || stdout != "the app" {
		t.Fatalf("get --offline -o -: exit %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	if !strings.Contains(errOut, "copied dir/app.tgz (7 bytes, verified, offline) to standard output") {
		t.Errorf("stderr = %q", errOut)
	}
	if _, err := os.Lstat("-"); err == nil {
		os.Remove("-")
		t.Error(`get --offline -o - wrote a file named "-"`)
	}

	// A cached copy that does not match the trusted metadata never
	// reaches standard output.
	p := filepath.Join(dir, "targets")
	var cached string
	filepath.Walk(p, func(path string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			cached = path
		}
		return nil
	})
	if cached == "" {
		t.Fatalf("no cached copy under %s", p)
	}
	os.WriteFile(cached, []byte("the bad"), 0o644)
	code, stdout, errOut = runCLI(t, "client", "get", "--dir", dir, "dir/app.tgz", "-o", "-", "--offline")
	if code != 1 || stdout != "" {
		t.Fatalf("get --offline -o - of a tampered copy: exit %d, stdout %q, stderr %q", code, stdout, errOut)
	}
}
