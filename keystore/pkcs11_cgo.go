//go:build cgo

package keystore

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"

	"github.com/rampart-tuf/rampart/tuf/keys"
)

// tokenSigner signs with a key on a PKCS#11 token; Close logs out and
// unloads the library once no other Signer uses it.
type tokenSigner struct {
	keys.Signer
	tok  *crypto11.Context
	once sync.Once
	err  error
}

func (s *tokenSigner) Close() error {
	s.once.Do(func() { s.err = s.tok.Close() })
	return s.err
}

// openToken loads k's module, opens its token and logs in.
func openToken(ctx context.Context, k PKCS11Key, pass PassphraseFunc) (*crypto11.Context, error) {
	if _, err := os.Stat(k.Module); err != nil {
		return nil, fmt.Errorf("PKCS#11 module: %w", err)
	}
	p, err := pin(pass, k.TokenLabel)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tok, err := crypto11.Configure(&crypto11.Config{Path: k.Module, TokenLabel: k.TokenLabel, Pin: string(p)})
	clear(p)
	if err != nil {
		var code pkcs11.Error
		if errors.As(err, &code) && (code == pkcs11.CKR_PIN_INCORRECT || code == pkcs11.CKR_PIN_INVALID || code == pkcs11.CKR_PIN_LEN_RANGE) {
			return nil, fmt.Errorf("%w for PKCS#11 token %q", ErrWrongPIN, k.TokenLabel)
		}
		return nil, fmt.Errorf("opening PKCS#11 token %q with %s: %w", k.TokenLabel, k.Module, err)
	}
	return tok, nil
}

func openPKCS11(ctx context.Context, k PKCS11Key, want keys.PublicKey, pass PassphraseFunc) (Signer, error) {
	tok, err := openToken(ctx, k, pass)
	if err != nil {
		return nil, err
	}
	s, err := findKey(tok, k, want)
	if err != nil {
		tok.Close()
		return nil, err
	}
	return s, nil
}

func findKey(tok *crypto11.Context, k PKCS11Key, want keys.PublicKey) (Signer, error) {
	id, _ := hex.DecodeString(k.KeyID) // checked by k.check
	if len(id) == 0 {
		id = nil
	}
	found, err := tok.FindKeyPairs(id, []byte(k.KeyLabel))
	if err != nil {
		return nil, fmt.Errorf("finding key %q on PKCS#11 token %q: %w", k.KeyLabel, k.TokenLabel, err)
	}
	name := fmt.Sprintf("key labelled %q", k.KeyLabel)
	if id != nil {
		name += fmt.Sprintf(" with ID %s", k.KeyID)
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("PKCS#11 token %q has no %s", k.TokenLabel, name)
	case 1:
	default:
		return nil, fmt.Errorf("PKCS#11 token %q has %d keys matching %s; give the key ID to choose one", k.TokenLabel, len(found), name)
	}
	s, err := keys.NewSigner(found[0], want.Scheme)
	if err != nil {
		return nil, fmt.Errorf("%s on PKCS#11 token %q: %w", name, k.TokenLabel, err)
	}
	if want != (keys.PublicKey{}) && s.PublicKey() != want {
		return nil, fmt.Errorf("the %s on PKCS#11 token %q is not the key in this reference (its key ID is %s, the reference's is %s)",
			name, k.TokenLabel, KeyID(s.PublicKey()), KeyID(want))
	}
	return &tokenSigner{Signer: s, tok: tok}, nil
}

func destroyPKCS11(ctx context.Context, k PKCS11Key, pass PassphraseFunc) error {
	tok, err := openToken(ctx, k, pass)
	if err != nil {
		return err
	}
	defer tok.Close()
	id, _ := hex.DecodeString(k.KeyID) // checked by k.check
	if len(id) == 0 {
		id = nil
	}
	found, err := tok.FindKeyPairs(id, []byte(k.KeyLabel))
	if err != nil {
		return fmt.Errorf("finding key %q on PKCS#11 token %q: %w", k.KeyLabel, k.TokenLabel, err)
	}
	for _, kp := range found {
		d, ok := kp.(interface{ Delete() error })
		if !ok {
			return fmt.Errorf("key %q on PKCS#11 token %q cannot be destroyed", k.KeyLabel, k.TokenLabel)
		}
		if err := d.Delete(); err != nil {
			return fmt.Errorf("destroying key %q on PKCS#11 token %q: %w", k.KeyLabel, k.TokenLabel, err)
		}
	}
	return nil
}

func generatePKCS11(ctx context.Context, k PKCS11Key, keyType string, pass PassphraseFunc) (Signer, PKCS11Key, error) {
	var gen func(tok *crypto11.Context, id, label []byte) (crypto.Signer, error)
	switch keyType {
	case "ecdsa", "ecdsa-p384":
		curve := elliptic.P256()
		if keyType == "ecdsa-p384" {
			curve = elliptic.P384()
		}
		gen = func(tok *crypto11.Context, id, label []byte) (crypto.Signer, error) {
			return tok.GenerateECDSAKeyPairWithLabel(id, label, curve)
		}
	case "rsa":
		gen = func(tok *crypto11.Context, id, label []byte) (crypto.Signer, error) {
			return tok.GenerateRSAKeyPairWithLabel(id, label, 3072)
		}
	default:
		return nil, k, fmt.Errorf("cannot generate %q keys on a PKCS#11 token; want \"ecdsa\", \"ecdsa-p384\" or \"rsa\"", shorten(keyType))
	}
	if k.KeyID == "" {
		id := make([]byte, 16)
		if _, err := rand.Read(id); err != nil {
			return nil, k, err
		}
		k.KeyID = hex.EncodeToString(id)
	}
	id, _ := hex.DecodeString(k.KeyID)
	if len(id) == 0 {
		return nil, k, errors.New("empty PKCS#11 key ID")
	}

	tok, err := openToken(ctx, k, pass)
	if err != nil {
		return nil, k, err
	}
	existing, err := tok.FindKeyPairs(nil, []byte(k.KeyLabel))
	if err == nil && len(existing) > 0 {
		err = fmt.Errorf("PKCS#11 token %q already has a key labelled %q", k.TokenLabel, k.KeyLabel)
	}
	if err == nil {
		if err = ctx.Err(); err == nil {
			_, err = gen(tok, id, []byte(k.KeyLabel))
			if err != nil {
				err = fmt.Errorf("generating a %s key on PKCS#11 token %q: %w", keyType, k.TokenLabel, err)
			}
		}
	}
	var s Signer
	if err == nil {
		s, err = findKey(tok, k, keys.PublicKey{})
	}
	if err != nil {
		tok.Close()
		return nil, k, err
	}
	return s, k, nil
}
