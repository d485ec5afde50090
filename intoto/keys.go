package intoto

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/in-toto/in-toto-golang/in_toto"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// MaxKeySize bounds a public key file.
const MaxKeySize = 64 << 10

// defaultKeyIDHashAlgorithms is what securesystemslib puts in every key
// object it hashes into a key ID.
var defaultKeyIDHashAlgorithms = []string{"sha256", "sha512"}

// ParsePublicKey reads a public key in one of securesystemslib's file
// formats: a JSON key object (in-toto-keygen's ed25519 and ecdsa ".pub"
// files: ed25519 with a hex value, ecdsa with a PEM value; rsa with a PEM
// value as layouts embed it) or a PEM
// "PUBLIC KEY" (in-toto-keygen's RSA ".pub" files, scheme
// rsassa-pss-sha256). The key ID is the one securesystemslib computes: the
// SHA-256 of the key object's canonical JSON with its keytype, scheme,
// keyid_hash_algorithms and public value, in which a PEM's newlines stay raw.
func ParsePublicKey(data []byte) (in_toto.Key, error) {
	if len(data) > MaxKeySize {
		return in_toto.Key{}, fmt.Errorf("key file of %d bytes exceeds %d", len(data), MaxKeySize)
	}
	trimmed := bytes.TrimSpace(data)
	switch {
	case bytes.HasPrefix(trimmed, []byte("{")):
		return parseJSONKey(trimmed)
	case bytes.HasPrefix(trimmed, []byte("-----BEGIN")):
		return parsePEMKey(trimmed)
	}
	return in_toto.Key{}, errors.New("not a securesystemslib public key: neither a JSON key object nor a PEM public key")
}

// jsonKey is a securesystemslib key object.
type jsonKey struct {
	KeyType             *string  `json:"keytype"`
	Scheme              *string  `json:"scheme"`
	KeyIDHashAlgorithms []string `json:"keyid_hash_algorithms"`
	KeyID               string   `json:"keyid"`
	KeyVal              *struct {
		Public  *string `json:"public"`
		Private string  `json:"private"`
	} `json:"keyval"`
}

func parseJSONKey(data []byte) (in_toto.Key, error) {
	var jk jsonKey
	if err := json.Unmarshal(data, &jk); err != nil {
		return in_toto.Key{}, fmt.Errorf("JSON key: %w", err)
	}
	switch {
	case jk.KeyType == nil:
		return in_toto.Key{}, errors.New("JSON key: no keytype")
	case jk.Scheme == nil:
		return in_toto.Key{}, errors.New("JSON key: no scheme")
	case jk.KeyVal == nil || jk.KeyVal.Public == nil:
		return in_toto.Key{}, errors.New("JSON key: no keyval.public")
	case jk.KeyVal.Private != "":
		return in_toto.Key{}, errors.New("JSON key: holds a private key; give the public key (.pub) file")
	}
	if jk.KeyIDHashAlgorithms == nil {
		jk.KeyIDHashAlgorithms = defaultKeyIDHashAlgorithms
	}
	pk := keys.PublicKey{Type: *jk.KeyType, Scheme: *jk.Scheme, Value: *jk.KeyVal.Public}
	switch {
	case pk.Type == keys.KeyTypeEd25519 && pk.Scheme == keys.SchemeEd25519:
	case (pk.Type == keys.KeyTypeECDSA || pk.Type == keys.KeyTypeRSA) && strings.HasPrefix(pk.Value, "-----BEGIN"):
	case pk.Type == keys.KeyTypeECDSA || pk.Type == keys.KeyTypeRSA:
		return in_toto.Key{}, fmt.Errorf("JSON key: an %s key's public value must be PEM", pk.Type)
	default:
		return in_toto.Key{}, fmt.Errorf("JSON key: keytype %q with scheme %q is not an in-toto key type (ed25519, ecdsa, rsa)", pk.Type, pk.Scheme)
	}
	k, err := newKey(pk, jk.KeyIDHashAlgorithms)
	if err != nil {
		return in_toto.Key{}, err
	}
	if jk.KeyID != "" && jk.KeyID != k.KeyID {
		return in_toto.Key{}, fmt.Errorf("JSON key: keyid %s does not match the key, whose ID is %s", jk.KeyID, k.KeyID)
	}
	return k, nil
}

func parsePEMKey(data []byte) (in_toto.Key, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return in_toto.Key{}, errors.New("PEM key: no PEM block")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return in_toto.Key{}, errors.New("PEM key: data after the PEM block")
	}
	if block.Type != "PUBLIC KEY" {
		return in_toto.Key{}, fmt.Errorf("PEM key: a %q block, want a PUBLIC KEY", block.Type)
	}
	// securesystemslib keeps the PEM text as read, from its first line to
	// its last, as the key's public value.
	pk := keys.PublicKey{Type: keys.KeyTypeRSA, Scheme: keys.SchemeRSAPSSSHA256, Value: string(data)}
	return newKey(pk, defaultKeyIDHashAlgorithms)
}

// newKey checks the key material with tuf/keys and computes the key ID.
func newKey(pk keys.PublicKey, hashAlgs []string) (in_toto.Key, error) {
	if _, err := keys.NewVerifier(pk); err != nil {
		return in_toto.Key{}, err
	}
	algs, err := canonjson.Marshal(hashAlgs)
	if err != nil {
		return in_toto.Key{}, err
	}
	mk := metadata.NewKey(pk)
	mk.Unknown.Add("keyid_hash_algorithms", algs)
	return in_toto.Key{
		KeyID:               mk.ID(),
		KeyIDHashAlgorithms: hashAlgs,
		KeyType:             pk.Type,
		Scheme:              pk.Scheme,
		KeyVal:              in_toto.KeyVal{Public: pk.Value},
	}, nil
}
