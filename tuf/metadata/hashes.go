package metadata

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
)

// Hashes holds the digests of a file. The supported algorithms are sha256
// and sha512; metadata naming any other algorithm is rejected.
type Hashes struct {
	SHA256 []byte
	SHA512 []byte
}

// IsZero reports whether no digest is set.
func (h Hashes) IsZero() bool { return h.SHA256 == nil && h.SHA512 == nil }

// Equal reports whether h and o hold the same digests.
func (h Hashes) Equal(o Hashes) bool {
	return bytes.Equal(h.SHA256, o.SHA256) && bytes.Equal(h.SHA512, o.SHA512)
}

// HashesOf computes the sha256 digest of data (and sha512 when withSHA512).
func HashesOf(data []byte, withSHA512 bool) Hashes {
	s := sha256.Sum256(data)
	h := Hashes{SHA256: s[:]}
	if withSHA512 {
		s := sha512.Sum512(data)
		h.SHA512 = s[:]
	}
	return h
}

// HashMismatchError reports content whose digest differs from metadata.
type HashMismatchError struct {
	Algorithm string
	Want, Got []byte
}

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("%s hash mismatch: metadata says %x, content has %x", e.Algorithm, e.Want, e.Got)
}

// Verify checks data against every digest in h. Empty hashes are an error:
// there is nothing to check against.
func (h Hashes) Verify(data []byte) error {
	v := h.NewVerifier()
	v.Write(data)
	return v.Check()
}

// A HashVerifier hashes content as it is written and checks it against the
// expected digests.
type HashVerifier struct {
	want       Hashes
	h256, h512 hash.Hash
}

// NewVerifier returns a HashVerifier for h.
func (h Hashes) NewVerifier() *HashVerifier {
	v := &HashVerifier{want: h}
	if h.SHA256 != nil {
		v.h256 = sha256.New()
	}
	if h.SHA512 != nil {
		v.h512 = sha512.New()
	}
	return v
}

// Write hashes p. It never fails.
func (v *HashVerifier) Write(p []byte) (int, error) {
	if v.h256 != nil {
		v.h256.Write(p)
	}
	if v.h512 != nil {
		v.h512.Write(p)
	}
	return len(p), nil
}

var _ io.Writer = (*HashVerifier)(nil)

// Check reports whether the content written matches every expected digest.
func (v *HashVerifier) Check() error {
	if v.h256 == nil && v.h512 == nil {
		return fmt.Errorf("no supported hash to check against")
	}
	if v.h256 != nil {
		if got := v.h256.Sum(nil); !bytes.Equal(got, v.want.SHA256) {
			return &HashMismatchError{"sha256", v.want.SHA256, got}
		}
	}
	if v.h512 != nil {
		if got := v.h512.Sum(nil); !bytes.Equal(got, v.want.SHA512) {
			return &HashMismatchError{"sha512", v.want.SHA512, got}
		}
	}
	return nil
}

func (h Hashes) encode(w *canonjson.Writer) {
	w.BeginObject()
	if h.SHA256 != nil {
		w.Name("sha256")
		w.Hex(h.SHA256)
	}
	if h.SHA512 != nil {
		w.Name("sha512")
		w.Hex(h.SHA512)
	}
	w.EndObject()
}

func (h Hashes) validate() error {
	if h.IsZero() {
		return invalid("no hashes")
	}
	if h.SHA256 != nil && len(h.SHA256) != sha256.Size {
		return inKey("sha256", invalid("digest is %d bytes, want %d", len(h.SHA256), sha256.Size))
	}
	if h.SHA512 != nil && len(h.SHA512) != sha512.Size {
		return inKey("sha512", invalid("digest is %d bytes, want %d", len(h.SHA512), sha512.Size))
	}
	return nil
}

// arena hands out small byte slices carved from larger blocks, so that
// decoding 100,000 digests costs a few allocations instead of 100,000.
// Blocks double in size up to 64 KiB, so that a small document does not
// pay for a large block.
type arena struct {
	block []byte
	next  int // size of the next block
}

// nextBlock returns the size of the next block of an arena that needs n
// bytes and last made one of *next bytes.
func nextBlock(next *int, n int) int {
	size := max(*next, 1<<10)
	*next = min(2*size, 64<<10)
	return max(size, n)
}

func (a *arena) alloc(n int) []byte {
	if n > 4096 {
		return make([]byte, n)
	}
	if len(a.block) < n {
		a.block = make([]byte, nextBlock(&a.next, n))
	}
	b := a.block[:n:n]
	a.block = a.block[n:]
	return b
}

func decodeHashes(r *canonjson.Reader, a *arena) (Hashes, error) {
	var h Hashes
	if err := r.EnterObject(); err != nil {
		return h, err
	}
	for {
		name, ok, err := r.NextMember()
		if err != nil {
			return h, err
		}
		if !ok {
			break
		}
		var dst *[]byte
		var size int
		switch string(name) {
		case "sha256":
			dst, size = &h.SHA256, sha256.Size
		case "sha512":
			dst, size = &h.SHA512, sha512.Size
		default:
			return h, invalid("unsupported hash algorithm %q (supported: sha256, sha512)", name)
		}
		algo := string(name)
		s, err := r.Bytes()
		if err != nil {
			return h, inKey(algo, err)
		}
		if len(s) != 2*size {
			return h, inKey(algo, invalid("digest has %d hex digits, want %d", len(s), 2*size))
		}
		if !lowerHex(s) {
			// Encode writes lowercase: a digest in capitals would not
			// survive a round trip through this package.
			return h, inKey(algo, invalid("digest %q is not lowercase hex", s))
		}
		b := a.alloc(size)
		if _, err := hex.Decode(b, s); err != nil {
			return h, inKey(algo, invalid("digest is not hex: %v", err))
		}
		*dst = b
	}
	if h.IsZero() {
		return h, invalid("no hashes")
	}
	return h, nil
}

// MetaFile describes a metadata file in snapshot or timestamp metadata.
type MetaFile struct {
	Version int64
	Length  int64  // 0 when not given
	Hashes  Hashes // zero when not given
	Unknown canonjson.Fields
}

func (m MetaFile) encode(w *canonjson.Writer) {
	w.BeginObject()
	i := 0
	if !m.Hashes.IsZero() {
		i = w.Fields(m.Unknown, i, "hashes")
		w.Name("hashes")
		m.Hashes.encode(w)
	}
	if m.Length != 0 {
		i = w.Fields(m.Unknown, i, "length")
		w.Name("length")
		w.Int(m.Length)
	}
	i = w.Fields(m.Unknown, i, "version")
	w.Name("version")
	w.Int(m.Version)
	w.FieldsRest(m.Unknown, i)
	w.EndObject()
}

func (m MetaFile) validate() error {
	if m.Version < 1 {
		return in("version", invalid("version %d is less than 1", m.Version))
	}
	if m.Length < 0 {
		return in("length", invalid("length %d is negative", m.Length))
	}
	if !m.Hashes.IsZero() {
		if err := m.Hashes.validate(); err != nil {
			return in("hashes", err)
		}
	}
	return nil
}

func decodeMetaFile(r *canonjson.Reader, a *arena) (MetaFile, error) {
	var m MetaFile
	hasVersion, hasLength := false, false
	err := r.Object(func(name []byte) error {
		var err error
		switch string(name) {
		case "version":
			hasVersion = true
			m.Version, err = r.Int()
			return in("version", err)
		case "length":
			hasLength = true
			m.Length, err = r.Int()
			return in("length", err)
		case "hashes":
			m.Hashes, err = decodeHashes(r, a)
			return in("hashes", err)
		}
		v, err := r.Raw()
		m.Unknown.Add(string(name), v)
		return inKey(string(name), err)
	})
	if err != nil {
		return m, err
	}
	if !hasVersion {
		return m, invalid("missing version")
	}
	if hasLength && m.Length <= 0 {
		return m, in("length", invalid("length %d is not positive", m.Length))
	}
	return m, m.validate()
}

func decodeMetaMap(r *canonjson.Reader, a *arena) (map[string]MetaFile, error) {
	meta := make(map[string]MetaFile)
	err := r.Object(func(name []byte) error {
		m, err := decodeMetaFile(r, a)
		if err != nil {
			return inKey(string(name), err)
		}
		meta[string(name)] = m
		return nil
	})
	return meta, err
}

func encodeMetaMap(w *canonjson.Writer, meta map[string]MetaFile) {
	w.BeginObject()
	for _, name := range sortedKeys(meta) {
		w.Name(name)
		meta[name].encode(w)
	}
	w.EndObject()
}

// lowerHex reports whether s holds only the digits 0-9 and a-f.
func lowerHex(s []byte) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
