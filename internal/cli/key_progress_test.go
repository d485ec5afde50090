package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/keystore"
)

// TestKeyGenerateProgress: `rampart key generate` says on standard error,
// one line per step when that is not a terminal, that it generates and
// then encrypts the key (argon2id takes a moment), before it writes the
// files; standard output carries the key ID alone (issue 13: progress
// while keys are generated and encrypted). The terminal's spinner is
// tested in internal/progress (TestStepsOnATerminal).
func TestKeyGenerateProgress(t *testing.T) {
	t.Setenv(keystore.EnvPassphrase, "pw")
	name := filepath.Join(t.TempDir(), "targets-1")
	code, out, errOut := runCLI(t, "key", "generate", "--type", "ecdsa", "-o", name)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "[1/2] generating an ecdsa key...\n" +
		"[2/2] encrypting " + name + ".key (argon2id)...\n" +
		"Wrote " + name + ".pub and " + name + ".key.\n"
	if errOut != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, want)
	}
	if !keyIDLine.MatchString(out) {
		t.Errorf("stdout %q, want the key ID alone", out)
	}

	// An unknown type is refused before any step, naming the flag and
	// every type accepted.
	code, _, errOut = runCLI(t, "key", "generate", "--type", "dsa", "-o", name+"-2")
	if code != ExitFailure || strings.Contains(errOut, "generating") || !strings.Contains(errOut, "--type dsa") ||
		!strings.Contains(errOut, "ed25519, ecdsa, ecdsa-p384, ecdsa-p521, rsa") {
		t.Errorf("--type dsa: exit %d, stderr %q", code, errOut)
	}
}
