package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/keystore"
	"github.com/rampart-tuf/rampart/keystore/softhsmtest"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// TestRepoWithPKCS11Keys keeps the targets key on a SoftHSM2 token and the
// root key in an encrypted file outside the repository: `rampart repo` uses
// the token key wherever a key file goes (init --key, sign --key), and a
// client verifies what was published.
func TestRepoWithPKCS11Keys(t *testing.T) {
	tok := softhsmtest.NewToken(t, "repo-test")
	t.Setenv(keystore.EnvPKCS11PIN, tok.PIN)
	t.Setenv(keystore.EnvPassphrase, "correct horse")
	dir := t.TempDir()
	hsm := filepath.Join(dir, "targets-hsm")
	if code, _, errOut := runCLI(t, "key", "generate", "-o", hsm, "--pkcs11-module", tok.Module, "--token-label", tok.Label); code != 0 {
		t.Fatalf("key generate on the token: %s", errOut)
	}
	repoDir, pub := filepath.Join(dir, "repo"), filepath.Join(dir, "public")
	// The repository knows only the public half of the token key at first.
	if code, _, errOut := runCLI(t, "repo", "init", repoDir, "--key", "targets="+hsm+".pub"); code != 0 {
		t.Fatalf("repo init: %s", errOut)
	}
	content := filepath.Join(dir, "app.tgz")
	os.WriteFile(content, []byte("signed on a token"), 0o644)
	if code, _, errOut := runCLI(t, "repo", "add", repoDir, content); code != 0 {
		t.Fatalf("repo add: %s", errOut)
	}
	code, _, errOut := runCLI(t, "repo", "publish", repoDir, "--out", pub)
	if code != 1 || !strings.Contains(errOut, "targets") || !strings.Contains(errOut, "missing keys") {
		t.Fatalf("publish without the token key: %d %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "repo", "sign", repoDir, "targets", "--key", hsm+".key"); code != 0 {
		t.Fatalf("repo sign with the token key: %s", errOut)
	}
	if code, _, errOut := runCLI(t, "repo", "publish", repoDir, "--out", pub); code != 0 {
		t.Fatalf("publish: %s", errOut)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(pub)))
	defer srv.Close()
	clientDir := filepath.Join(dir, "client")
	if code, _, errOut := runCLI(t, "client", "init", "--url", srv.URL, "--root", filepath.Join(pub, "metadata", "1.root.json"), "--dir", clientDir); code != 0 {
		t.Fatal(errOut)
	}
	out := filepath.Join(dir, "out.tgz")
	if code, _, errOut := runCLI(t, "client", "get", "--dir", clientDir, "app.tgz", "-o", out); code != 0 {
		t.Fatalf("client get: %s", errOut)
	}
	if data, _ := os.ReadFile(out); string(data) != "signed on a token" {
		t.Fatalf("got %q", data)
	}
	targets, err := os.ReadFile(filepath.Join(clientDir, "metadata", "targets.json"))
	if err != nil || !strings.Contains(string(targets), keystore.KeyID(mustReadPublic(t, hsm+".pub"))) {
		t.Fatalf("targets metadata is not signed by the token key: %v", err)
	}
}

func mustReadPublic(t *testing.T, path string) keys.PublicKey {
	t.Helper()
	pk, err := keystore.ReadPublic(path)
	if err != nil {
		t.Fatal(err)
	}
	return pk
}
