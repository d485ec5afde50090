// Package softhsmtest gives tests a fresh SoftHSM2 token, so that PKCS#11
// code is tested against a real PKCS#11 library.
//
// SoftHSM2 comes from the Debian package softhsm2 (the library and
// softhsm2-util). When it is missing, [NewToken] fails the test and says how
// to install it; it never skips.
package softhsmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// EnvModule names an environment variable that overrides the path of the
// SoftHSM2 PKCS#11 library.
const EnvModule = "RAMPART_TEST_SOFTHSM_MODULE"

// modulePaths are where distributions install the SoftHSM2 library.
var modulePaths = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",
}

const install = "install SoftHSM2 (Debian: apt-get install softhsm2; it is in DEBIAN_PACKAGES in .ci/run)"

// Token is an initialised SoftHSM2 token.
type Token struct {
	Module string // absolute path of the PKCS#11 library
	Label  string // token label
	PIN    string // user PIN
	SOPIN  string // security officer PIN
}

// Module returns the path of the SoftHSM2 library, failing t if there is
// none.
func Module(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvModule); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("SoftHSM2 library from %s: %v; %s", EnvModule, err, install)
		}
		return p
	}
	for _, p := range modulePaths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("SoftHSM2 PKCS#11 library not found (looked in %v; set %s to its path): %s", modulePaths, EnvModule, install)
	return ""
}

// NewToken points SOFTHSM2_CONF at a configuration of its own in a temporary
// directory (so it cannot be used with t.Parallel), initialises a token
// labelled label there with softhsm2-util, and returns it.
func NewToken(t testing.TB, label string) Token {
	t.Helper()
	tok := Token{Module: Module(t), Label: label, PIN: "1234", SOPIN: "5678"}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		t.Fatalf("softhsm2-util not found: %s", install)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	cfg := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", tok.PIN, "--so-pin", tok.SOPIN).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return tok
}
