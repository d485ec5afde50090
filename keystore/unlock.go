package keystore

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/rampart-tuf/rampart/tuf/keys"
)

// Unlocked is a private key file opened to be handed to a key agent (see
// package agent): the decrypted private key of an encrypted key file, or
// the reference and PIN of a PKCS#11 key, whose private key cannot leave
// the token. Call Clear when done with it.
type Unlocked struct {
	// Public is the key's public key, as its file lists it.
	Public keys.PublicKey
	// PKCS8 is the private key as PKCS#8 DER, for an encrypted key file;
	// nil for a PKCS#11 reference.
	PKCS8 []byte
	// PKCS11 is the reference file's content, and PIN the token's user
	// PIN, for a PKCS#11 key reference; nil for an encrypted key file.
	PKCS11 []byte
	PIN    []byte
}

// Clear overwrites the secrets u holds.
func (u *Unlocked) Clear() {
	clear(u.PKCS8)
	clear(u.PIN)
}

// Unlock reads the private key file at path and unlocks it: an encrypted
// key file is decrypted with the passphrase pass gives; for a PKCS#11 key
// reference, the PIN is taken from RAMPART_PKCS11_PIN or pass, but the
// token is not opened (whoever holds the key opens it, see OpenPKCS11Ref).
func Unlock(path string, pass PassphraseFunc) (*Unlocked, error) {
	data, ref, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	if ref != nil {
		p, err := pin(pass, ref.TokenLabel)
		if err != nil {
			return nil, fmt.Errorf("keystore: %s: %w", path, err)
		}
		return &Unlocked{Public: ref.Public.publicKey(), PKCS11: data, PIN: p}, nil
	}
	priv, pk, err := readEncrypted(path, data, pass, nil)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("keystore: %s: encoding private key: %w", path, err)
	}
	return &Unlocked{Public: pk, PKCS8: der}, nil
}

// OpenPKCS11Ref opens the key named by a PKCS#11 key reference file's
// content (data), logging in with the PIN given, and checks that the
// token's key is the public key the reference lists. RAMPART_PKCS11_PIN,
// when set in this process's environment, takes precedence over pin, as
// everywhere in this package. Close the Signer to end the token session.
func OpenPKCS11Ref(ctx context.Context, data, pinValue []byte) (Signer, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("keystore: PKCS#11 key reference is larger than the limit of %d bytes", MaxFileSize)
	}
	ref, err := parsePKCS11Ref(data)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	s, err := openPKCS11(ctx, ref.PKCS11Key, ref.Public.publicKey(), func(string) ([]byte, error) {
		return append([]byte(nil), pinValue...), nil
	})
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return s, nil
}
