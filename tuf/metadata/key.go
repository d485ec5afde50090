package metadata

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
	listedAs string // the key ID a parsed document listed the key under
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
	return &Key{PublicKey: k.PublicKey, Unknown: k.Unknown.Clone(), ValUnknown: k.ValUnknown.Clone(), listedAs: k.listedAs}
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

// maxKeyIDLen bounds a key ID that is not the key's hash.
const maxKeyIDLen = 256

// decodeKeys reads a map of key ID to key. A key ID is the name the
// document gives the key: see checkKeyIDs for what is accepted.
func decodeKeys(r *canonjson.Reader) (map[string]*Key, error) {
	m := make(map[string]*Key)
	named := false // some key ID is not its key's hash
	err := r.Object(func(name []byte) error {
		id := string(name)
		k, computed, err := decodeKey(r)
		if err != nil {
			return inKey(id, err)
		}
		k.listedAs = id
		m[id] = k
		if computed != id {
			named = true
			return inKey(id, checkOpaqueKeyID(id))
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case named:
		return m, checkKeyIDs(m, false)
	}
	return m, nil
}

// checkOpaqueKeyID checks a key ID that is not its key's hash: a name,
// printable and bounded, since it ends up in error messages.
func checkOpaqueKeyID(id string) error {
	if id == "" || len(id) > maxKeyIDLen {
		return invalid("key ID of %d bytes is not the key's hash and not a name of 1 to %d bytes", len(id), maxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return invalid("key ID %q is not the key's hash and not printable ASCII", id)
		}
	}
	return nil
}

// checkKeyIDs checks the key IDs of one document. Strictly, every key ID is
// the hash of its key, as the specification requires. Otherwise a key ID is
// an opaque name, as python-tuf, go-tuf and TAP 12 treat it: the same key
// may be listed under several IDs (a threshold counts it once), but an ID
// that is the hash of one key listed in the document may not name another:
// "two different keys under one ID" is refused in both modes.
func checkKeyIDs(m map[string]*Key, strict bool) error {
	for _, id := range sortedKeys(m) {
		hash := m[id].ID()
		if hash == id {
			continue
		}
		if strict {
			return inKey(id, &KeyIDError{ID: id, Hash: hash})
		}
		if other, ok := m[hash]; ok && other.ID() != hash {
			return inKey(hash, invalid("names a different key than the one listed as %q, whose hash it is: one key ID for two keys", id))
		}
	}
	return nil
}

// KeyIDError is a key ID that is not the hash of its key, refused by the
// strict key ID rule (CheckKeyIDs).
type KeyIDError struct {
	ID   string // the key ID the document lists
	Hash string // the key's hash, its ID under the specification
}

func (e *KeyIDError) Error() string {
	return fmt.Sprintf("key ID does not match the key (its ID is %s; refused by the strict key ID rule)", e.Hash)
}

// CheckKeyIDs applies the specification's strict rule to the keys of a
// root document or of delegations: every key ID must be the SHA-256 of the
// key's canonical form. Parsing does not require it (see the package
// documentation); a client that wants the strict rule calls this on every
// root and targets document it trusts.
func CheckKeyIDs[T Role](m *Metadata[T]) error {
	doc := m.Signed.common().Type + " metadata"
	var err error
	switch d := any(m.Signed).(type) {
	case *Root:
		err = in("signed", in("keys", checkKeyIDs(d.Keys, true)))
	case *Targets:
		if d.Delegations != nil {
			err = in("signed", in("delegations", in("keys", checkKeyIDs(d.Delegations.Keys, true))))
		}
	}
	return docError(doc, err)
}

// validKeyID reports whether a document built in memory may list k under
// id: its hash, or the ID it was read under (kept, never made up).
func validKeyID(id string, k *Key) error {
	if got := k.ID(); got != id && id != k.listedAs {
		return inKey(id, invalid("key ID does not match the key (its ID is %s)", got))
	}
	return nil
}

func encodeKeys(w *canonjson.Writer, m map[string]*Key) {
	w.BeginObject()
	for _, id := range sortedKeys(m) {
		w.Name(id)
		m[id].encode(w)
	}
	w.EndObject()
}
