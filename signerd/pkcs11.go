package signerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/rampart-tuf/rampart/internal/atomicfile"
	"github.com/rampart-tuf/rampart/keystore"
	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// PKCS11Config configures [OpenPKCS11].
type PKCS11Config struct {
	// Module is the absolute path of the token's PKCS#11 library.
	Module string
	// TokenLabel is the label of the token.
	TokenLabel string
	// Dir holds the index of keys (pkcs11-keys.json), which has no secret.
	Dir string
	// PIN supplies the user PIN when RAMPART_PKCS11_PIN is not set.
	PIN keystore.PassphraseFunc
}

const pkcs11IndexFormat = "rampart-signer-pkcs11-v1"

// pkcs11Index is DIR/pkcs11-keys.json: which token key belongs to which
// GUN and role, oldest first.
type pkcs11Index struct {
	Format     string        `json:"format"`
	TokenLabel string        `json:"token_label"`
	Keys       []pkcs11Entry `json:"keys"`
}

type pkcs11Entry struct {
	GUN      string          `json:"gun"`
	Role     string          `json:"role"`
	KeyLabel string          `json:"key_label"`    // CKA_LABEL
	TokenID  string          `json:"token_key_id"` // CKA_ID, hex
	Public   json.RawMessage `json:"public"`       // TUF key object
	key      *metadata.Key
}

// PKCS11 is the PKCS#11 back end: ECDSA P-256 keys generated on a token
// (through [keystore.GeneratePKCS11]), never leaving it. The directory
// holds only an index of the keys' labels and public keys; losing it
// loses track of the keys, not their secrecy. One process at a time may
// use a directory.
type PKCS11 struct {
	cfg  PKCS11Config
	path string

	mu      sync.Mutex
	index   pkcs11Index
	signers map[string]keystore.Signer // by TUF key ID
}

var _ signer.Signer = (*PKCS11)(nil)

// OpenPKCS11 opens the PKCS#11 back end. It reads the index in cfg.Dir
// (creating the directory if needed) and opens the token on first use.
func OpenPKCS11(cfg PKCS11Config) (*PKCS11, error) {
	switch {
	case cfg.Dir == "":
		return nil, errors.New("signerd: no data directory")
	case cfg.Module == "" || !filepath.IsAbs(cfg.Module):
		return nil, fmt.Errorf("signerd: PKCS#11 module %q must be an absolute path", cfg.Module)
	case cfg.TokenLabel == "":
		return nil, errors.New("signerd: no PKCS#11 token label")
	}
	if cfg.PIN == nil {
		cfg.PIN = func(string) ([]byte, error) {
			return nil, fmt.Errorf("set %s to the token's user PIN", keystore.EnvPKCS11PIN)
		}
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("signerd: data directory: %w", err)
	}
	p := &PKCS11{cfg: cfg, path: filepath.Join(cfg.Dir, "pkcs11-keys.json"), signers: map[string]keystore.Signer{}}
	p.index = pkcs11Index{Format: pkcs11IndexFormat, TokenLabel: cfg.TokenLabel}
	b, err := os.ReadFile(p.path)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("signerd: %w", err)
	}
	if err := json.Unmarshal(b, &p.index); err != nil {
		return nil, fmt.Errorf("signerd: %s: %w", p.path, err)
	}
	if p.index.Format != pkcs11IndexFormat {
		return nil, fmt.Errorf("signerd: %s: format %q, want %q", p.path, p.index.Format, pkcs11IndexFormat)
	}
	if p.index.TokenLabel != cfg.TokenLabel {
		return nil, fmt.Errorf("signerd: %s indexes keys of token %q, not %q", p.path, p.index.TokenLabel, cfg.TokenLabel)
	}
	for i := range p.index.Keys {
		e := &p.index.Keys[i]
		if e.key, err = signer.DecodeKey(e.Public); err != nil {
			return nil, fmt.Errorf("signerd: %s: %w", p.path, err)
		}
	}
	return p, nil
}

func (p *PKCS11) tokenKey(e *pkcs11Entry) keystore.PKCS11Key {
	return keystore.PKCS11Key{Module: p.cfg.Module, TokenLabel: p.cfg.TokenLabel, KeyLabel: e.KeyLabel, KeyID: e.TokenID}
}

// keysLocked returns the keys of gun's role, newest first.
func (p *PKCS11) keysLocked(gun, role string) []*metadata.Key {
	var out []*metadata.Key
	for i := len(p.index.Keys) - 1; i >= 0; i-- {
		if e := &p.index.Keys[i]; e.GUN == gun && e.Role == role {
			out = append(out, e.key)
		}
	}
	return out
}

func (p *PKCS11) add(ctx context.Context, gun, role string, onlyIfNone bool) (*metadata.Key, error) {
	if role != metadata.TypeTimestamp && role != metadata.TypeSnapshot {
		return nil, fmt.Errorf("signerd: no online keys for role %q", role)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ks := p.keysLocked(gun, role); onlyIfNone && len(ks) > 0 {
		return ks[0], nil
	}
	suffix := make([]byte, 8)
	rand.Read(suffix)
	e := pkcs11Entry{GUN: gun, Role: role, KeyLabel: "rampart " + role + " " + hex.EncodeToString(suffix)}
	s, tk, err := keystore.GeneratePKCS11(ctx, p.tokenKey(&e), "ecdsa", p.cfg.PIN)
	if err != nil {
		return nil, fmt.Errorf("signerd: new %s key for %s: %w", role, gun, err)
	}
	e.TokenID = tk.KeyID
	e.key = metadata.NewKey(s.PublicKey())
	e.Public = signer.EncodeKey(e.key)
	next := p.index
	next.Keys = append(append([]pkcs11Entry(nil), p.index.Keys...), e)
	if err := writeIndex(p.path, &next); err != nil {
		s.Close()
		return nil, fmt.Errorf("signerd: new %s key for %s (left on the token as %q): %w", role, gun, e.KeyLabel, err)
	}
	p.index = next
	p.signers[e.key.ID()] = s
	return e.key, nil
}

// Key implements signer.Signer.
func (p *PKCS11) Key(ctx context.Context, gun, role string) (*metadata.Key, error) {
	return p.add(ctx, gun, role, true)
}

// Rotate implements signer.Signer.
func (p *PKCS11) Rotate(ctx context.Context, gun, role string) (*metadata.Key, error) {
	return p.add(ctx, gun, role, false)
}

// Keys implements signer.Signer.
func (p *PKCS11) Keys(_ context.Context, gun, role string) ([]*metadata.Key, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keysLocked(gun, role), nil
}

// Sign implements signer.Signer. A key's token session stays open until
// Close.
func (p *PKCS11) Sign(ctx context.Context, gun, role, keyID string, payload []byte) ([]byte, error) {
	p.mu.Lock()
	var e *pkcs11Entry
	for i := range p.index.Keys {
		if k := &p.index.Keys[i]; k.GUN == gun && k.Role == role && k.key.ID() == keyID {
			e = k
		}
	}
	if e == nil {
		p.mu.Unlock()
		return nil, fmt.Errorf("signerd: no %s key %s for %s: %w", role, keyID, gun, store.ErrNotFound)
	}
	s := p.signers[keyID]
	if s == nil {
		var err error
		if s, err = keystore.OpenPKCS11(ctx, p.tokenKey(e), p.cfg.PIN); err != nil {
			p.mu.Unlock()
			return nil, fmt.Errorf("signerd: %s key %s of %s: %w", role, keyID, gun, err)
		}
		if s.PublicKey() != e.key.PublicKey {
			s.Close()
			p.mu.Unlock()
			return nil, fmt.Errorf("signerd: the token key labelled %q is not %s key %s of %s", e.KeyLabel, role, keyID, gun)
		}
		p.signers[keyID] = s
	}
	p.mu.Unlock()
	return s.Sign(ctx, payload)
}

// Retire implements signer.Signer: the keys are destroyed on the token
// and taken out of the index.
func (p *PKCS11) Retire(ctx context.Context, gun string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	next := p.index
	next.Keys = nil
	var doomed []*pkcs11Entry
	for i := range p.index.Keys {
		if e := &p.index.Keys[i]; e.GUN == gun {
			doomed = append(doomed, e)
		} else {
			next.Keys = append(next.Keys, *e)
		}
	}
	if len(doomed) == 0 {
		return 0, nil
	}
	for _, e := range doomed {
		if s := p.signers[e.key.ID()]; s != nil {
			s.Close()
			delete(p.signers, e.key.ID())
		}
		if err := keystore.DestroyPKCS11(ctx, p.tokenKey(e), p.cfg.PIN); err != nil {
			return 0, fmt.Errorf("signerd: destroying %s key %s of %s: %w", e.Role, e.key.ID(), gun, err)
		}
	}
	if err := writeIndex(p.path, &next); err != nil {
		return 0, fmt.Errorf("signerd: the keys of %s are destroyed on the token but still in the index: %w", gun, err)
	}
	p.index = next
	return len(doomed), nil
}

// Close closes the token sessions.
func (p *PKCS11) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for id, s := range p.signers {
		errs = append(errs, s.Close())
		delete(p.signers, id)
	}
	return errors.Join(errs...)
}

// writeIndex replaces the index atomically.
func writeIndex(path string, idx *pkcs11Index) error {
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o600)
}
