//go:build cgo

package signerd_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rampart-tuf/rampart/keystore"
	"github.com/rampart-tuf/rampart/keystore/softhsmtest"
	"github.com/rampart-tuf/rampart/signerd"
)

// TestPKCS11Service runs the service over keys on a SoftHSM2 token.
func TestPKCS11Service(t *testing.T) {
	tok := softhsmtest.NewToken(t, "rampart-signer")
	t.Setenv(keystore.EnvPKCS11PIN, tok.PIN)
	dir := t.TempDir()
	b, err := signerd.OpenPKCS11(signerd.PKCS11Config{Module: tok.Module, TokenLabel: tok.Label, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	p := newPKI(t)
	c := dial(t, p, startService(t, p, b))
	exercise(t, c, "ecdsa")
	ctx := context.Background()
	k, err := c.Key(ctx, "example.com/acme/app", "timestamp")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened from its index, the back end finds the keys on the token.
	b, err = signerd.OpenPKCS11(signerd.PKCS11Config{Module: tok.Module, TokenLabel: tok.Label, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if again, err := b.Key(ctx, "example.com/acme/app", "timestamp"); err != nil || again.ID() != k.ID() {
		t.Fatalf("Key after reopening = %v, %v; want %s", again, err, k.ID())
	}
	msg := []byte("signed")
	sig, err := b.Sign(ctx, "example.com/acme/app", "timestamp", k.ID(), msg)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := k.Verifier()
	if err := v.Verify(msg, sig); err != nil {
		t.Fatalf("token signature does not verify: %v", err)
	}

	// The index belongs to one token.
	if _, err := signerd.OpenPKCS11(signerd.PKCS11Config{Module: tok.Module, TokenLabel: "other", Dir: dir}); err == nil {
		t.Error("opened the index of one token for another")
	}
	// Without a PIN the back end cannot make keys.
	t.Setenv(keystore.EnvPKCS11PIN, "")
	b2, err := signerd.OpenPKCS11(signerd.PKCS11Config{Module: tok.Module, TokenLabel: tok.Label, Dir: t.TempDir(),
		PIN: func(string) ([]byte, error) { return nil, errors.New("no PIN here") }})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if _, err := b2.Key(ctx, "g", "timestamp"); err == nil {
		t.Error("made a key without a PIN")
	}
}

// TestServerWithRemotePKCS11Signer publishes a repository whose timestamp
// and snapshot are signed on a SoftHSM2 token through the service.
func TestServerWithRemotePKCS11Signer(t *testing.T) {
	tok := softhsmtest.NewToken(t, "rampart-signer")
	t.Setenv(keystore.EnvPKCS11PIN, tok.PIN)
	b, err := signerd.OpenPKCS11(signerd.PKCS11Config{Module: tok.Module, TokenLabel: tok.Label, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	serverWithRemoteSigner(t, b, "ecdsa")
}
