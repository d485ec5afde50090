package keystore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/rampart-tuf/rampart/tuf/keys"
)

// ErrNoPKCS11 is returned by PKCS#11 operations in a build without cgo.
var ErrNoPKCS11 = errors.New("PKCS#11 support is not in this build of rampart: build it with cgo (CGO_ENABLED=1)")

// ErrWrongPIN is returned when a PKCS#11 token refuses the PIN. Tokens lock
// after a few wrong PINs: do not retry with guesses.
var ErrWrongPIN = errors.New("wrong PIN")

// PKCS11Key names a key pair on a PKCS#11 token.
type PKCS11Key struct {
	// Module is the absolute path of the token's PKCS#11 library, such as
	// /usr/lib/softhsm/libsofthsm2.so.
	Module string `json:"module"`
	// TokenLabel is the label of the token.
	TokenLabel string `json:"token_label"`
	// KeyLabel is the CKA_LABEL of the private and public key objects.
	KeyLabel string `json:"key_label"`
	// KeyID is the CKA_ID of the key objects, in hex; optional when
	// finding a key, chosen at random by GeneratePKCS11 when empty.
	KeyID string `json:"key_id,omitempty"`
}

func (k PKCS11Key) check() error {
	switch {
	case k.Module == "":
		return errors.New("no PKCS#11 module given")
	case !filepath.IsAbs(k.Module):
		return fmt.Errorf("PKCS#11 module %q is not an absolute path", shorten(k.Module))
	case k.TokenLabel == "":
		return errors.New("no PKCS#11 token label given")
	case k.KeyLabel == "":
		return errors.New("no PKCS#11 key label given")
	}
	if _, err := hex.DecodeString(k.KeyID); err != nil {
		return fmt.Errorf("PKCS#11 key ID %q is not hex", shorten(k.KeyID))
	}
	return nil
}

// pkcs11Ref is a PKCS#11 key reference file.
type pkcs11Ref struct {
	Format string `json:"format"`
	PKCS11Key
	Public keyObject `json:"public"`
}

func parsePKCS11Ref(data []byte) (*pkcs11Ref, error) {
	var r pkcs11Ref
	if err := decodeStrict(data, &r); err != nil {
		return nil, fmt.Errorf("malformed %s key reference: %w", formatPKCS11V1, err)
	}
	if r.Format != formatPKCS11V1 {
		_, err := detectFormat(r.Format)
		if err == nil {
			err = fmt.Errorf("format is %q, want %q", r.Format, formatPKCS11V1)
		}
		return nil, err
	}
	if err := r.PKCS11Key.check(); err != nil {
		return nil, fmt.Errorf("malformed %s key reference: %w", formatPKCS11V1, err)
	}
	if _, err := keys.NewVerifier(r.Public.publicKey()); err != nil {
		return nil, fmt.Errorf("malformed %s key reference: public key: %w", formatPKCS11V1, err)
	}
	return &r, nil
}

// WritePKCS11Ref writes a PKCS#11 key reference file to path, naming the
// key k whose public key is pk, with mode 0600. An existing file is
// replaced only if overwrite is true.
func WritePKCS11Ref(path string, k PKCS11Key, pk keys.PublicKey, overwrite bool) error {
	if err := k.check(); err != nil {
		return fmt.Errorf("keystore: %s: %w", path, err)
	}
	if _, err := keys.NewVerifier(pk); err != nil {
		return fmt.Errorf("keystore: %s: %w", path, err)
	}
	data, err := json.MarshalIndent(&pkcs11Ref{Format: formatPKCS11V1, PKCS11Key: k, Public: newKeyObject(pk)}, "", "  ")
	if err != nil {
		return fmt.Errorf("keystore: %s: %w", path, err)
	}
	return writeFileAtomic(path, append(data, '\n'), 0o600, overwrite)
}

// OpenPKCS11 finds the existing key k on its token and returns a Signer for
// it under the key's default scheme. The PIN comes from RAMPART_PKCS11_PIN
// or pass. Exactly one private key must match k's label (and ID, if set).
func OpenPKCS11(ctx context.Context, k PKCS11Key, pass PassphraseFunc) (Signer, error) {
	if err := k.check(); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	s, err := openPKCS11(ctx, k, keys.PublicKey{}, pass)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return s, nil
}

// GeneratePKCS11 creates a key pair of the given type ("ecdsa" for P-256,
// "ecdsa-p384", or "rsa" for RSA 3072) on the token of k, labelled
// k.KeyLabel, and returns a Signer for it and k with its KeyID set (chosen
// at random when k.KeyID is empty). It fails if the token already has a
// key with that label. The PIN comes from RAMPART_PKCS11_PIN or pass.
func GeneratePKCS11(ctx context.Context, k PKCS11Key, keyType string, pass PassphraseFunc) (Signer, PKCS11Key, error) {
	if err := k.check(); err != nil {
		return nil, k, fmt.Errorf("keystore: %w", err)
	}
	s, k, err := generatePKCS11(ctx, k, keyType, pass)
	if err != nil {
		return nil, k, fmt.Errorf("keystore: %w", err)
	}
	return s, k, nil
}

// DestroyPKCS11 destroys the key pair k on its token, for good. A key that
// is not there is not an error. The PIN comes from RAMPART_PKCS11_PIN or
// pass.
func DestroyPKCS11(ctx context.Context, k PKCS11Key, pass PassphraseFunc) error {
	if err := k.check(); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if err := destroyPKCS11(ctx, k, pass); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}
