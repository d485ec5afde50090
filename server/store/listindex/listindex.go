// Package listindex is the compact form in which both stores keep the
// index of target listings (store.Listing): which target content the
// metadata of a repository lists, under which path, and until when.
//
// A listing becomes a record of RecordSize bytes:
//
//	digest         8   a keyed MAC of the digest (AES CBC-MAC)
//	fingerprint   16   a keyed hash of the digest and the path
//	role          8    a keyed hash of the role's name
//	until         8    microseconds since 1970 (big-endian); 0 while listed
//
// A repository's records are kept in chunks, by the first two bytes of
// their digests' MACs (at most 65536 chunks; a million listings make
// chunks of about 15 records), each chunk one value of the store, its
// records sorted by their first 32 bytes, which are unique in it. A first
// publish of a million listings so writes 65536 values of about 600 bytes
// instead of a million keys of about 150 bytes, and a publish that
// changes a few listings rewrites a few chunks. Chunks fill evenly
// whatever the digests (only one digest listed under many paths fills
// one chunk, of its own repository).
//
// Why a fingerprint cannot be forced to collide: the hashes are SHA-256
// of a 64-byte secret key (made once per database with crypto/rand, kept
// in it and never shown) followed by the message, truncated (no hash is
// ever shown, and truncation rules out length extension); the digest's
// field is the AES CBC-MAC of the digest, under a key derived from that
// one for each digest length (CBC-MAC is a PRF for messages of one fixed
// length). Content is served under a path and digest when a record
// matches the MAC of its digest and its 128-bit fingerprint: without the
// key, whoever chooses paths and digests (even of listings they publish
// themselves) cannot compute either, and each guess matches with
// probability about n/2^128 for n records in its chunk. Collisions of
// role hashes (64 bits) only merge two roles' records of the same
// listing, which can end it early (serving less), never serve more. The
// digest's MAC alone decides what the garbage collection keeps: a
// collision (about 2^-64 for two digests) only keeps more content.
package listindex

import (
	"bytes"
	"cmp"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"iter"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/rampart-tuf/rampart/server/store"
)

// Sizes of a record, of the part of it that identifies a listing, and of
// the key.
const (
	RecordSize = 40
	idSize     = 32 // digest, fingerprint, role
	KeySize    = 64
)

// Chunks is the number of chunks a repository's records are spread over.
const Chunks = 1 << 16

const sha512Size = 64

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
	mac32 cipher.Block
	mac64 cipher.Block // the CBC-MAC keys for SHA-256 and SHA-512 digests
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
	hs := x.pool.Get().(*hasher)
	defer x.pool.Put(hs)
	for _, m := range []struct {
		size  byte
		block *cipher.Block
	}{{sha256.Size, &x.mac32}, {sha512Size, &x.mac64}} {
		hs.buf = append(hs.buf[:0], tagMAC, m.size)
		if *m.block, err = aes.NewCipher(x.sum(hs)); err != nil {
			return nil, err
		}
	}
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
	tagMAC     = 3 // followed by a digest length: the CBC-MAC key for it
)

// Digest is a digest as the index looks it up.
type Digest struct {
	raw []byte
	id  [8]byte // its MAC, the first field of its records
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
	x.digestID(d.id[:], d.raw)
	return d, true
}

// digestID writes the MAC of digest d (32 or 64 bytes) to r.
func (x *Index) digestID(r, d []byte) {
	block := x.mac32
	if len(d) == sha512Size {
		block = x.mac64
	}
	var c [aes.BlockSize]byte
	for ; len(d) > 0; d = d[aes.BlockSize:] {
		subtle.XORBytes(c[:], c[:], d[:aes.BlockSize])
		block.Encrypt(c[:], c[:])
	}
	copy(r[:8], c[:])
}

// decodeDigest is Digest's decoding, into dst's capacity.
func decodeDigest(dst []byte, digest string) ([]byte, bool) {
	if len(digest) != 2*sha256.Size && len(digest) != 2*sha512Size {
		return nil, false
	}
	d := dst[:len(digest)/2]
	bad := byte(0)
	for i := range d {
		hi, lo := unhex[digest[2*i]], unhex[digest[2*i+1]]
		bad |= hi | lo
		d[i] = hi<<4 | lo
	}
	return d, bad&0xf0 == 0
}

// unhex maps lower-case hex digits to their values, anything else to 0xff.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

// fill writes the fingerprint and role fields of the record of a listing
// to r, whose digest field is written.
func (x *Index) fill(h *hasher, r []byte, d []byte, path, role string) {
	x.fingerprint(h, r[8:24], d, path)
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

// fingerprint writes the fingerprint of (d, path) to r.
func (x *Index) fingerprint(h *hasher, r []byte, d []byte, path string) {
	h.buf = append(append(append(h.buf[:0], tagListing, byte(len(d))), d...), path...)
	copy(r[:16], x.sum(h))
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

// parallel calls fn for [lo, hi) ranges covering [0, n), on every core
// when n is large.
func parallel(n int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), 1+n/4096)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { fn(w*n/workers, (w+1)*n/workers) })
	}
	wg.Wait()
}

// Build returns the records of the listings of groups, taken in order as
// one list, in chunks sorted by ID; of listings of the same role, path and
// digest the last one counts. indexed reports whether they hold
// store.ListingsIndexed. Listings by a digest that is not a hex SHA-256 or
// SHA-512 are left out: nothing could be served by them.
//
// A million listings are placed in two passes over them, so that each
// record is written once where it goes and each chunk is sorted where it
// lies: the chunk of each (from the digest's MAC), then the records. They
// are read where they are, in their groups (one per role, as an update of
// thousands of roles makes them), never copied into one list.
func (x *Index) Build(groups ...[]store.Listing) (chunks []Chunk, indexed bool, err error) {
	ls := newListings(groups)
	ids := make([]int32, ls.n) // chunk, or -1 for none
	macs := make([]uint64, ls.n)
	parallel(ls.n, func(lo, hi int) {
		var buf [sha512Size]byte
		var id [8]byte
		ls.each(lo, hi, func(i int, l *store.Listing) {
			d, ok := decodeDigest(buf[:0], l.Digest)
			if !ok {
				ids[i] = -1
				return
			}
			x.digestID(id[:], d)
			macs[i] = binary.BigEndian.Uint64(id[:])
			ids[i] = int32(macs[i] >> 48)
		})
	})
	var bad error
	ls.each(0, ls.n, func(i int, l *store.Listing) {
		if ids[i] < 0 && bad == nil {
			indexed, bad = unindexed(l, indexed)
		}
	})
	if bad != nil {
		return nil, false, bad
	}
	// Where each record goes: a counting sort by chunk, in the order of ls.
	var start [Chunks + 1]int32
	for _, c := range ids {
		if c >= 0 {
			start[c+1]++
		}
	}
	for c := 1; c <= Chunks; c++ {
		start[c] += start[c-1]
	}
	next := start
	for i, c := range ids {
		if c >= 0 {
			ids[i] = next[c] // from here on, the record's place
			next[c]++
		}
	}
	out := make([]byte, int(start[Chunks])*RecordSize)
	parallel(ls.n, func(lo, hi int) {
		h := x.pool.Get().(*hasher)
		defer x.pool.Put(h)
		var buf [sha512Size]byte
		ls.each(lo, hi, func(i int, l *store.Listing) {
			d, ok := decodeDigest(buf[:0], l.Digest)
			if !ok {
				return
			}
			r := out[int(ids[i])*RecordSize : int(ids[i]+1)*RecordSize]
			binary.BigEndian.PutUint64(r, macs[i])
			x.fill(h, r, d, l.Path, l.Role)
			binary.BigEndian.PutUint64(r[idSize:], encodeUntil(l.Until))
		})
	})
	return chunksOf(out, &start), indexed, nil
}

// unindexed is the rule for a listing whose digest the index does not
// decode: ListingsIndexed sets indexed, a digest of a hex length that is
// not lower-case hex is an error, anything else is left out.
func unindexed(l *store.Listing, indexed bool) (bool, error) {
	switch {
	case *l == store.ListingsIndexed:
		return true, nil
	case len(l.Digest) == 2*sha256.Size || len(l.Digest) == 2*sha512Size:
		return indexed, fmt.Errorf("listing %q of %s: digest %q is not lower-case hex", l.Path, l.Role, l.Digest)
	}
	return indexed, nil
}

// chunksOf returns the chunks of out, whose records are placed by chunk,
// those of chunk c from start[c] on, each chunk sorted.
func chunksOf(out []byte, start *[Chunks + 1]int32) []Chunk {
	var chunks []Chunk
	for c := range Chunks {
		if v := out[int(start[c])*RecordSize : int(start[c+1])*RecordSize]; len(v) > 0 {
			chunks = append(chunks, Chunk{ID: uint16(c), Records: sortChunk(v)})
		}
	}
	return chunks
}

// Records are the records of a group of listings, made by Prepare ahead
// of the update that stores them (store.PreparedListings): a first
// publish of a million targets so holds 40 bytes for each while the rest
// of it is checked, not its listing, and hashes them on the cores that
// check it.
type Records struct {
	x       *Index // that made them
	recs    []byte // RecordSize each, in the order of the listings
	indexed bool   // the listings hold store.ListingsIndexed
}

// Len returns the number of records.
func (r *Records) Len() int { return len(r.recs) / RecordSize }

// PrepareListings is Prepare for a store's store.ListingPreparer: on an
// error the records are a nil interface, not a nil *Records in one.
func (x *Index) PrepareListings(ls []store.Listing) (store.PreparedListings, error) {
	r, err := x.Prepare(ls)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Prepare returns the records of ls, as Build would make them, in their
// order; it refuses what Build refuses.
func (x *Index) Prepare(ls []store.Listing) (*Records, error) {
	out := &Records{x: x, recs: make([]byte, 0, len(ls)*RecordSize)}
	h := x.pool.Get().(*hasher)
	defer x.pool.Put(h)
	var buf [sha512Size]byte
	for i := range ls {
		l := &ls[i]
		d, ok := decodeDigest(buf[:0], l.Digest)
		if !ok {
			var err error
			if out.indexed, err = unindexed(l, out.indexed); err != nil {
				return nil, err
			}
			continue
		}
		out.add(h, d, l.Path, l.Role, encodeUntil(l.Until))
	}
	return out, nil
}

// PrepareListed is Prepare for the listings by role, with Until zero, of
// each path and raw digest that all yields (n is a hint of how many), as
// Prepare would make them of their hex digests, without them: digests of
// another length than SHA-256's or SHA-512's are left out.
func (x *Index) PrepareListed(role string, n int, all iter.Seq2[string, []byte]) *Records {
	out := &Records{x: x, recs: make([]byte, 0, n*RecordSize)}
	h := x.pool.Get().(*hasher)
	defer x.pool.Put(h)
	for path, d := range all {
		if len(d) == sha256.Size || len(d) == sha512Size {
			out.add(h, d, path, role, 0)
		}
	}
	return out
}

// add appends the record of a listing of digest d (raw) to r.
func (r *Records) add(h *hasher, d []byte, path, role string, until uint64) {
	at := len(r.recs)
	r.recs = append(r.recs, make([]byte, RecordSize)...)
	rec := r.recs[at:]
	r.x.digestID(rec[:8], d)
	r.x.fill(h, rec, d, path, role)
	binary.BigEndian.PutUint64(rec[idSize:], until)
}

// BuildUpdate is Build for the listings of an update: those it holds as
// listings, then those prepared (by this Index's Prepare), in order.
func (x *Index) BuildUpdate(u *store.Update) (chunks []Chunk, indexed bool, err error) {
	if len(u.Prepared) == 0 {
		return x.Build(u.AllListings()...)
	}
	var rs []*Records
	for _, g := range u.AllListings() {
		r, err := x.Prepare(g)
		if err != nil {
			return nil, false, err
		}
		rs = append(rs, r)
	}
	for i, p := range u.Prepared {
		r, ok := p.(*Records)
		if !ok || r.x != x {
			return nil, false, fmt.Errorf("prepared listings %d were not made by this store's index", i)
		}
		rs = append(rs, r)
	}
	return x.place(rs)
}

// place returns the records of rs, taken in order as one list, in chunks
// sorted by ID: a counting sort by chunk, then each chunk sorted where it
// lies. Each core places the records of a range of chunks.
func (x *Index) place(rs []*Records) (chunks []Chunk, indexed bool, err error) {
	var start [Chunks + 1]int32
	n := 0
	for _, r := range rs {
		indexed = indexed || r.indexed
		for i := 0; i < len(r.recs); i += RecordSize {
			start[int(binary.BigEndian.Uint16(r.recs[i:]))+1]++
		}
		n += r.Len()
	}
	for c := 1; c <= Chunks; c++ {
		start[c] += start[c-1]
	}
	next := start
	out := make([]byte, int(start[Chunks])*RecordSize)
	workers := min(runtime.GOMAXPROCS(0), 1+n/4096)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*Chunks/workers, (w+1)*Chunks/workers
		wg.Go(func() {
			for _, r := range rs {
				for i := 0; i < len(r.recs); i += RecordSize {
					if c := int(binary.BigEndian.Uint16(r.recs[i:])); c >= lo && c < hi {
						copy(out[int(next[c])*RecordSize:], r.recs[i:i+RecordSize])
						next[c]++
					}
				}
			}
		})
	}
	wg.Wait()
	return chunksOf(out, &start), indexed, nil
}

// listings is groups of listings taken as one list.
type listings struct {
	groups [][]store.Listing
	start  []int // of each group in the list
	n      int
}

func newListings(groups [][]store.Listing) listings {
	ls := listings{groups: groups, start: make([]int, len(groups))}
	for g, gr := range groups {
		ls.start[g] = ls.n
		ls.n += len(gr)
	}
	return ls
}

// each calls fn for the listings from lo to hi (not included) of the list,
// with their places in it.
func (ls listings) each(lo, hi int, fn func(i int, l *store.Listing)) {
	g := sort.Search(len(ls.start), func(g int) bool { return ls.start[g] > lo }) - 1
	for i := lo; i < hi && g < len(ls.groups); g++ {
		gr := ls.groups[g]
		for j := i - ls.start[g]; j < len(gr) && i < hi; j++ {
			fn(i, &gr[j])
			i++
		}
	}
}

// sortChunk sorts the records of v by id, stable, in place, and returns
// them without those that a later one of the same listing replaces.
func sortChunk(v []byte) []byte {
	var tmp [RecordSize]byte
	less := func(a, b []byte) bool {
		if x, y := binary.BigEndian.Uint64(a), binary.BigEndian.Uint64(b); x != y {
			return x < y // almost always
		}
		return bytes.Compare(a[:idSize], b[:idSize]) < 0
	}
	n := len(v) / RecordSize
	if n > 64 {
		recs := make([][RecordSize]byte, n)
		for i := range recs {
			copy(recs[i][:], v[i*RecordSize:])
		}
		slices.SortStableFunc(recs, func(a, b [RecordSize]byte) int {
			return cmp.Or(cmp.Compare(binary.BigEndian.Uint64(a[:]), binary.BigEndian.Uint64(b[:])), bytes.Compare(a[:idSize], b[:idSize]))
		})
		for i := range recs {
			copy(v[i*RecordSize:], recs[i][:])
		}
	} else {
		for i := 1; i < n; i++ { // insertion sort: stable
			for j := i; j > 0 && less(v[j*RecordSize:(j+1)*RecordSize], v[(j-1)*RecordSize:j*RecordSize]); j-- {
				a, b := v[(j-1)*RecordSize:j*RecordSize], v[j*RecordSize:(j+1)*RecordSize]
				copy(tmp[:], a)
				copy(a, b)
				copy(b, tmp[:])
			}
		}
	}
	m := 0
	for i := 0; i < n; i++ {
		r := v[i*RecordSize : (i+1)*RecordSize]
		if i+1 < n && bytes.Equal(r[:idSize], v[(i+1)*RecordSize:(i+1)*RecordSize+idSize]) {
			continue // a later one of the same listing counts
		}
		copy(v[m*RecordSize:], r)
		m++
	}
	return v[: m*RecordSize : m*RecordSize]
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
	x.fingerprint(h, id[8:], d.raw, path)
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

// KeptByAny reports whether content with the digests ds (its SHA-256 and
// SHA-512) is kept from the garbage collection: whether a record by any of
// them is live after cutoff (see Kept). chunk returns the records of the
// chunk with the given ID.
func KeptByAny(chunk func(id uint16) []byte, cutoff time.Time, ds ...Digest) (bool, error) {
	for _, d := range ds {
		kept, err := Kept(chunk(d.Chunk()), d, cutoff)
		if err != nil {
			return false, fmt.Errorf("chunk %04x: %w", d.Chunk(), err)
		}
		if kept {
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
