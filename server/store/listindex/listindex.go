// Package listindex is the compact form in which both stores keep the
// index of target listings (store.Listing): which target content the
// metadata of a repository lists, under which path, and until when.
//
// A listing becomes a record of RecordSize bytes:
//
//	digest         8   a keyed hash of the digest
//	fingerprint   16   a keyed hash of the digest and the path
//	role          8    a keyed hash of the role's name
//	until         8    microseconds since 1970 (big-endian); 0 while listed
//
// A repository's records are kept in chunks, by the first two bytes of
// their digests' hashes (at most 65536 chunks; a million listings make chunks of
// about 15 records), each chunk one value of the store, its records
// sorted by their first 32 bytes, which are unique in it. A first publish
// of a million listings so writes 65536 values of about 600 bytes
// instead of a million keys of about 150 bytes, and a publish that
// changes a few listings rewrites a few chunks.
//
// Why a fingerprint cannot be forced to collide: the hashes are SHA-256
// of a 64-byte secret key (made once per database with crypto/rand, kept
// in it and never sent anywhere) followed by the message, truncated.
// Content is served under a path and digest when a record matches the
// hash of its digest and its 128-bit fingerprint; without the key,
// whoever chooses paths and digests (even of listings they publish
// themselves) cannot compute a single hash, and each guess matches with
// probability about n/2^128 for n records in its chunk. Nor can they make
// a chunk large. Collisions of role hashes (64 bits) only merge two
// roles' records of the same listing, which can end it early (serving
// less), never serve more. The digest's hash alone decides what the
// garbage collection keeps: a collision (about 2^-64 for two digests)
// only keeps more content.
package listindex

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/rampart-tuf/rampart/server/store"
)

// Sizes of a record, of the part of it that identifies a listing, and of
// the key.
const (
	RecordSize = 40
	idSize     = 32 // digest prefix, fingerprint, role
	KeySize    = 64
)

// Chunks is the number of chunks a repository's records are spread over.
const Chunks = 1 << 16

// NewKey returns a new random key for an index.
func NewKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("listings index key: %w", err)
	}
	return k, nil
}

// Index computes and reads records with one key.
type Index struct {
	state []byte // SHA-256 state after the key, to start each hash from
	pool  sync.Pool
}

// New returns the Index of a key made by NewKey.
func New(key []byte) (*Index, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("listings index key: %d bytes, want %d", len(key), KeySize)
	}
	h := sha256.New()
	h.Write(key)
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, err
	}
	x := &Index{state: state}
	x.pool.New = func() any { return &hasher{h: sha256.New(), roles: map[string][8]byte{}} }
	return x, nil
}

type hasher struct {
	h     hash.Hash
	buf   []byte
	sum   []byte
	roles map[string][8]byte // hashes of the roles seen
}

// sum returns SHA-256(key || h.buf), in h.sum.
func (x *Index) sum(h *hasher) []byte {
	if err := h.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(x.state); err != nil {
		panic(err) // the state was marshaled by the same package
	}
	h.h.Write(h.buf)
	h.sum = h.h.Sum(h.sum[:0])
	return h.sum
}

const (
	tagListing = 1 // followed by the digest's length, the digest, the path
	tagRole    = 2 // followed by the role's name
	tagDigest  = 3 // followed by the digest's length, the digest
)

// Digest is a digest as the index looks it up.
type Digest struct {
	raw []byte
	id  [8]byte // its hash, the first field of its records
}

// Chunk returns the chunk that holds the records of the digest.
func (d Digest) Chunk() uint16 { return binary.BigEndian.Uint16(d.id[:]) }

// Digest decodes a hex digest the index keeps listings by: SHA-256 or
// SHA-512, in lower-case hex. ok is false for anything else, which the
// server never serves.
func (x *Index) Digest(digest string) (d Digest, ok bool) {
	if d.raw, ok = decodeDigest(make([]byte, 0, sha512Size), digest); !ok {
		return d, false
	}
	h := x.pool.Get().(*hasher)
	x.digestID(h, d.id[:], d.raw)
	x.pool.Put(h)
	return d, true
}

// digestID writes the hash of digest d to r.
func (x *Index) digestID(h *hasher, r, d []byte) {
	h.buf = append(append(h.buf[:0], tagDigest, byte(len(d))), d...)
	copy(r[:8], x.sum(h))
}

// decodeDigest is Digest, decoding into dst's capacity.
func decodeDigest(dst []byte, digest string) ([]byte, bool) {
	if len(digest) != 2*sha256.Size && len(digest) != 2*sha512Size {
		return nil, false
	}
	d := dst[:len(digest)/2]
	for i := range d {
		hi, ok1 := unhex(digest[2*i])
		lo, ok2 := unhex(digest[2*i+1])
		if !ok1 || !ok2 {
			return nil, false
		}
		d[i] = hi<<4 | lo
	}
	return d, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

const sha512Size = 64

// id writes the first idSize bytes of the record of a listing to r.
func (x *Index) id(h *hasher, r []byte, d []byte, path, role string) {
	x.content(h, r, d, path)
	sum, ok := h.roles[role]
	if !ok {
		if len(h.roles) > 1<<16 {
			clear(h.roles)
		}
		h.buf = append(append(h.buf[:0], tagRole), role...)
		copy(sum[:], x.sum(h))
		h.roles[role] = sum
	}
	copy(r[24:32], sum[:])
}

// content writes the digest's hash and the fingerprint of (d, path) to
// r.
func (x *Index) content(h *hasher, r []byte, d []byte, path string) {
	x.digestID(h, r, d)
	h.buf = append(append(append(h.buf[:0], tagListing, byte(len(d))), d...), path...)
	copy(r[8:24], x.sum(h))
}

func encodeUntil(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(max(t.UnixMicro(), 1)) // before 1970: ended long ago
}

// live reports whether a record is listed at t (its role's current version
// lists it, or it is served until after t).
func live(r []byte, at time.Time) bool {
	u := binary.BigEndian.Uint64(r[idSize:RecordSize])
	return u == 0 || time.UnixMicro(int64(u)).After(at)
}

// Chunk is the records of one chunk, sorted and unique.
type Chunk struct {
	ID      uint16
	Records []byte
}

// Build returns the records of ls, in chunks sorted by ID; of listings of
// the same role, path and digest the last one counts. indexed reports
// whether ls holds store.ListingsIndexed. Listings by a digest that is not
// a hex SHA-256 or SHA-512 are left out: nothing could be served by them.
func (x *Index) Build(ls []store.Listing) (chunks []Chunk, indexed bool, err error) {
	recs := make([]byte, len(ls)*RecordSize)
	ids := make([]int32, len(ls)) // chunk, or -1 for none
	// Hashing a million listings is most of the work: spread it.
	workers := min(runtime.GOMAXPROCS(0), 1+len(ls)/4096)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			h := x.pool.Get().(*hasher)
			defer x.pool.Put(h)
			var buf [sha512Size]byte
			for i := w * len(ls) / workers; i < (w+1)*len(ls)/workers; i++ {
				l := &ls[i]
				d, ok := decodeDigest(buf[:0], l.Digest)
				if !ok {
					ids[i] = -1
					continue
				}
				r := recs[i*RecordSize : (i+1)*RecordSize]
				x.id(h, r, d, l.Path, l.Role)
				binary.BigEndian.PutUint64(r[idSize:], encodeUntil(l.Until))
				ids[i] = int32(binary.BigEndian.Uint16(r))
			}
		})
	}
	wg.Wait()
	for i, l := range ls {
		if ids[i] >= 0 {
			continue
		}
		if l == store.ListingsIndexed {
			indexed = true
		} else if len(l.Digest) == 2*sha256.Size || len(l.Digest) == 2*sha512Size {
			return nil, false, fmt.Errorf("listing %q of %s: digest %q is not lower-case hex", l.Path, l.Role, l.Digest)
		}
	}
	return group(recs, ids), indexed, nil
}

// group sorts the records into their chunks: a counting sort by chunk of
// their indexes, then each chunk's few records by id, stable, keeping the
// last of equal ids; only the output is copied.
func group(recs []byte, ids []int32) []Chunk {
	var start [Chunks + 1]int32
	for _, c := range ids {
		if c >= 0 {
			start[c+1]++
		}
	}
	for c := 1; c <= Chunks; c++ {
		start[c] += start[c-1]
	}
	order := make([]int32, start[Chunks])
	next := start
	for i, c := range ids {
		if c >= 0 {
			order[next[c]] = int32(i)
			next[c]++
		}
	}
	rec := func(i int32) []byte { return recs[int(i)*RecordSize : int(i+1)*RecordSize] }
	out := make([]byte, 0, len(order)*RecordSize)
	var chunks []Chunk
	for c := range Chunks {
		is := order[start[c]:start[c+1]]
		if len(is) == 0 {
			continue
		}
		slices.SortStableFunc(is, func(a, b int32) int {
			ra, rb := rec(a), rec(b)
			if c := cmp.Compare(binary.BigEndian.Uint64(ra), binary.BigEndian.Uint64(rb)); c != 0 {
				return c // almost always
			}
			return bytes.Compare(ra[:idSize], rb[:idSize])
		})
		from := len(out)
		for j, i := range is {
			if j+1 < len(is) && bytes.Equal(rec(i)[:idSize], rec(is[j+1])[:idSize]) {
				continue // a later one of the same listing counts
			}
			out = append(out, rec(i)...)
		}
		chunks = append(chunks, Chunk{ID: uint16(c), Records: out[from:len(out):len(out)]})
	}
	return chunks
}

// ErrCorrupt reports a stored chunk that is not a whole number of records.
var ErrCorrupt = errors.New("listings index: corrupt chunk")

func check(v []byte) error {
	if len(v)%RecordSize != 0 {
		return fmt.Errorf("%w: %d bytes", ErrCorrupt, len(v))
	}
	return nil
}

// Merge returns the chunk old (as stored, nil for none) with the records
// of upd (from Build) added, or replacing those of the same listing: upd
// itself when old is empty.
func Merge(old, upd []byte) ([]byte, error) {
	if err := check(old); err != nil {
		return nil, err
	}
	if len(old) == 0 {
		return upd, nil
	}
	out := make([]byte, 0, len(old)+len(upd))
	for len(old) > 0 || len(upd) > 0 {
		switch {
		case len(upd) == 0:
			out, old = append(out, old...), nil
		case len(old) == 0:
			out, upd = append(out, upd...), nil
		default:
			switch c := bytes.Compare(old[:idSize], upd[:idSize]); {
			case c < 0:
				out, old = append(out, old[:RecordSize]...), old[RecordSize:]
			case c > 0:
				out, upd = append(out, upd[:RecordSize]...), upd[RecordSize:]
			default:
				out, old, upd = append(out, upd[:RecordSize]...), old[RecordSize:], upd[RecordSize:]
			}
		}
	}
	return out, nil
}

// search returns the records of chunk v whose first n bytes are prefix.
func search(v, prefix []byte) []byte {
	n := len(v) / RecordSize
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(v[m*RecordSize:m*RecordSize+len(prefix)], prefix) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	end := lo
	for end < n && bytes.Equal(v[end*RecordSize:end*RecordSize+len(prefix)], prefix) {
		end++
	}
	return v[lo*RecordSize : end*RecordSize]
}

// Listed reports whether chunk v (d's, as stored; nil for none) lists
// content by digest d under path at the time at: whether a record of some
// role matches and is live then.
func (x *Index) Listed(v []byte, d Digest, path string, at time.Time) (bool, error) {
	if err := check(v); err != nil {
		return false, err
	}
	h := x.pool.Get().(*hasher)
	var id [24]byte
	copy(id[:8], d.id[:])
	h.buf = append(append(append(h.buf[:0], tagListing, byte(len(d.raw))), d.raw...), path...)
	copy(id[8:], x.sum(h))
	x.pool.Put(h)
	for rs := search(v, id[:24]); len(rs) > 0; rs = rs[RecordSize:] {
		if live(rs, at) {
			return true, nil
		}
	}
	return false, nil
}

// Kept reports whether chunk v (d's) keeps content with digest d from the
// garbage collection: whether a record with its digest is live after
// cutoff.
func Kept(v []byte, d Digest, cutoff time.Time) (bool, error) {
	if err := check(v); err != nil {
		return false, err
	}
	for rs := search(v, d.id[:]); len(rs) > 0; rs = rs[RecordSize:] {
		if live(rs, cutoff) {
			return true, nil
		}
	}
	return false, nil
}

// Prune returns chunk v without the records that ended before cutoff,
// and whether there were any.
func Prune(v []byte, cutoff time.Time) ([]byte, bool, error) {
	if err := check(v); err != nil {
		return nil, false, err
	}
	var out []byte
	changed := false
	for i := 0; i < len(v); i += RecordSize {
		r := v[i : i+RecordSize]
		if binary.BigEndian.Uint64(r[idSize:]) != 0 && !live(r, cutoff) {
			if !changed {
				out, changed = append([]byte(nil), v[:i]...), true
			}
			continue
		}
		if changed {
			out = append(out, r...)
		}
	}
	if !changed {
		return v, false, nil
	}
	return out, true, nil
}

// Ending returns the earliest time a record of chunk v ends, and false
// when every record is listed by a current version.
func Ending(v []byte) (time.Time, bool) {
	var first uint64
	for i := 0; i+RecordSize <= len(v); i += RecordSize {
		if u := binary.BigEndian.Uint64(v[i+idSize:]); u != 0 && (first == 0 || u < first) {
			first = u
		}
	}
	return time.UnixMicro(int64(first)).UTC(), first != 0
}
