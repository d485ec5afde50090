// Package signer holds the online keys with which the server signs
// timestamp and snapshot metadata.
//
// [Signer] is what the server needs from a signing service. [Local] keeps
// the keys in a [KeyStore] (the server's store, or the signing service's
// own database), each private key sealed with AES-256-GCM under a key
// derived (HKDF-SHA256) from a secret, so that a copy of the database alone
// reveals no key. The signing service's client (package signerd)
// implements the same interface over HTTPS.
package signer

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// Signer manages and uses the online keys of repositories. Roles are
// "timestamp" and "snapshot".
type Signer interface {
	// Key returns the newest key of the role, creating one if the
	// repository has none.
	Key(ctx context.Context, gun, role string) (*metadata.Key, error)
	// Rotate creates a new key for the role and returns it. Older keys
	// stay usable until a root that no longer lists them is published.
	Rotate(ctx context.Context, gun, role string) (*metadata.Key, error)
	// Keys returns every key of the role, newest first.
	Keys(ctx context.Context, gun, role string) ([]*metadata.Key, error)
	// Sign signs payload with the key keyID of the role.
	Sign(ctx context.Context, gun, role, keyID string, payload []byte) ([]byte, error)
	// Retire destroys every key of gun, of both roles, for good, and
	// returns how many there were. A later Key makes new ones.
	Retire(ctx context.Context, gun string) (int, error)
}

// For returns a keys.Signer that signs with key through s.
func For(s Signer, gun, role string, key *metadata.Key) keys.Signer {
	return &roleSigner{s: s, gun: gun, role: role, key: key, id: key.ID()}
}

type roleSigner struct {
	s         Signer
	gun, role string
	key       *metadata.Key
	id        string
}

func (r *roleSigner) PublicKey() keys.PublicKey { return r.key.PublicKey }
func (r *roleSigner) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	return r.s.Sign(ctx, r.gun, r.role, r.id, msg)
}

// keyJSON is the stored form of a public key: a TUF key object.
type keyJSON struct {
	KeyType string `json:"keytype"`
	Scheme  string `json:"scheme"`
	KeyVal  struct {
		Public string `json:"public"`
	} `json:"keyval"`
}

// EncodeKey returns the TUF key object of k as JSON.
func EncodeKey(k *metadata.Key) []byte {
	var j keyJSON
	j.KeyType, j.Scheme, j.KeyVal.Public = k.Type, k.Scheme, k.Value
	b, _ := json.Marshal(j)
	return b
}

// DecodeKey parses a key stored by EncodeKey.
func DecodeKey(b []byte) (*metadata.Key, error) {
	var j keyJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("stored key: %w", err)
	}
	return metadata.NewKey(keys.PublicKey{Type: j.KeyType, Scheme: j.Scheme, Value: j.KeyVal.Public}), nil
}

// KeyStore keeps the sealed keys of a [Local] signer. Every store.Store is
// one.
type KeyStore interface {
	// AddOnlineKey stores a key. With onlyIfNone, it stores nothing when
	// the repository already has a key for the role. It returns the
	// newest key for the role after the call.
	AddOnlineKey(ctx context.Context, k store.OnlineKey, onlyIfNone bool) (store.OnlineKey, error)
	// OnlineKeys returns the repository's keys for role, newest first.
	OnlineKeys(ctx context.Context, gun, role string) ([]store.OnlineKey, error)
	// SomeOnlineKeys returns up to limit keys of any repository (for
	// CheckSecret).
	SomeOnlineKeys(ctx context.Context, limit int) ([]store.OnlineKey, error)
	// DeleteOnlineKeys deletes every key of gun and returns how many there
	// were (for Retire).
	DeleteOnlineKeys(ctx context.Context, gun string) (int, error)
}

var _ KeyStore = store.Store(nil)

// Local is a Signer that keeps sealed keys in a KeyStore.
type Local struct {
	st      KeyStore
	secret  []byte
	keyType string

	mu      sync.Mutex
	signers map[string]keys.Signer // by gun NUL role NUL key ID
}

var _ Signer = (*Local)(nil)

// NewLocal returns a Local signer over st; secret seals the private keys
// and must be the same for every server sharing st.
func NewLocal(st KeyStore, secret []byte) (*Local, error) {
	if len(secret) < 32 {
		return nil, errors.New("signer: the secret must be at least 32 bytes")
	}
	return &Local{st: st, secret: secret, keyType: keys.KeyTypeEd25519, signers: map[string]keys.Signer{}}, nil
}

// LoadOrCreateSecret reads the secret in path, or writes a new random one
// (mode 0600) if the file does not exist.
func LoadOrCreateSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("online key secret %s: shorter than 32 bytes", path)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("online key secret: %w", err)
	}
	b = make([]byte, 32)
	rand.Read(b)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // created concurrently
			return LoadOrCreateSecret(path)
		}
		return nil, fmt.Errorf("online key secret: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("online key secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("online key secret: %w", err)
	}
	return b, nil
}

func checkRole(role string) error {
	if role != metadata.TypeTimestamp && role != metadata.TypeSnapshot {
		return fmt.Errorf("signer: no online keys for role %q", role)
	}
	return nil
}

// newKey generates a key and seals it.
func (l *Local) newKey(gun, role string) (store.OnlineKey, error) {
	priv, err := keys.Generate(l.keyType)
	if err != nil {
		return store.OnlineKey{}, err
	}
	s, err := keys.NewSigner(priv, "")
	if err != nil {
		return store.OnlineKey{}, err
	}
	k := metadata.NewKey(s.PublicKey())
	pemBytes, err := keys.MarshalPrivatePKCS8PEM(priv)
	if err != nil {
		return store.OnlineKey{}, err
	}
	sealed, err := l.seal(gun, role, k.ID(), pemBytes)
	if err != nil {
		return store.OnlineKey{}, err
	}
	return store.OnlineKey{GUN: gun, Role: role, KeyID: k.ID(), Public: EncodeKey(k), Private: sealed}, nil
}

const sealMagic = "rok1"

func (l *Local) aead(salt []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, l.secret, salt, "rampart online key", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func aad(gun, role, keyID string) []byte { return []byte(gun + "\x00" + role + "\x00" + keyID) }

// seal encrypts a private key: magic, 16-byte salt, 12-byte nonce, then
// the AES-GCM ciphertext, bound to the key's GUN, role and ID.
func (l *Local) seal(gun, role, keyID string, plain []byte) ([]byte, error) {
	salt := make([]byte, 16)
	rand.Read(salt)
	a, err := l.aead(salt)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, a.NonceSize())
	rand.Read(nonce)
	out := append([]byte(sealMagic), salt...)
	out = append(out, nonce...)
	return a.Seal(out, nonce, plain, aad(gun, role, keyID)), nil
}

func (l *Local) open(gun, role, keyID string, sealed []byte) ([]byte, error) {
	if len(sealed) < len(sealMagic)+16+12 || string(sealed[:len(sealMagic)]) != sealMagic {
		return nil, errors.New("sealed key: unknown format")
	}
	rest := sealed[len(sealMagic):]
	a, err := l.aead(rest[:16])
	if err != nil {
		return nil, err
	}
	nonce, ct := rest[16:16+a.NonceSize()], rest[16+a.NonceSize():]
	plain, err := a.Open(nil, nonce, ct, aad(gun, role, keyID))
	if err != nil {
		return nil, errors.New("sealed key: cannot decrypt (wrong server secret?)")
	}
	return plain, nil
}

func (l *Local) add(ctx context.Context, gun, role string, onlyIfNone bool) (*metadata.Key, error) {
	if err := checkRole(role); err != nil {
		return nil, err
	}
	k, err := l.newKey(gun, role)
	if err != nil {
		return nil, fmt.Errorf("signer: new %s key for %s: %w", role, gun, err)
	}
	got, err := l.st.AddOnlineKey(ctx, k, onlyIfNone)
	if err != nil {
		return nil, err
	}
	return DecodeKey(got.Public)
}

// Key implements Signer.
func (l *Local) Key(ctx context.Context, gun, role string) (*metadata.Key, error) {
	return l.add(ctx, gun, role, true)
}

// Rotate implements Signer.
func (l *Local) Rotate(ctx context.Context, gun, role string) (*metadata.Key, error) {
	return l.add(ctx, gun, role, false)
}

// Keys implements Signer.
func (l *Local) Keys(ctx context.Context, gun, role string) ([]*metadata.Key, error) {
	if err := checkRole(role); err != nil {
		return nil, err
	}
	stored, err := l.st.OnlineKeys(ctx, gun, role)
	if err != nil {
		return nil, err
	}
	out := make([]*metadata.Key, 0, len(stored))
	for _, k := range stored {
		mk, err := DecodeKey(k.Public)
		if err != nil {
			return nil, err
		}
		out = append(out, mk)
	}
	return out, nil
}

// CheckSecret checks that the secret opens the keys in the store (a
// sample of the newest ones), so that a server started with the wrong
// secret refuses to start rather than answer every publish with an error.
func (l *Local) CheckSecret(ctx context.Context) error {
	ks, err := l.st.SomeOnlineKeys(ctx, 16)
	if err != nil {
		return err
	}
	for _, k := range ks {
		if _, err := l.open(k.GUN, k.Role, k.KeyID, k.Private); err != nil {
			return fmt.Errorf("the secret does not open the %s key %s of %s in the store: %w", k.Role, k.KeyID, k.GUN, err)
		}
	}
	return nil
}

// Retire implements Signer: the sealed keys are deleted from the store and
// the decrypted ones dropped from memory.
func (l *Local) Retire(ctx context.Context, gun string) (int, error) {
	l.mu.Lock()
	for id := range l.signers {
		if strings.HasPrefix(id, gun+"\x00") {
			delete(l.signers, id)
		}
	}
	l.mu.Unlock()
	n, err := l.st.DeleteOnlineKeys(ctx, gun)
	if err != nil {
		return 0, fmt.Errorf("signer: retiring the keys of %s: %w", gun, err)
	}
	return n, nil
}

// Sign implements Signer. Decrypted keys are kept in memory.
func (l *Local) Sign(ctx context.Context, gun, role, keyID string, payload []byte) ([]byte, error) {
	id := gun + "\x00" + role + "\x00" + keyID
	l.mu.Lock()
	s := l.signers[id]
	l.mu.Unlock()
	if s == nil {
		stored, err := l.st.OnlineKeys(ctx, gun, role)
		if err != nil {
			return nil, err
		}
		for _, k := range stored {
			if k.KeyID != keyID {
				continue
			}
			pemBytes, err := l.open(gun, role, keyID, k.Private)
			if err != nil {
				return nil, fmt.Errorf("signer: %s key %s of %s: %w", role, keyID, gun, err)
			}
			priv, err := keys.ParsePrivatePEM(pemBytes)
			if err != nil {
				return nil, fmt.Errorf("signer: %s key %s of %s: %w", role, keyID, gun, err)
			}
			pub, err := DecodeKey(k.Public)
			if err != nil {
				return nil, err
			}
			if s, err = keys.NewSigner(priv, pub.Scheme); err != nil {
				return nil, fmt.Errorf("signer: %s key %s of %s: %w", role, keyID, gun, err)
			}
			break
		}
		if s == nil {
			return nil, fmt.Errorf("signer: no %s key %s for %s: %w", role, keyID, gun, store.ErrNotFound)
		}
		l.mu.Lock()
		l.signers[id] = s
		l.mu.Unlock()
	}
	return s.Sign(ctx, payload)
}
