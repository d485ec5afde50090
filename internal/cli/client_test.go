package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/internal/repotest"
)

func TestClientCommands(t *testing.T) {
	repo := repotest.New(t)
	repo.AddTarget("targets", "dir/app.tgz", []byte("the app"))
	repo.Delegate("targets", "docs", []string{"docs/*"}, false)
	repo.AddTarget("docs", "docs/readme", []byte("read me"))
	repo.Publish()
	srv := repo.Serve()
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root.json")
	os.WriteFile(root, repo.RootBytes(1), 0o644)
	dir := filepath.Join(tmp, "client")

	if code, _, errOut := runCLI(t, "client", "init", "--url", srv.URL, "--root", root, "--dir", dir); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	if len(repo.Requests) != 0 {
		t.Fatalf("init used the network: %v", repo.Requests)
	}
	if code, _, errOut := runCLI(t, "client", "refresh", "--dir", dir); code != 0 {
		t.Fatalf("refresh: %s", errOut)
	}
	out := filepath.Join(tmp, "app.tgz")
	code, stdout, errOut := runCLI(t, "client", "get", "--dir", dir, "dir/app.tgz", "-o", out)
	if code != 0 || !strings.Contains(stdout, "downloaded dir/app.tgz") {
		t.Fatalf("get: %d %s %s", code, stdout, errOut)
	}
	if data, _ := os.ReadFile(out); string(data) != "the app" {
		t.Fatalf("got %q", data)
	}
	code, stdout, _ = runCLI(t, "client", "list", "--dir", dir, "--json")
	var list []struct{ Path, Role string }
	if code != 0 || json.Unmarshal([]byte(stdout), &list) != nil || len(list) != 2 || list[1].Role != "docs" {
		t.Fatalf("list: %d %s", code, stdout)
	}

	// A failed check: exit 1, a message naming it, and no file.
	info := repo.Targets["docs"].Signed.Targets["docs/readme"]
	repo.SetFile("targets/"+info.ConsistentPath("docs/readme"), []byte("tampered"))
	bad := filepath.Join(tmp, "readme")
	code, _, errOut = runCLI(t, "client", "get", "--dir", dir, "docs/readme", "-o", bad)
	if code != 1 || !strings.Contains(errOut, "target docs/readme") || !strings.Contains(errOut, "exceeds the length bound") {
		t.Fatalf("tampered get: %d %q", code, errOut)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Fatal("a file was left behind")
	}
	if code, _, errOut := runCLI(t, "client", "get", "--dir", dir, "nope", "-o", bad); code != 1 || !strings.Contains(errOut, "no trusted metadata lists this target") {
		t.Fatalf("unknown target: %d %q", code, errOut)
	}
	// Limits can be changed: a timestamp bound below its size is refused.
	if code, _, errOut := runCLI(t, "client", "refresh", "--dir", dir, "--max-timestamp-bytes", "100"); code != 1 || !strings.Contains(errOut, "exceeds the length bound of 100 bytes") {
		t.Fatalf("--max-timestamp-bytes 100: %d %q", code, errOut)
	}
}

// TestQuickstart runs the README's main job in-process, with its client
// steps as rampart commands.
func TestQuickstart(t *testing.T) {
	code, out, errOut := runCLI(t, "quickstart")
	if code != 0 {
		t.Fatalf("quickstart: %d %s\n%s", code, errOut, out)
	}
	for _, want := range []string{"$ rampart client get", "downloaded releases/app-1.0.tgz (34 bytes, verified)", "the client refused it", `got hello.txt = "hello again\n"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Each step's heading comes before its commands and their output, and
	// key generation says what it is doing before it does it.
	for _, order := range [][]string{
		{"1. Create a repository", "[1/4] generating and encrypting the root key", "[4/4] generating and encrypting the timestamp key", "2. Add"},
		{"5. Client:", "$ rampart client init", "initialized", "$ rampart client get", "downloaded releases/app-1.0.tgz", "6. Tamper"},
		{"6. Tamper", "$ rampart client get --dir", "the client refused it", "7. Publish an update"},
		{"9. Create repository", "[2/2] generating and encrypting the targets key", "10. Client:", "$ rampart client init --url http://", "ok:"},
	} {
		at := 0
		for _, want := range order {
			i := strings.Index(out[at:], want)
			if i < 0 {
				t.Errorf("%q does not follow %q in the output:\n%s", want, order[0], out)
				break
			}
			at += i
		}
	}
}

// Key IDs that are not the hash of their key are read by default;
// --strict-keyids refuses them, on any client command or once for all at
// init.
func TestClientStrictKeyIDs(t *testing.T) {
	repo := repotest.New(t)
	repo.AddTarget("targets", "app.tgz", []byte("the app"))
	repo.MarkDirty("root")
	repo.Publish()
	repo.RepublishUnderNames(repotest.KeyNames{})
	srv := repo.Serve()
	tmp := t.TempDir()
	root1 := filepath.Join(tmp, "1.root.json")
	os.WriteFile(root1, repo.RootBytes(1), 0o644)
	root2 := filepath.Join(tmp, "2.root.json")
	os.WriteFile(root2, repo.RootBytes(2), 0o644)

	dir := filepath.Join(tmp, "lenient")
	if code, _, errOut := runCLI(t, "client", "init", "--url", srv.URL, "--root", root1, "--dir", dir); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	const refused = `2.root.json: key IDs check failed: root metadata: signed.keys["tuf-on-ci-root"]: key ID does not match the key`
	if code, _, errOut := runCLI(t, "client", "--strict-keyids", "refresh", "--dir", dir); code != 1 || !strings.Contains(errOut, refused) {
		t.Fatalf("refresh --strict-keyids: %d %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "client", "get", "--dir", dir, "app.tgz", "-o", filepath.Join(tmp, "app"), "--strict-keyids"); code != 1 || !strings.Contains(errOut, refused) {
		t.Fatalf("get --strict-keyids: %d %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "client", "get", "--dir", dir, "app.tgz", "-o", filepath.Join(tmp, "app")); code != 0 {
		t.Fatalf("get: %d %q", code, errOut)
	}

	strict := filepath.Join(tmp, "strict")
	if code, _, errOut := runCLI(t, "client", "init", "--strict-keyids", "--url", srv.URL, "--root", root2, "--dir", strict); code != 1 || !strings.Contains(errOut, `trusted root: root metadata: signed.keys["tuf-on-ci-root"]: key ID does not match the key`) {
		t.Fatalf("init --strict-keyids with a named key: %d %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "client", "init", "--strict-keyids", "--url", srv.URL, "--root", root1, "--dir", strict); code != 0 {
		t.Fatalf("init --strict-keyids: %d %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "client", "refresh", "--dir", strict); code != 1 || !strings.Contains(errOut, refused) {
		t.Fatalf("refresh after init --strict-keyids: %d %q", code, errOut)
	}
}

// TestClientListEscapesNames: metadata signed elsewhere may list target
// paths with control characters or bidirectional controls; client list
// prints them escaped, so that they cannot act on the terminal or pass for
// another name.
func TestClientListEscapesNames(t *testing.T) {
	repo := repotest.New(t)
	for _, p := range []string{"plain.txt", "invoice\u202Etxt.exe", "clear\x1b[2Jscreen", `a\..\b`} {
		repo.AddTarget("targets", p, []byte(p))
	}
	repo.Publish()
	srv := repo.Serve()
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root.json")
	os.WriteFile(root, repo.RootBytes(1), 0o644)
	dir := filepath.Join(tmp, "client")
	if code, _, errOut := runCLI(t, "client", "init", "--url", srv.URL, "--root", root, "--dir", dir); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	code, stdout, errOut := runCLI(t, "client", "list", "--dir", dir)
	if code != 0 {
		t.Fatalf("list: %d %s", code, errOut)
	}
	for _, bad := range []string{"\u202E", "\x1b"} {
		if strings.Contains(stdout, bad) {
			t.Errorf("list printed %q as it is:\n%s", bad, stdout)
		}
	}
	for _, want := range []string{"plain.txt", `"invoice\u202etxt.exe"`, `"clear\x1b[2Jscreen"`, `"a\\..\\b"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("list output lacks %s:\n%s", want, stdout)
		}
	}
}
