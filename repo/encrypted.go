package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/rampart-tuf/rampart/keystore"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// EncryptedKeyStore keeps keys in the keystore package's files: private
// keys encrypted under a passphrase (or references to keys on a PKCS#11
// token) and public keys as TUF key objects. The rampart CLI uses it.
//
// A passphrase that opened one key is tried first for the next, so a
// repository whose keys Init created under one passphrase asks for it once.
type EncryptedKeyStore struct {
	// Passphrase asks for the passphrase of an existing key file.
	Passphrase keystore.PassphraseFunc
	// NewPassphrase asks for the passphrase of new keys; Create asks once
	// and uses the answer for every key it creates. Nil means Passphrase.
	NewPassphrase keystore.PassphraseFunc
	// KeyType is the kind of key Create makes; empty means ed25519.
	KeyType string

	mu   sync.Mutex
	last []byte // the last passphrase that worked, or was chosen
	// enc encrypts new keys under the passphrase chosen for them, derived
	// once for all of them.
	enc *keystore.Encrypter
	// made holds the keys Create made, by the absolute path of their
	// file: Load gives them without deriving the passphrase's key again.
	made map[string]keys.Signer
	// derived holds the keys derived from passphrases for the files
	// loaded: the keys a repository made together share their KDF salt,
	// and are unlocked with one derivation.
	derived keystore.DerivedKeys
}

// NewEncryptedKeyStore returns a key store asking pass and newPass.
func NewEncryptedKeyStore(pass, newPass keystore.PassphraseFunc) *EncryptedKeyStore {
	return &EncryptedKeyStore{Passphrase: pass, NewPassphrase: newPass}
}

// Create implements KeyStore.
func (s *EncryptedKeyStore) Create(ctx context.Context, dir, name string) (keys.PublicKey, error) {
	kt := s.KeyType
	if kt == "" {
		kt = keys.KeyTypeEd25519
	}
	s.mu.Lock()
	pass, enc := s.last, s.enc
	s.mu.Unlock()
	if pass == nil {
		ask := s.NewPassphrase
		if ask == nil {
			ask = s.Passphrase
		}
		if ask == nil {
			return keys.PublicKey{}, keystore.ErrNoPassphrase
		}
		p, err := ask("Passphrase for the new keys: ")
		if err != nil {
			return keys.PublicKey{}, err
		}
		if len(p) == 0 {
			return keys.PublicKey{}, fmt.Errorf("the passphrase is empty; choose one (or set %s)", keystore.EnvPassphrase)
		}
		pass = p
	}
	if enc == nil {
		e, err := keystore.NewEncrypter(pass)
		if err != nil {
			return keys.PublicKey{}, err
		}
		enc = e
	}
	s.mu.Lock()
	s.last, s.enc = pass, enc
	s.mu.Unlock()
	priv, err := keys.Generate(kt)
	if err != nil {
		return keys.PublicKey{}, err
	}
	signer, err := keys.NewSigner(priv, "")
	if err != nil {
		return keys.PublicKey{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return keys.PublicKey{}, err
	}
	keyPath := filepath.Join(dir, name+".key")
	if err := enc.WritePrivate(keyPath, priv, "", false); err != nil {
		return keys.PublicKey{}, err
	}
	pk := signer.PublicKey()
	if err := keystore.WritePublic(filepath.Join(dir, name+".pub"), pk, false); err != nil {
		return keys.PublicKey{}, err
	}
	if abs, err := filepath.Abs(keyPath); err == nil {
		s.mu.Lock()
		if s.made == nil {
			s.made = map[string]keys.Signer{}
		}
		s.made[abs] = signer
		s.mu.Unlock()
	}
	return pk, nil
}

// Load implements KeyStore. The signer returned has a Close method, which
// Repo.Close calls.
func (s *EncryptedKeyStore) Load(ctx context.Context, path string) (keys.Signer, error) {
	abs, _ := filepath.Abs(path)
	s.mu.Lock()
	last, made := s.last, s.made[abs]
	s.mu.Unlock()
	if made != nil {
		return made, nil
	}
	if last != nil {
		// Try the passphrase that worked last, without asking; but never
		// as the PIN of a PKCS#11 token, which locks after a few wrong PINs.
		errPIN := errors.New("a PIN is needed")
		signer, err := keystore.LoadWith(ctx, path, func(prompt string) ([]byte, error) {
			if keystore.IsPINPrompt(prompt) {
				return nil, errPIN
			}
			return slices.Clone(last), nil // cleared once used
		}, &s.derived)
		if err == nil {
			return signer, nil
		}
		if !errors.Is(err, keystore.ErrWrongPassphrase) && !errors.Is(err, errPIN) {
			return nil, err
		}
	}
	if s.Passphrase == nil {
		return nil, keystore.ErrNoPassphrase
	}
	var given []byte
	signer, err := keystore.LoadWith(ctx, path, func(prompt string) ([]byte, error) {
		p, err := s.Passphrase(prompt)
		given = slices.Clone(p) // the key store clears p once it is used
		return p, err
	}, &s.derived)
	if err != nil {
		return nil, err
	}
	if given != nil {
		s.mu.Lock()
		s.last, s.enc = given, nil // new keys: under this passphrase
		s.mu.Unlock()
	}
	return signer, nil
}

// ReadPublic implements KeyStore.
func (s *EncryptedKeyStore) ReadPublic(path string) (keys.PublicKey, error) {
	return keystore.ReadPublic(path)
}
