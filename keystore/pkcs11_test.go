//go:build cgo

package keystore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/keystore/softhsmtest"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// TestPKCS11 generates keys on a real SoftHSM2 token, writes reference
// files for them, and signs TUF metadata through Load.
func TestPKCS11(t *testing.T) {
	tok := softhsmtest.NewToken(t, "rampart-test")
	t.Setenv(EnvPKCS11PIN, "") // restored after the test
	os.Unsetenv(EnvPKCS11PIN)
	ctx := context.Background()
	dir := t.TempDir()

	for _, typ := range []string{"ecdsa", "ecdsa-p384", "rsa"} {
		t.Run(typ, func(t *testing.T) {
			k := PKCS11Key{Module: tok.Module, TokenLabel: tok.Label, KeyLabel: "key-" + typ}
			calls := 0
			s, k, err := GeneratePKCS11(ctx, k, typ, fixed(tok.PIN, &calls))
			if err != nil {
				t.Fatalf("GeneratePKCS11: %v", err)
			}
			pk := s.PublicKey()
			if calls != 1 {
				t.Errorf("PIN asked %d times, want 1", calls)
			}
			if len(k.KeyID) != 32 {
				t.Errorf("KeyID %q, want 16 random bytes in hex", k.KeyID)
			}
			signAndVerify(t, s, pk)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}

			ref := filepath.Join(dir, typ+".key")
			if err := WritePKCS11Ref(ref, k, pk, false); err != nil {
				t.Fatal(err)
			}
			if got, err := ReadPublic(ref); err != nil || got != pk {
				t.Fatalf("ReadPublic(reference) = %+v, %v", got, err)
			}

			// Load takes a reference wherever it takes a key file.
			var prompt string
			loaded, err := Load(ctx, ref, func(p string) ([]byte, error) { prompt = p; return []byte(tok.PIN), nil })
			if err != nil {
				t.Fatalf("Load(reference): %v", err)
			}
			if !IsPINPrompt(prompt) || !strings.Contains(prompt, tok.Label) {
				t.Errorf("PIN prompt %q", prompt)
			}
			signAndVerify(t, loaded, pk)
			loaded.Close()

			// RAMPART_PKCS11_PIN wins over the PassphraseFunc.
			t.Setenv(EnvPKCS11PIN, tok.PIN)
			loaded, err = Load(ctx, ref, func(string) ([]byte, error) { t.Error("PIN asked despite env"); return nil, errors.New("no") })
			if err != nil {
				t.Fatalf("Load with %s: %v", EnvPKCS11PIN, err)
			}
			signAndVerify(t, loaded, pk)
			loaded.Close()
			os.Unsetenv(EnvPKCS11PIN)

			// RAMPART_PASSPHRASE is not a PIN.
			t.Setenv(EnvPassphrase, tok.PIN)
			_, err = Load(ctx, ref, EnvOrPrompt(nil, nil))
			if err == nil || !strings.Contains(err.Error(), "set "+EnvPKCS11PIN+" or run on a terminal") {
				t.Errorf("Load with only %s set: %v", EnvPassphrase, err)
			}
			os.Unsetenv(EnvPassphrase)

			// The key found by label alone is the same key.
			opened, err := OpenPKCS11(ctx, PKCS11Key{Module: tok.Module, TokenLabel: tok.Label, KeyLabel: k.KeyLabel}, fixed(tok.PIN, nil))
			if err != nil {
				t.Fatalf("OpenPKCS11: %v", err)
			}
			if opened.PublicKey() != pk {
				t.Error("OpenPKCS11 found another key")
			}
			opened.Close()
		})
	}

	t.Run("errors", func(t *testing.T) {
		good := PKCS11Key{Module: tok.Module, TokenLabel: tok.Label, KeyLabel: "key-ecdsa"}
		pin := fixed(tok.PIN, nil)
		check := func(name string, err error, want string) {
			t.Helper()
			t.Logf("%s: %v", name, err)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %v, want one containing %q", name, err, want)
			}
		}
		_, err := OpenPKCS11(ctx, good, fixed("0000", nil))
		check("wrong PIN", err, "wrong PIN for PKCS#11 token")
		if !errors.Is(err, ErrWrongPIN) {
			t.Errorf("wrong PIN: %v is not ErrWrongPIN", err)
		}
		k := good
		k.KeyLabel = "nope"
		_, err = OpenPKCS11(ctx, k, pin)
		check("missing key", err, `has no key labelled "nope"`)
		k = good
		k.TokenLabel = "nope"
		_, err = OpenPKCS11(ctx, k, pin)
		check("missing token", err, `opening PKCS#11 token "nope"`)
		k = good
		k.Module = filepath.Join(dir, "missing.so")
		_, err = OpenPKCS11(ctx, k, pin)
		check("missing module", err, "missing.so")
		k.Module = "libsofthsm2.so"
		_, err = OpenPKCS11(ctx, k, pin)
		check("relative module", err, "not an absolute path")
		_, _, err = GeneratePKCS11(ctx, good, "ecdsa", pin)
		check("duplicate label", err, `already has a key labelled "key-ecdsa"`)
		k = good
		k.KeyLabel = "ed"
		_, _, err = GeneratePKCS11(ctx, k, "ed25519", pin)
		check("ed25519", err, `cannot generate "ed25519" keys on a PKCS#11 token`)

		// A reference whose public key is another key's.
		other, _ := keys.Generate("ecdsa")
		otherPK, _ := keys.PublicKeyFor(other.Public(), "")
		ref := filepath.Join(dir, "mismatch.key")
		if err := WritePKCS11Ref(ref, good, otherPK, false); err != nil {
			t.Fatal(err)
		}
		_, err = Load(ctx, ref, pin)
		check("mismatched reference", err, "is not the key in this reference")
		if err != nil && !strings.Contains(err.Error(), ref) {
			t.Errorf("error %q does not name the file", err)
		}

		// A private key on a token cannot be read out.
		_, _, err = ReadPrivate(filepath.Join(dir, "ecdsa.key"), pin)
		check("ReadPrivate(reference)", err, "stays on the token")
	})
}
