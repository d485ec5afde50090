package cli

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecoveryProcedures runs the procedures of docs/recovery.md, command
// for command, and checks what a client sees after each.
func TestRecoveryProcedures(t *testing.T) {
	t.Setenv("RAMPART_PASSPHRASE", "pw")
	tmp := t.TempDir()
	r := filepath.Join(tmp, "myrepo")
	pub := filepath.Join(tmp, "public")
	run := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("rampart %s: %s", strings.Join(args, " "), errOut)
		}
		return out
	}
	keyID := func(file string) string { return strings.TrimSpace(run("key", "id", file)) }
	clientDir := filepath.Join(tmp, "client")
	refresh := func() string { return run("client", "refresh", "--dir", clientDir) }
	get := func(p, want string) {
		t.Helper()
		run("client", "get", "--dir", clientDir, p, "-o", filepath.Join(tmp, "got"))
		if b, _ := os.ReadFile(filepath.Join(tmp, "got")); string(b) != want {
			t.Fatalf("%s = %q, want %q", p, b, want)
		}
	}
	file := func(name, content string) string {
		p := filepath.Join(tmp, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}

	// A published repository with a delegated role, and a client of it.
	run("repo", "init", r)
	run("repo", "add", r, file("app.tgz", "app 1"))
	run("key", "generate", "-o", filepath.Join(tmp, "docs-1"))
	run("repo", "delegate", r, "docs", "--key", filepath.Join(tmp, "docs-1.pub"), "--paths", "docs/*")
	run("repo", "add", r, file("readme", "read me"), "--as", "docs/readme")
	run("repo", "sign", r, "docs", "--key", filepath.Join(tmp, "docs-1.key"))
	run("repo", "publish", r, "--out", pub)
	srv := httptest.NewServer(http.FileServer(http.Dir(pub)))
	defer srv.Close()
	run("client", "init", "--url", srv.URL, "--root", filepath.Join(pub, "metadata", "1.root.json"), "--dir", clientDir)
	get("docs/readme", "read me")

	// Targets key lost or compromised: a new key, the old one revoked, a
	// new root signed by the root key. Clients follow root v1 → v2.
	run("key", "generate", "-o", filepath.Join(tmp, "targets-2"))
	run("repo", "rotate", r, "targets", "--add-key", filepath.Join(tmp, "targets-2.key"), "--remove-key", keyID(filepath.Join(r, "keys", "targets.key")))
	run("repo", "publish", r, "--out", pub)
	if out := refresh(); !strings.Contains(out, "root v1 → v2") || !strings.Contains(out, "targets v") {
		t.Errorf("after the targets rotation the client printed %q", out)
	}
	get("app.tgz", "app 1")

	// A delegated role's key: its delegating role (targets) names a new
	// key; root does not change.
	run("key", "generate", "-o", filepath.Join(tmp, "docs-2"))
	run("repo", "rotate", r, "docs", "--add-key", filepath.Join(tmp, "docs-2.pub"), "--remove-key", keyID(filepath.Join(tmp, "docs-1.pub")))
	run("repo", "sign", r, "docs", "--key", filepath.Join(tmp, "docs-2.key"))
	run("repo", "publish", r, "--out", pub)
	if out := refresh(); strings.Contains(out, "root v2 →") || !strings.Contains(out, "targets v") {
		t.Errorf("after the docs rotation the client printed %q", out)
	}
	get("docs/readme", "read me")

	// A root key compromised: a new root key, signed by the old one and
	// the new one, the old revoked.
	run("key", "generate", "-o", filepath.Join(tmp, "root-2"))
	run("repo", "rotate", r, "root", "--add-key", filepath.Join(tmp, "root-2.key"), "--remove-key", keyID(filepath.Join(r, "keys", "root.key")))
	run("repo", "publish", r, "--out", pub)
	if out := refresh(); !strings.Contains(out, "root v2 → v3") {
		t.Errorf("after the root rotation the client printed %q", out)
	}

	// Snapshot and timestamp keys (kept in the repository here): the same
	// procedure as targets.
	for _, role := range []string{"snapshot", "timestamp"} {
		run("key", "generate", "-o", filepath.Join(tmp, role+"-2"))
		run("repo", "rotate", r, role, "--add-key", filepath.Join(tmp, role+"-2.key"), "--remove-key", keyID(filepath.Join(r, "keys", role+".key")))
	}
	run("repo", "publish", r, "--out", pub)
	if out := refresh(); !strings.Contains(out, "root v3 → v5") {
		t.Errorf("after the snapshot and timestamp rotations the client printed %q", out)
	}
	get("app.tgz", "app 1")

	// Every root key lost: a new repository, served where the old one
	// was, and every client initialized again from its first root.
	newRepo, newPub := filepath.Join(tmp, "myrepo-new"), filepath.Join(tmp, "public-new")
	run("repo", "init", newRepo)
	run("repo", "add", newRepo, file("app.tgz", "app 2"))
	run("repo", "publish", newRepo, "--out", newPub)
	srv.Config.Handler = http.FileServer(http.Dir(newPub))
	if code, _, errOut := runCLI(t, "client", "refresh", "--dir", clientDir); code == 0 || !strings.Contains(errOut, "timestamp.json: signatures check failed") {
		t.Errorf("a client of the old repository refreshed from the new one: %d %q", code, errOut)
	}
	run("client", "init", "--force", "--url", srv.URL, "--root", filepath.Join(newPub, "metadata", "1.root.json"), "--dir", clientDir)
	get("app.tgz", "app 2")
}

// TestReadmeOfflineRootKeys runs the README's offline-keys example as
// written: two root keys made elsewhere, a threshold of 2, each key
// signing on its own, then a publish.
func TestReadmeOfflineRootKeys(t *testing.T) {
	t.Setenv("RAMPART_PASSPHRASE", "pw")
	tmp := t.TempDir()
	usb := filepath.Join(tmp, "usb")
	os.Mkdir(usb, 0o700)
	myrepo := filepath.Join(tmp, "myrepo")
	for _, args := range [][]string{
		{"key", "generate", "-o", filepath.Join(usb, "root-1")},
		{"key", "generate", "-o", filepath.Join(usb, "root-2")},
		{"repo", "init", myrepo, "--threshold", "root=2", "--key", "root=" + filepath.Join(usb, "root-1.pub"), "--key", "root=" + filepath.Join(usb, "root-2.pub")},
	} {
		if code, _, errOut := runCLI(t, args...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	public := filepath.Join(tmp, "public")
	if code, _, errOut := runCLI(t, "repo", "publish", myrepo, "--out", public); code != 1 || !strings.Contains(errOut, "root") {
		t.Fatalf("publish before signing: %d %q", code, errOut)
	}
	for _, k := range []string{"root-1.key", "root-2.key"} {
		if code, _, errOut := runCLI(t, "repo", "sign", myrepo, "root", "--key", filepath.Join(usb, k)); code != 0 {
			t.Fatalf("sign with %s: %s", k, errOut)
		}
	}
	if code, _, errOut := runCLI(t, "repo", "publish", myrepo, "--out", public); code != 0 {
		t.Fatalf("publish: %s", errOut)
	}
	// Clients start from public/metadata/1.root.json, the same file as
	// myrepo/roots/1.root.json.
	a, _ := os.ReadFile(filepath.Join(public, "metadata", "1.root.json"))
	b, _ := os.ReadFile(filepath.Join(myrepo, "roots", "1.root.json"))
	if len(a) == 0 || string(a) != string(b) {
		t.Fatal("public/metadata/1.root.json is not myrepo/roots/1.root.json")
	}
}

// TestRecoveryRootKeyLost runs the "Root key" procedure of
// docs/recovery.md for a lost root key when enough others remain: root
// has a threshold of 2 over three offline keys; root-1 is lost; a new key
// replaces it, and the two remaining old keys sign the new root.
func TestRecoveryRootKeyLost(t *testing.T) {
	t.Setenv("RAMPART_PASSPHRASE", "pw")
	tmp := t.TempDir()
	usb := filepath.Join(tmp, "usb")
	os.Mkdir(usb, 0o700)
	myrepo, public, clientDir := filepath.Join(tmp, "myrepo"), filepath.Join(tmp, "public"), filepath.Join(tmp, "client")
	for i := 1; i <= 3; i++ {
		mustRun(t, "key", "generate", "-o", filepath.Join(usb, fmt.Sprintf("root-%d", i)))
	}
	mustRun(t, "repo", "init", myrepo, "--threshold", "root=2", "--key", "root="+filepath.Join(usb, "root-1.pub"),
		"--key", "root="+filepath.Join(usb, "root-2.pub"), "--key", "root="+filepath.Join(usb, "root-3.pub"))
	mustRun(t, "repo", "sign", myrepo, "root", "--key", filepath.Join(usb, "root-1.key"))
	mustRun(t, "repo", "sign", myrepo, "root", "--key", filepath.Join(usb, "root-2.key"))
	app := filepath.Join(tmp, "app.tgz")
	os.WriteFile(app, []byte("app 1"), 0o644)
	mustRun(t, "repo", "add", myrepo, app)
	mustRun(t, "repo", "publish", myrepo, "--out", public)
	srv := httptest.NewServer(http.FileServer(http.Dir(public)))
	defer srv.Close()
	mustRun(t, "client", "init", "--url", srv.URL, "--root", filepath.Join(public, "metadata", "1.root.json"), "--dir", clientDir)
	mustRun(t, "client", "refresh", "--dir", clientDir)

	// root-1.key is lost.
	lost := strings.TrimSpace(mustRun(t, "key", "id", filepath.Join(usb, "root-1.pub")))
	os.Remove(filepath.Join(usb, "root-1.key"))
	mustRun(t, "key", "generate", "-o", filepath.Join(usb, "root-4"))
	mustRun(t, "repo", "rotate", myrepo, "root", "--add-key", filepath.Join(usb, "root-4.pub"), "--remove-key", lost)
	// Not yet signed by a threshold: nothing is published.
	if code, _, errOut := runCLI(t, "repo", "publish", myrepo, "--out", public); code != ExitFailure || !strings.Contains(errOut, "root") {
		t.Fatalf("publish before the root keys signed: exit %d, %q", code, errOut)
	}
	mustRun(t, "repo", "sign", myrepo, "root", "--key", filepath.Join(usb, "root-2.key"))
	mustRun(t, "repo", "sign", myrepo, "root", "--key", filepath.Join(usb, "root-3.key"))
	mustRun(t, "repo", "publish", myrepo, "--out", public)
	if out := mustRun(t, "client", "refresh", "--dir", clientDir); !strings.Contains(out, "root v1 → v2") {
		t.Errorf("after the rotation the client said %q", out)
	}
	got := filepath.Join(tmp, "got")
	mustRun(t, "client", "get", "--dir", clientDir, "app.tgz", "-o", got)
	if b, _ := os.ReadFile(got); string(b) != "app 1" {
		t.Fatalf("got %q", b)
	}
}
