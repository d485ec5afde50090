package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rampart-tuf/rampart/agent"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// ErrNoKey is returned by LoadSigner for a key that the agent does not hold
// and whose file is not there.
var ErrNoKey = errors.New("the key is not in the agent, and its file is not there")

// LoadSigner is where Rampart loads a signing key: the key of ID id whose
// private key file is path. When RAMPART_AGENT_SOCK names a rampart agent
// that holds the key, the agent signs, and the file is not read (it need
// not even be there); otherwise ks loads the file. An empty id means the
// ID of the public key path holds, read without a passphrase. A key
// neither in the agent nor readable on disk is an error wrapping ErrNoKey. Every command
// that signs loads its keys here.
func LoadSigner(ctx context.Context, ks KeyStore, id, path string) (keys.Signer, error) {
	if id == "" && agent.FromEnv() != nil {
		pk, err := ks.ReadPublic(path)
		if err != nil {
			return nil, err
		}
		id = KeyID(pk)
	}
	if id != "" {
		s, err := agent.SignerFromEnv(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", shortID(id), err)
		}
		if s != nil {
			return s, nil
		}
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoKey, err)
	}
	return ks.Load(ctx, path)
}

// KeyStore creates and reads key files. The rampart CLI passes the
// keystore package's encrypted files; the library takes any implementation,
// such as one backed by a hardware token.
type KeyStore interface {
	// Create generates a new key and writes it to dir as NAME.key
	// (private) and NAME.pub (public), returning the public key.
	Create(ctx context.Context, dir, name string) (keys.PublicKey, error)
	// Load reads the private key file at path.
	Load(ctx context.Context, path string) (keys.Signer, error)
	// ReadPublic reads a public key file, or the public half of a private
	// key file.
	ReadPublic(path string) (keys.PublicKey, error)
}

// PlainKeyStore keeps private keys as unencrypted PKCS #8 PEM files
// (mode 0600) and public keys as TUF key objects in JSON. It is meant for
// tests and for keys protected by other means (an encrypted disk, a
// secrets manager); the CLI uses the encrypted keystore instead.
type PlainKeyStore struct {
	// KeyType is the kind of key Create makes (keys.Generate's names);
	// empty means ed25519.
	KeyType string
}

// Create implements KeyStore.
func (s PlainKeyStore) Create(ctx context.Context, dir, name string) (keys.PublicKey, error) {
	kt := s.KeyType
	if kt == "" {
		kt = keys.KeyTypeEd25519
	}
	priv, err := keys.Generate(kt)
	if err != nil {
		return keys.PublicKey{}, err
	}
	signer, err := keys.NewSigner(priv, "")
	if err != nil {
		return keys.PublicKey{}, err
	}
	pemBytes, err := keys.MarshalPrivatePKCS8PEM(priv)
	if err != nil {
		return keys.PublicKey{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return keys.PublicKey{}, err
	}
	keyPath := filepath.Join(dir, name+".key")
	if _, err := os.Stat(keyPath); err == nil {
		return keys.PublicKey{}, fmt.Errorf("%s already exists: refusing to overwrite a key", keyPath)
	}
	if err := writeAtomic(keyPath, pemBytes, 0o600); err != nil {
		return keys.PublicKey{}, err
	}
	pk := signer.PublicKey()
	if err := writeAtomic(filepath.Join(dir, name+".pub"), EncodePublicKey(pk), 0o644); err != nil {
		return keys.PublicKey{}, err
	}
	return pk, nil
}

// Load implements KeyStore.
func (PlainKeyStore) Load(ctx context.Context, path string) (keys.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	priv, err := keys.ParsePrivatePEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys.NewSigner(priv, "")
}

// ReadPublic implements KeyStore.
func (s PlainKeyStore) ReadPublic(path string) (keys.PublicKey, error) {
	if strings.HasSuffix(path, ".key") {
		pub := strings.TrimSuffix(path, ".key") + ".pub"
		if _, err := os.Stat(pub); err == nil {
			path = pub
		} else {
			signer, err := s.Load(context.Background(), path)
			if err != nil {
				return keys.PublicKey{}, err
			}
			return signer.PublicKey(), nil
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return keys.PublicKey{}, err
	}
	return DecodePublicKey(data)
}

// EncodePublicKey writes pk as a TUF key object.
func EncodePublicKey(pk keys.PublicKey) []byte {
	b, _ := json.MarshalIndent(publicKeyJSON{Type: pk.Type, Scheme: pk.Scheme, Val: struct {
		Public string `json:"public"`
	}{pk.Value}}, "", "  ")
	return append(b, '\n')
}

type publicKeyJSON struct {
	Type   string `json:"keytype"`
	Scheme string `json:"scheme"`
	Val    struct {
		Public string `json:"public"`
	} `json:"keyval"`
}

// DecodePublicKey reads a TUF key object.
func DecodePublicKey(data []byte) (keys.PublicKey, error) {
	var k publicKeyJSON
	if err := json.Unmarshal(data, &k); err != nil || k.Type == "" || k.Val.Public == "" {
		return keys.PublicKey{}, fmt.Errorf("not a public key file (want a TUF key object with keytype, scheme and keyval.public)")
	}
	pk := keys.PublicKey{Type: k.Type, Scheme: k.Scheme, Value: k.Val.Public}
	if _, err := keys.NewVerifier(pk); err != nil {
		return keys.PublicKey{}, err
	}
	return pk, nil
}

// KeyID returns the TUF key ID of pk.
func KeyID(pk keys.PublicKey) string { return metadata.NewKey(pk).ID() }

// shortID shortens a key ID for messages.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
