package cli

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/keystore"
	"github.com/rampart-tuf/rampart/keystore/softhsmtest"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

var keyIDLine = regexp.MustCompile(`^[0-9a-f]{64}\n$`)

// signWith loads the key file at path, signs root metadata listing pub
// with it and verifies the signature.
func signWith(t *testing.T, path string, pub keys.PublicKey, pass keystore.PassphraseFunc) {
	t.Helper()
	s, err := keystore.Load(context.Background(), path, pass)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	defer s.Close()
	root := metadata.NewRoot(time.Now().Add(time.Hour))
	if err := root.AddKey("root", metadata.NewKey(pub)); err != nil {
		t.Fatal(err)
	}
	m := metadata.New(root)
	sig, err := m.Sign(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.NewVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(m.SignedBytes(), sig.Value); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	if err := root.VerifyRole("root", m); err != nil {
		t.Fatal(err)
	}
}

func passphrase(p string) keystore.PassphraseFunc {
	return func(string) ([]byte, error) { return []byte(p), nil }
}

func TestKeyGenerate(t *testing.T) {
	t.Setenv(keystore.EnvPassphrase, "s3cret")
	for _, typ := range []string{"ed25519", "ecdsa", "rsa"} {
		t.Run(typ, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "root-1")
			code, out, errOut := runCLI(t, "key", "generate", "--type", typ, "-o", name)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if !keyIDLine.MatchString(out) {
				t.Errorf("stdout %q, want a key ID", out)
			}
			if !strings.Contains(errOut, name+".pub") || !strings.Contains(errOut, name+".key") {
				t.Errorf("stderr %q does not name the files", errOut)
			}
			for file, mode := range map[string]os.FileMode{".key": 0o600, ".pub": 0o644} {
				fi, err := os.Stat(name + file)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != mode {
					t.Errorf("%s mode %v, want %v", file, fi.Mode().Perm(), mode)
				}
			}
			pub, err := keystore.ReadPublic(name + ".pub")
			if err != nil {
				t.Fatal(err)
			}
			if pub.Type != map[string]string{"ed25519": "ed25519", "ecdsa": "ecdsa", "rsa": "rsa"}[typ] {
				t.Errorf("key type %q", pub.Type)
			}
			if id := strings.TrimSpace(out); id != metadata.NewKey(pub).ID() {
				t.Errorf("printed ID %s, want %s", id, metadata.NewKey(pub).ID())
			}
			signWith(t, name+".key", pub, passphrase("s3cret"))

			// "key id" gives the same ID for both files.
			code, idOut, errOut := runCLI(t, "key", "id", name+".pub", name+".key")
			if code != ExitOK || idOut != out+out {
				t.Errorf("key id: exit %d, stdout %q, stderr %q; want %q twice", code, idOut, errOut, out)
			}

			// A wrong passphrase fails clearly.
			_, err = keystore.Load(context.Background(), name+".key", passphrase("wrong"))
			if err == nil || !strings.Contains(err.Error(), "wrong passphrase") || !strings.Contains(err.Error(), name+".key") {
				t.Errorf("Load with a wrong passphrase: %v", err)
			}
		})
	}
}

func TestKeyGenerateErrors(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "k")

	// Neither RAMPART_PASSPHRASE nor a terminal.
	t.Setenv(keystore.EnvPassphrase, "")
	os.Unsetenv(keystore.EnvPassphrase)
	code, _, errOut := runCLI(t, "key", "generate", "--type", "ed25519", "-o", name)
	if code != ExitFailure || !strings.Contains(errOut, "rampart: no passphrase: set RAMPART_PASSPHRASE") {
		t.Errorf("without a passphrase: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(name + ".key"); err == nil {
		t.Error("key file written without a passphrase")
	}

	t.Setenv(keystore.EnvPassphrase, "")
	code, _, errOut = runCLI(t, "key", "generate", "-o", name)
	if code != ExitFailure || !strings.Contains(errOut, "passphrase is empty") {
		t.Errorf("empty passphrase: exit %d, stderr %q", code, errOut)
	}

	t.Setenv(keystore.EnvPassphrase, "pw")
	code, _, errOut = runCLI(t, "key", "generate", "--type", "dsa", "-o", name)
	if code != ExitFailure || !strings.Contains(errOut, "cannot generate dsa keys") || !strings.Contains(errOut, "--help") {
		t.Errorf("bad type: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "key", "generate", "--type", "ed25519")
	if code != ExitFailure || !strings.Contains(errOut, "--output (-o) is required") {
		t.Errorf("no output: exit %d, stderr %q", code, errOut)
	}

	// Existing files are kept unless --force.
	if code, _, errOut := runCLI(t, "key", "generate", "-o", name); code != ExitOK {
		t.Fatalf("generate: %s", errOut)
	}
	first, _ := os.ReadFile(name + ".key")
	code, _, errOut = runCLI(t, "key", "generate", "-o", name)
	if code != ExitFailure || !strings.Contains(errOut, "already exists") {
		t.Errorf("over existing files: exit %d, stderr %q", code, errOut)
	}
	if again, _ := os.ReadFile(name + ".key"); string(again) != string(first) {
		t.Error("existing key file changed")
	}
	code, out, errOut := runCLI(t, "key", "generate", "--type", "ecdsa", "-o", name, "--force")
	if code != ExitOK {
		t.Fatalf("--force: %s", errOut)
	}
	pub, err := keystore.ReadPublic(name + ".pub")
	if err != nil || pub.Type != "ecdsa" || strings.TrimSpace(out) != keystore.KeyID(pub) {
		t.Errorf("after --force: %+v, %v", pub, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory has %d entries, want 2", len(entries))
	}

	code, _, errOut = runCLI(t, "key", "id", filepath.Join(dir, "missing.pub"))
	if code != ExitFailure || !strings.Contains(errOut, "missing.pub") {
		t.Errorf("key id of a missing file: exit %d, stderr %q", code, errOut)
	}
}

func TestKeyChangePassphrase(t *testing.T) {
	name := filepath.Join(t.TempDir(), "k")
	t.Setenv(keystore.EnvPassphrase, "old")
	if code, _, errOut := runCLI(t, "key", "generate", "-o", name); code != ExitOK {
		t.Fatal(errOut)
	}
	pub, _ := keystore.ReadPublic(name + ".pub")

	t.Setenv(envNewPassphrase, "new")
	t.Setenv(keystore.EnvPassphrase, "wrong")
	code, _, errOut := runCLI(t, "key", "change-passphrase", name+".key")
	if code != ExitFailure || !strings.Contains(errOut, "rampart: "+name+".key: wrong passphrase") {
		t.Errorf("wrong passphrase: exit %d, stderr %q", code, errOut)
	}
	t.Setenv(keystore.EnvPassphrase, "old")
	if code, _, errOut := runCLI(t, "key", "change-passphrase", name+".key"); code != ExitOK {
		t.Fatalf("change-passphrase: %s", errOut)
	}
	if fi, _ := os.Stat(name + ".key"); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	signWith(t, name+".key", pub, passphrase("new"))

	os.Unsetenv(envNewPassphrase)
	t.Setenv(keystore.EnvPassphrase, "new")
	code, _, errOut = runCLI(t, "key", "change-passphrase", name+".key")
	if code != ExitFailure || !strings.Contains(errOut, "no new passphrase: set RAMPART_NEW_PASSPHRASE") {
		t.Errorf("without a new passphrase: exit %d, stderr %q", code, errOut)
	}
}

func TestKeyPKCS11(t *testing.T) {
	tok := softhsmtest.NewToken(t, "cli-test")
	t.Setenv(keystore.EnvPKCS11PIN, tok.PIN)
	t.Setenv(keystore.EnvPassphrase, "not the PIN")
	dir := t.TempDir()

	name := filepath.Join(dir, "targets-1")
	code, out, errOut := runCLI(t, "key", "generate", "-o", name, "--pkcs11-module", tok.Module, "--token-label", tok.Label)
	if code != ExitOK {
		t.Fatalf("generate on token: %s", errOut)
	}
	pub, err := keystore.ReadPublic(name + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if pub.Type != "ecdsa" || strings.TrimSpace(out) != keystore.KeyID(pub) {
		t.Errorf("key %+v, stdout %q", pub, out)
	}
	if fi, _ := os.Stat(name + ".key"); fi.Mode().Perm() != 0o600 {
		t.Errorf("reference mode %v", fi.Mode().Perm())
	}
	ref, _ := os.ReadFile(name + ".key")
	if !strings.Contains(string(ref), `"format": "rampart-pkcs11-v1"`) || !strings.Contains(string(ref), `"key_label": "targets-1"`) {
		t.Errorf("reference file:\n%s", ref)
	}
	signWith(t, name+".key", pub, nil)

	// RSA, with an explicit label.
	rsaName := filepath.Join(dir, "snapshot")
	code, _, errOut = runCLI(t, "key", "generate", "--type", "rsa", "-o", rsaName, "--pkcs11-module", tok.Module, "--token-label", tok.Label, "--key-label", "snap")
	if code != ExitOK {
		t.Fatalf("generate RSA on token: %s", errOut)
	}
	rsaPub, _ := keystore.ReadPublic(rsaName + ".pub")
	if rsaPub.Type != "rsa" {
		t.Errorf("key type %q", rsaPub.Type)
	}
	signWith(t, rsaName+".key", rsaPub, nil)

	// Import the first key again under another name.
	imported := filepath.Join(dir, "imported")
	code, out2, errOut := runCLI(t, "key", "import-pkcs11", "-o", imported, "--pkcs11-module", tok.Module, "--token-label", tok.Label, "--key-label", "targets-1")
	if code != ExitOK {
		t.Fatalf("import-pkcs11: %s", errOut)
	}
	if out2 != out {
		t.Errorf("imported key ID %q, want %q", out2, out)
	}
	signWith(t, imported+".key", pub, nil)

	// Errors.
	code, _, errOut = runCLI(t, "key", "generate", "--type", "ed25519", "-o", filepath.Join(dir, "ed"), "--pkcs11-module", tok.Module, "--token-label", tok.Label)
	if code != ExitFailure || !strings.Contains(errOut, `cannot generate "ed25519" keys on a PKCS#11 token`) {
		t.Errorf("ed25519 on token: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "key", "generate", "-o", filepath.Join(dir, "x"), "--pkcs11-module", tok.Module)
	if code != ExitFailure || !strings.Contains(errOut, "--token-label is required") {
		t.Errorf("no token label: exit %d, stderr %q", code, errOut)
	}
	t.Setenv(keystore.EnvPKCS11PIN, "0000")
	code, _, errOut = runCLI(t, "key", "import-pkcs11", "-o", filepath.Join(dir, "y"), "--pkcs11-module", tok.Module, "--token-label", tok.Label, "--key-label", "targets-1")
	if code != ExitFailure || !strings.Contains(errOut, `wrong PIN for PKCS#11 token "cli-test"`) {
		t.Errorf("wrong PIN: exit %d, stderr %q", code, errOut)
	}
}
