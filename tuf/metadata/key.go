package metadata

import (
	"crypto/sha256"
	"encoding/hex"
	"sync/atomic"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// Key is a TUF key object: the key type, scheme and public value, plus any
// members this version of the format does not know, which are part of the
// key's ID and are written back unchanged.
type Key struct {
	keys.PublicKey
	Unknown    canonjson.Fields // unknown members of the key object
	ValUnknown canonjson.Fields // unknown members of "keyval"

	verifier atomic.Pointer[verifierResult]
}

type verifierResult struct {
	v   keys.Verifier
	err error
}

// NewKey returns the key object for a public key.
func NewKey(pk keys.PublicKey) *Key { return &Key{PublicKey: pk} }

// ID returns the key ID: the hex SHA-256 of the key object's canonical form.
func (k *Key) ID() string {
	sum := sha256.Sum256(k.canonical())
	return hex.EncodeToString(sum[:])
}

func (k *Key) canonical() []byte {
	w := canonjson.NewWriter(256)
	k.encode(w)
	return w.Bytes()
}

// Verifier returns the key's signature verifier, built once and cached.
func (k *Key) Verifier() (keys.Verifier, error) {
	if r := k.verifier.Load(); r != nil {
		return r.v, r.err
	}
	v, err := keys.NewVerifier(k.PublicKey)
	k.verifier.Store(&verifierResult{v, err})
	return v, err
}

// Clone returns a copy of k.
func (k *Key) Clone() *Key {
	return &Key{PublicKey: k.PublicKey, Unknown: k.Unknown.Clone(), ValUnknown: k.ValUnknown.Clone()}
}

func (k *Key) encode(w *canonjson.Writer) {
	w.BeginObject()
	i := w.Fields(k.Unknown, 0, "keytype")
	w.Name("keytype")
	w.String(k.Type)
	i = w.Fields(k.Unknown, i, "keyval")
	w.Name("keyval")
	w.BeginObject()
	j := w.Fields(k.ValUnknown, 0, "public")
	w.Name("public")
	w.String(k.Value)
	w.FieldsRest(k.ValUnknown, j)
	w.EndObject()
	i = w.Fields(k.Unknown, i, "scheme")
	w.Name("scheme")
	w.String(k.Scheme)
	w.FieldsRest(k.Unknown, i)
	w.EndObject()
}

// maxKeyValue bounds the size of a key's public value (an RSA certificate
// chain fits easily).
const maxKeyValue = 64 << 10

// decodeKey reads a key object and returns it with its ID, computed from the
// canonical bytes read.
func decodeKey(r *canonjson.Reader) (*Key, string, error) {
	raw, err := r.Raw()
	if err != nil {
		return nil, "", err
	}
	kr := canonjson.NewReader(raw)
	k := &Key{}
	var seen uint8
	err = kr.Object(func(name []byte) error {
		var err error
		switch string(name) {
		case "keytype":
			seen |= 1
			k.Type, err = kr.String()
			return in("keytype", err)
		case "scheme":
			seen |= 2
			k.Scheme, err = kr.String()
			return in("scheme", err)
		case "keyval":
			seen |= 4
			return in("keyval", kr.Object(func(name []byte) error {
				if string(name) == "public" {
					seen |= 8
					k.Value, err = kr.String()
					if err == nil && len(k.Value) > maxKeyValue {
						err = invalid("public key value of %d bytes exceeds %d", len(k.Value), maxKeyValue)
					}
					return in("public", err)
				}
				v, err := kr.Raw()
				k.ValUnknown.Add(string(name), v)
				return inKey(string(name), err)
			}))
		}
		v, err := kr.Raw()
		k.Unknown.Add(string(name), v)
		return inKey(string(name), err)
	})
	if err != nil {
		return nil, "", err
	}
	switch {
	case seen&1 == 0:
		return nil, "", invalid("missing keytype")
	case seen&2 == 0:
		return nil, "", invalid("missing scheme")
	case seen&4 == 0:
		return nil, "", invalid("missing keyval")
	case seen&8 == 0:
		return nil, "", in("keyval", invalid("missing public"))
	}
	sum := sha256.Sum256(raw)
	return k, hex.EncodeToString(sum[:]), nil
}

// decodeKeys reads a map of key ID to key and checks that every key ID is
// the key's own, as the specification requires.
func decodeKeys(r *canonjson.Reader) (map[string]*Key, error) {
	m := make(map[string]*Key)
	err := r.Object(func(name []byte) error {
		id := string(name)
		k, computed, err := decodeKey(r)
		if err != nil {
			return inKey(id, err)
		}
		if computed != id {
			return inKey(id, invalid("key ID does not match the key (its ID is %s)", computed))
		}
		m[id] = k
		return nil
	})
	return m, err
}

func encodeKeys(w *canonjson.Writer, m map[string]*Key) {
	w.BeginObject()
	for _, id := range sortedKeys(m) {
		w.Name(id)
		m[id].encode(w)
	}
	w.EndObject()
}
