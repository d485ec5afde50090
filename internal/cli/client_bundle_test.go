package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/internal/repotest"
)

// TestClientBundle carries a repository into a client with no repository
// URL: export outside, import inside, then get and list offline.
func TestClientBundle(t *testing.T) {
	repo := repotest.New(t)
	repo.AddTarget("targets", "dir/app.tgz", []byte("the app"))
	repo.Delegate("targets", "docs", []string{"docs/*"}, false)
	repo.AddTarget("docs", "docs/readme", []byte("read me"))
	repo.Publish()
	srv := repo.Serve()
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root.json")
	os.WriteFile(root, repo.RootBytes(1), 0o644)
	outside, inside := filepath.Join(tmp, "outside"), filepath.Join(tmp, "inside")
	bundle := filepath.Join(tmp, "repo.bundle")

	if code, _, errOut := runCLI(t, "client", "init", "--url", srv.URL, "--root", root, "--dir", outside); code != 0 {
		t.Fatalf("init outside: %s", errOut)
	}
	code, out, errOut := runCLI(t, "client", "export", "--dir", outside, "-o", bundle, "docs/readme")
	if code != 0 || !strings.Contains(out, "and 1 target\n") {
		t.Fatalf("export: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "client", "init", "--root", root, "--dir", inside); code != 0 || !strings.Contains(out, "no repository URL") {
		t.Fatalf("init inside: %d %s %s", code, out, errOut)
	}
	requests := len(repo.RequestCounts())
	code, out, errOut = runCLI(t, "client", "import", "--dir", inside, bundle)
	if code != 0 || !strings.Contains(out, "2 roles and 1 target, all verified") {
		t.Fatalf("import: %d %s %s", code, out, errOut)
	}
	got := filepath.Join(tmp, "readme")
	if code, out, errOut := runCLI(t, "client", "get", "--dir", inside, "--offline", "docs/readme", "-o", got); code != 0 {
		t.Fatalf("get --offline: %d %s %s", code, out, errOut)
	}
	if data, _ := os.ReadFile(got); string(data) != "read me" {
		t.Fatalf("got %q", data)
	}
	if code, out, _ := runCLI(t, "client", "list", "--dir", inside, "--offline"); code != 0 || !strings.Contains(out, "dir/app.tgz") || !strings.Contains(out, "docs/readme") {
		t.Fatalf("list --offline: %d %s", code, out)
	}
	// A target the bundle did not carry.
	if code, _, errOut := runCLI(t, "client", "get", "--dir", inside, "--offline", "dir/app.tgz", "-o", got+"2"); code != 1 || !strings.Contains(errOut, "client is offline") {
		t.Fatalf("get --offline of a target not carried: %d %s", code, errOut)
	}
	// Online use of a client without a URL says what to do.
	if code, _, errOut := runCLI(t, "client", "list", "--dir", inside); code != 1 || !strings.Contains(errOut, "use --offline") {
		t.Fatalf("list online without a URL: %d %s", code, errOut)
	}
	if n := len(repo.RequestCounts()); n != requests {
		t.Fatalf("the inside client reached the repository (%d paths requested, %d before)", n, requests)
	}

	// A tampered bundle changes nothing.
	data, _ := os.ReadFile(bundle)
	bad := filepath.Join(tmp, "bad.bundle")
	os.WriteFile(bad, []byte(strings.Replace(string(data), "read me", "read ME", 1)), 0o644)
	before, _ := os.ReadFile(filepath.Join(inside, "metadata", "timestamp.json"))
	code, _, errOut = runCLI(t, "client", "import", "--dir", inside, bad)
	if code != 1 || !strings.Contains(errOut, "nothing in "+inside+" was changed") || !strings.Contains(errOut, "docs/readme") {
		t.Fatalf("tampered bundle: %d %s", code, errOut)
	}
	if after, _ := os.ReadFile(filepath.Join(inside, "metadata", "timestamp.json")); string(after) != string(before) {
		t.Fatal("a refused bundle changed the trusted timestamp")
	}
}
