package keystore

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"sync"
)

// DerivedKeys remembers the keys Argon2id derived from passphrases while
// key files were opened, by the passphrase and the KDF's parameters and
// salt. The files an Encrypter writes (a new repository's keys) share
// their salt, so a command that opens several of them with LoadWith
// derives the key once instead of once a file: the costly step that the
// KDF puts in an attacker's way is unchanged, since each file's salt and
// parameters are its own and a key is reused only for the same ones. The
// zero value is ready to use, and safe for concurrent use but for Clear,
// which overwrites the keys it holds once no load is using it.
type DerivedKeys struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*derived
}

type derived struct {
	once sync.Once
	key  []byte
}

// key returns a copy of the key kdf derives from passphrase, derived at
// most once for d (always, for a nil d). Concurrent calls for the same
// key wait for one derivation.
func (d *DerivedKeys) key(kdf kdfParams, passphrase []byte) []byte {
	if d == nil {
		return kdf.key(passphrase)
	}
	id := derivedID(kdf, passphrase)
	d.mu.Lock()
	if d.m == nil {
		d.m = map[[sha256.Size]byte]*derived{}
	}
	e := d.m[id]
	if e == nil {
		e = &derived{}
		d.m[id] = e
	}
	d.mu.Unlock()
	e.once.Do(func() { e.key = kdf.key(passphrase) })
	return slices.Clone(e.key)
}

// derivedID names a derivation: a hash of the KDF's name, costs and salt
// and of the passphrase, each with its length.
func derivedID(kdf kdfParams, passphrase []byte) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, b := range [][]byte{[]byte(kdf.Name), kdf.Salt, passphrase} {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	for _, v := range []uint32{kdf.Time, kdf.MemoryKiB, uint32(kdf.Threads)} {
		binary.BigEndian.PutUint32(n[:4], v)
		h.Write(n[:4])
	}
	var id [sha256.Size]byte
	h.Sum(id[:0])
	return id
}

// Clear overwrites and forgets the keys d holds.
func (d *DerivedKeys) Clear() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range d.m {
		e.once.Do(func() {}) // a derivation not started never will be
		clear(e.key)
	}
	d.m = nil
}
