package cli

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/agent"
	"github.com/rampart-tuf/rampart/internal/ocitest"
	"github.com/rampart-tuf/rampart/keystore"
	"github.com/rampart-tuf/rampart/keystore/softhsmtest"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// startAgentProcess runs `rampart agent --socket SOCK args...` in a child
// process and waits for its socket; it is stopped with SIGTERM when the
// test ends, if it still runs.
func startAgentProcess(t *testing.T, sock string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := rampartProcess(t, t.TempDir(), append([]string{"agent", "--socket", sock}, args...)...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
	})
	for range 200 {
		if fi, err := os.Lstat(sock); err == nil && fi.Mode()&fs.ModeSocket != 0 {
			return cmd
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the agent did not create %s: %s", sock, stderr.String())
	return nil
}

// hideFile moves path away for the rest of the test (or until the
// returned function puts it back).
func hideFile(t *testing.T, path string) (restore func()) {
	t.Helper()
	away := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.Rename(path, away); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.Rename(away, path); err != nil {
			t.Fatal(err)
		}
	}
}

func tufKeyIDOf(t *testing.T, path string) string {
	t.Helper()
	pk, err := keystore.ReadPublic(path)
	if err != nil {
		t.Fatal(err)
	}
	return keystore.KeyID(pk)
}

// TestAgentSignsForRepoCommands runs the agent and the repo commands as a
// maintainer does: keys added once, then add and publish with neither the
// passphrase nor the key files; a key removed from the agent is no longer
// used; Ctrl-C (SIGTERM) stops the agent and removes its socket.
func TestAgentSignsForRepoCommands(t *testing.T) {
	tmp := t.TempDir()
	sock := filepath.Join(tmp, "agent", "sock")
	proc := startAgentProcess(t, sock, "--ttl", "1h")
	t.Setenv(agent.EnvSocket, sock)
	t.Setenv("RAMPART_PASSPHRASE", "pw")

	dir := filepath.Join(tmp, "repo")
	mustRun(t, "repo", "init", dir)
	keyFile := func(role string) string { return filepath.Join(dir, "keys", role+".key") }
	out := mustRun(t, "agent", "add", keyFile("targets"), keyFile("snapshot"), keyFile("timestamp"))
	if n := strings.Count(out, "added "); n != 3 {
		t.Fatalf("agent add printed %d keys:\n%s", n, out)
	}
	list := mustRun(t, "agent", "list")
	for _, role := range []string{"targets", "snapshot", "timestamp"} {
		if !strings.Contains(list, tufKeyIDOf(t, keyFile(role))) {
			t.Errorf("agent list does not show the %s key:\n%s", role, list)
		}
	}
	if strings.Contains(list, tufKeyIDOf(t, keyFile("root"))) {
		t.Errorf("agent list shows the root key, never added:\n%s", list)
	}

	// Neither passphrase nor key files: the agent signs.
	os.Unsetenv("RAMPART_PASSPHRASE")
	var restore []func()
	for _, role := range []string{"targets", "snapshot", "timestamp"} {
		restore = append(restore, hideFile(t, keyFile(role)))
	}
	file := filepath.Join(tmp, "app.tgz")
	os.WriteFile(file, []byte("app v1"), 0o644)
	mustRun(t, "repo", "add", dir, file, "--as", "app.tgz")
	pub := filepath.Join(tmp, "pub")
	mustRun(t, "repo", "publish", dir, "--out", pub)
	published, _ := filepath.Glob(filepath.Join(pub, "metadata", "*.targets.json"))
	listed := false
	for _, f := range published {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		listed = listed || bytes.Contains(b, []byte(`"app.tgz"`))
	}
	if !listed {
		t.Errorf("no published targets metadata (%v) lists app.tgz", published)
	}

	// Removed from the agent (named by its public key file): not used.
	out = mustRun(t, "agent", "remove", filepath.Join(dir, "keys", "targets.pub"))
	if !strings.Contains(out, "removed 1 keys") {
		t.Errorf("agent remove printed %q", out)
	}
	os.WriteFile(file, []byte("app v2"), 0o644)
	// repo add stages targets unsigned (the key is not at hand), and
	// publish refuses it.
	_, _, errOut := runCLI(t, "repo", "add", dir, file, "--as", "app2.tgz")
	if !strings.Contains(errOut, "targets is staged with 0 of 1 signatures") {
		t.Errorf("repo add with the targets key removed from the agent, its file gone and no passphrase:\n%s", errOut)
	}
	if code, _, _ := runCLI(t, "repo", "publish", dir, "--out", pub); code == ExitOK {
		t.Error("repo publish published targets that no key at hand signed")
	}
	if list := mustRun(t, "agent", "list"); strings.Contains(list, tufKeyIDOf(t, filepath.Join(dir, "keys", "targets.pub"))) {
		t.Errorf("the removed key is still listed:\n%s", list)
	}
	if code, _, errOut := runCLI(t, "agent", "remove", "deadbeefdeadbeef"); code == ExitOK || !strings.Contains(errOut, "does not hold") {
		t.Errorf("agent remove of an unknown key: exit %d, %s", code, errOut)
	}

	// A key the agent does not hold is read from its file, as without an
	// agent.
	for _, r := range restore {
		r()
	}
	t.Setenv("RAMPART_PASSPHRASE", "pw")
	mustRun(t, "repo", "add", dir, file, "--as", "app2.tgz")

	// SIGTERM stops the agent promptly and removes the socket.
	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- proc.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("agent exit: %v (%s)", err, proc.Stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not stop within 10 s of SIGTERM")
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the socket is still there after SIGTERM: %v", err)
	}
	// No agent on the socket any more: commands use the key files.
	mustRun(t, "repo", "publish", dir, "--out", pub)
}

// TestAgentKeyExpires adds keys to an agent whose keys live 2 seconds:
// once expired, it is no longer listed nor used.
func TestAgentKeyExpires(t *testing.T) {
	tmp := t.TempDir()
	sock := filepath.Join(tmp, "agent", "sock")
	startAgentProcess(t, sock, "--ttl", "2s")
	t.Setenv(agent.EnvSocket, sock)
	t.Setenv("RAMPART_PASSPHRASE", "pw")
	dir := filepath.Join(tmp, "repo")
	mustRun(t, "repo", "init", dir)
	var keyFiles []string
	for _, role := range []string{"targets", "snapshot", "timestamp"} {
		keyFiles = append(keyFiles, filepath.Join(dir, "keys", role+".key"))
	}
	mustRun(t, append([]string{"agent", "add"}, keyFiles...)...)
	added := time.Now()
	os.Unsetenv("RAMPART_PASSPHRASE")
	for _, f := range keyFiles {
		hideFile(t, f)
	}
	time.Sleep(time.Until(added.Add(3 * time.Second)))
	if list := mustRun(t, "agent", "list"); !strings.Contains(list, "holds no keys") {
		t.Errorf("after its time to live, agent list shows:\n%s", list)
	}
	file := filepath.Join(tmp, "app.tgz")
	os.WriteFile(file, []byte("app"), 0o644)
	if _, _, errOut := runCLI(t, "repo", "add", dir, file); !strings.Contains(errOut, "targets is staged with 0 of 1 signatures") {
		t.Errorf("repo add with an expired key:\n%s", errOut)
	}
}

// TestAgentSocketModes checks the modes the agent gives its socket and the
// directory it makes for it, and that it refuses a directory others can
// enter.
func TestAgentSocketModes(t *testing.T) {
	tmp := t.TempDir()
	sock := filepath.Join(tmp, "new", "sock")
	startAgentProcess(t, sock)
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %04o, want 0600", fi.Mode().Perm())
	}
	di, err := os.Stat(filepath.Dir(sock))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %04o, want 0700", di.Mode().Perm())
	}
	shared := filepath.Join(tmp, "shared")
	os.Mkdir(shared, 0o777)
	os.Chmod(shared, 0o777)
	code, _, errOut := runCLI(t, "agent", "--socket", filepath.Join(shared, "sock"))
	if code == ExitOK || !strings.Contains(errOut, "mode 0777") {
		t.Errorf("agent in a 0777 directory: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "agent", "list"); code == ExitOK || !strings.Contains(errOut, agent.EnvSocket) {
		t.Errorf("agent list without a socket: exit %d, %s", code, errOut)
	}
}

// TestAgentHoldsPKCS11KeyForOCISign hands a key on a real SoftHSM token to
// the agent (which keeps the token session open), then signs an OCI
// manifest with `oci sign --key REF` with no PIN at hand: the agent signs.
func TestAgentHoldsPKCS11KeyForOCISign(t *testing.T) {
	tok := softhsmtest.NewToken(t, "agent-oci")
	tmp := t.TempDir()
	sock := filepath.Join(tmp, "agent", "sock")
	t.Setenv(keystore.EnvPKCS11PIN, "")
	os.Unsetenv(keystore.EnvPKCS11PIN) // the agent process gets no PIN of its own
	startAgentProcess(t, sock)
	t.Setenv(agent.EnvSocket, sock)

	t.Setenv(keystore.EnvPKCS11PIN, tok.PIN)
	f := newOCIFixture(t, "registry.acme-rockets.io")
	hsm := filepath.Join(f.dir, "signer-hsm")
	mustRun(t, "key", "generate", "--type", "ecdsa", "-o", hsm, "--pkcs11-module", tok.Module, "--token-label", tok.Label)
	out := mustRun(t, "agent", "add", hsm+".key")
	if !strings.Contains(out, "pkcs11") {
		t.Errorf("agent add of a PKCS#11 reference printed %q", out)
	}
	os.Unsetenv(keystore.EnvPKCS11PIN)

	pk, err := keystore.ReadPublic(hsm + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.NewVerifier(pk)
	if err != nil {
		t.Fatal(err)
	}
	_, chain := f.ca.Issue(t, ocitest.Leaf{Key: publicOnly{v.Public()}, Hosts: []string{"registry.acme-rockets.io"}})
	certs := filepath.Join(f.dir, "hsm-chain.pem")
	ocitest.WriteCerts(t, certs, chain...)
	sig := filepath.Join(f.dir, "sig.json")
	for range 2 { // the token session stays open between commands
		mustRun(t, "oci", "sign", "--key", hsm+".key", "--cert", certs, "-r", ociRef, "-o", sig, "file:"+f.manifest)
		mustRun(t, "oci", "verify", "--signature", sig, "--ca-cert", f.root, "--reference", ociRef, "file:"+f.manifest)
	}
	// Removed from the agent, the key needs its PIN again.
	mustRun(t, "agent", "remove", "--all")
	mustFail(t, "PIN", "oci", "sign", "--key", hsm+".key", "--cert", certs, "-r", ociRef, "-o", sig, "file:"+f.manifest)
}
