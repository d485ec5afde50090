package listindex_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/listindex"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func newIndex(t testing.TB) *listindex.Index {
	t.Helper()
	key, err := listindex.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	x, err := listindex.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// store is an index kept in a map of chunks, as the stores keep it.
type chunks map[uint16][]byte

func (c chunks) put(t *testing.T, x *listindex.Index, ls ...store.Listing) {
	t.Helper()
	built, _, err := x.Build(ls)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range built {
		v, err := listindex.Merge(c[ch.ID], ch.Records)
		if err != nil {
			t.Fatal(err)
		}
		c[ch.ID] = v
	}
}

func (c chunks) listed(t *testing.T, x *listindex.Index, digest, path string, at time.Time) bool {
	t.Helper()
	d, ok := x.Digest(digest)
	if !ok {
		return false
	}
	got, err := x.Listed(c[d.Chunk()], d, path, at)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (c chunks) kept(t *testing.T, x *listindex.Index, digest string, cutoff time.Time) bool {
	t.Helper()
	d, ok := x.Digest(digest)
	if !ok {
		t.Fatalf("digest %q refused", digest)
	}
	got, err := listindex.Kept(c[d.Chunk()], d, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func digest(c byte) string { return strings.Repeat(string(c), 64) }

// TestIndex: records are found by their path and digest only, replaced by
// later records of the same listing, live until their end; Kept looks at
// the digest alone; Prune drops what ended.
func TestIndex(t *testing.T) {
	x := newIndex(t)
	c := chunks{}
	c.put(t, x,
		store.Listing{Role: "targets", Path: "a", Digest: digest('a')},
		store.Listing{Role: "targets", Path: "b", Digest: digest('b'), Until: t0},
		store.Listing{Role: "bins-1", Path: "b", Digest: digest('b'), Until: t0.Add(time.Hour)},
		store.Listing{Role: "targets", Path: "c", Digest: digest('c')},
		store.Listing{Role: "targets", Path: "c", Digest: digest('c'), Until: t0}, // the later one counts
		store.Listing{Role: "targets", Path: "e", Digest: strings.Repeat("e", 128)},
	)
	for _, tc := range []struct {
		digest, path string
		at           time.Time
		want         bool
	}{
		{digest('a'), "a", t0, true},
		{digest('a'), "b", t0, false},
		{digest('b'), "a", t0, false},
		{digest('b'), "b", t0.Add(30 * time.Minute), true}, // bins-1's end
		{digest('b'), "b", t0.Add(time.Hour), false},
		{digest('c'), "c", t0.Add(-time.Microsecond), true},
		{digest('c'), "c", t0, false},
		{strings.Repeat("e", 128), "e", t0, true},
		{strings.Repeat("e", 64), "e", t0, false},
		{digest('d'), "a", t0, false},
	} {
		if got := c.listed(t, x, tc.digest, tc.path, tc.at); got != tc.want {
			t.Errorf("Listed(%.4s, %q, %s) = %v, want %v", tc.digest, tc.path, tc.at, got, tc.want)
		}
	}
	// Listed again by a later update.
	c.put(t, x, store.Listing{Role: "targets", Path: "c", Digest: digest('c')})
	if !c.listed(t, x, digest('c'), "c", t0.Add(time.Hour)) {
		t.Error("a listing ended and listed again is not listed")
	}
	for _, tc := range []struct {
		digest string
		cutoff time.Time
		want   bool
	}{
		{digest('a'), t0, true},
		{digest('b'), t0.Add(59 * time.Minute), true},
		{digest('b'), t0.Add(time.Hour), false},
		{digest('d'), t0, false},
	} {
		if got := c.kept(t, x, tc.digest, tc.cutoff); got != tc.want {
			t.Errorf("Kept(%.4s, %s) = %v, want %v", tc.digest, tc.cutoff, got, tc.want)
		}
	}
	// Pruning at t0+30m drops targets' record of b only.
	for id, v := range c {
		nv, changed, err := listindex.Prune(v, t0.Add(30*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if changed != (len(nv) != len(v)) {
			t.Errorf("chunk %04x: Prune reports changed %v, %d → %d bytes", id, changed, len(v), len(nv))
		}
		if end, ok := listindex.Ending(nv); ok && end.Before(t0.Add(30*time.Minute)) {
			t.Errorf("chunk %04x ends at %s after pruning", id, end)
		}
		c[id] = nv
	}
	if !c.listed(t, x, digest('b'), "b", t0.Add(30*time.Minute)) || c.listed(t, x, digest('b'), "b", t0.Add(time.Hour)) {
		t.Error("pruning changed what is listed after the cutoff")
	}
}

// TestKeyed: the records depend on the key: another index finds none of
// them, and no record holds the path or the digest.
func TestKeyed(t *testing.T) {
	x, y := newIndex(t), newIndex(t)
	l := store.Listing{Role: "targets", Path: "packages/some-file.tar.gz", Digest: digest('7')}
	cx, cy := chunks{}, chunks{}
	cx.put(t, x, l)
	cy.put(t, y, l)
	if !cx.listed(t, x, l.Digest, l.Path, t0) || !cy.listed(t, y, l.Digest, l.Path, t0) {
		t.Fatal("a listing is not found with its own key")
	}
	for id, v := range cx {
		d, _ := y.Digest(l.Digest)
		if got, err := y.Listed(v, d, l.Path, t0); err != nil || got {
			t.Errorf("another key finds the listing in chunk %04x: %v, %v", id, got, err)
		}
		if bytes.Contains(v, []byte("some-file")) || bytes.Contains(v, bytes.Repeat([]byte{0x77}, 8)) {
			t.Errorf("chunk %04x holds the path or the digest: %x", id, v)
		}
	}
}

// TestBuildDigests: listings by digests that are neither SHA-256 nor
// SHA-512 hex are left out, a digest of that length that is not
// lower-case hex is an error, and store.ListingsIndexed is reported.
func TestBuildDigests(t *testing.T) {
	x := newIndex(t)
	chunks, indexed, err := x.Build([]store.Listing{
		{Role: "targets", Path: "short", Digest: "abcd"},
		{Role: "targets", Path: "empty"},
		store.ListingsIndexed,
	})
	if err != nil || len(chunks) != 0 || !indexed {
		t.Errorf("Build = %d chunks, indexed %v, %v; want none, indexed", len(chunks), indexed, err)
	}
	for _, bad := range []string{strings.Repeat("g", 64), strings.Repeat("A", 128)} {
		if _, _, err := x.Build([]store.Listing{{Role: "targets", Path: "p", Digest: bad}}); err == nil {
			t.Errorf("Build with digest %.8s...: no error", bad)
		}
	}
	if _, err := listindex.New(make([]byte, 32)); err == nil {
		t.Error("New with a 32-byte key: no error")
	}
}

// TestCorruptChunk: a stored chunk that is not whole records is an error,
// never read past.
func TestCorruptChunk(t *testing.T) {
	x := newIndex(t)
	bad := make([]byte, listindex.RecordSize+1)
	d, _ := x.Digest(digest('a'))
	if _, err := x.Listed(bad, d, "a", t0); !errors.Is(err, listindex.ErrCorrupt) {
		t.Errorf("Listed: %v", err)
	}
	if _, err := listindex.Kept(bad, d, t0); !errors.Is(err, listindex.ErrCorrupt) {
		t.Errorf("Kept: %v", err)
	}
	if _, err := listindex.Merge(bad, nil); !errors.Is(err, listindex.ErrCorrupt) {
		t.Errorf("Merge: %v", err)
	}
	if _, _, err := listindex.Prune(bad, t0); !errors.Is(err, listindex.ErrCorrupt) {
		t.Errorf("Prune: %v", err)
	}
}

// TestCollisionAttempt lists one digest under 10,000 paths, which puts
// every record in one chunk, and asks for that digest under 200,000 paths
// that are not listed, near misses of the listed ones among them: none is
// listed. (A forced collision would need the key: see the package doc.)
func TestCollisionAttempt(t *testing.T) {
	x := newIndex(t)
	c := chunks{}
	d := digest('5')
	var ls []store.Listing
	for i := range 10000 {
		ls = append(ls, store.Listing{Role: "targets", Path: fmt.Sprintf("dir/file-%d", i), Digest: d})
	}
	c.put(t, x, ls...)
	if len(c) != 1 {
		t.Fatalf("one digest's records are in %d chunks", len(c))
	}
	for i := range 200000 {
		var p string
		switch i % 4 {
		case 0:
			p = fmt.Sprintf("dir/file-%d", 10000+i)
		case 1:
			p = fmt.Sprintf("dir/file-%d ", i%10000)
		case 2:
			p = fmt.Sprintf("Dir/file-%d", i%10000)
		default:
			p = fmt.Sprintf("dir/file-%d\x00", i%10000)
		}
		if c.listed(t, x, d, p, t0) {
			t.Fatalf("%q is listed", p)
		}
	}
	if !c.listed(t, x, d, "dir/file-9999", t0) {
		t.Error("a listed path is not listed")
	}
}

// TestBuildGroups: listings given in groups (empty ones among them, and
// groups cut across the workers' ranges) build the same chunks as the same
// listings in one list, the last of a repeated listing counting across
// groups, and a bad digest in a late group is refused.
func TestBuildGroups(t *testing.T) {
	x := newIndex(t)
	var all []store.Listing
	for i := range 20000 {
		all = append(all, store.Listing{Role: fmt.Sprintf("bins-%d", i%7), Path: fmt.Sprintf("p/%d", i), Digest: fmt.Sprintf("%064x", i)})
	}
	// The same listing again, replaced: only the last (until t0) counts.
	all = append(all, store.Listing{Role: "bins-0", Path: "p/0", Digest: fmt.Sprintf("%064x", 0), Until: t0}, store.ListingsIndexed)
	var groups [][]store.Listing
	groups = append(groups, nil)
	for lo, size := 0, 1; lo < len(all); lo, size = lo+size, size*2+1 {
		groups = append(groups, all[lo:min(lo+size, len(all))], []store.Listing{})
	}
	want, wantIndexed, err := x.Build(all)
	if err != nil {
		t.Fatal(err)
	}
	got, indexed, err := x.Build(groups...)
	if err != nil {
		t.Fatal(err)
	}
	if !wantIndexed || !indexed {
		t.Errorf("indexed = %v in groups, %v in one list; want both true", indexed, wantIndexed)
	}
	if len(got) != len(want) {
		t.Fatalf("%d chunks from groups, %d from one list", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || !bytes.Equal(got[i].Records, want[i].Records) {
			t.Fatalf("chunk %d (%04x) differs between groups and one list", i, want[i].ID)
		}
	}
	c := chunks{}
	c.put(t, x, all...)
	if c.listed(t, x, fmt.Sprintf("%064x", 0), "p/0", t0.Add(time.Second)) {
		t.Error("p/0 listed after the Until of its last listing")
	}
	bad := []store.Listing{{Role: "bins-1", Path: "q", Digest: strings.Repeat("A", 64)}}
	if _, _, err := x.Build(append(groups, bad)...); err == nil || !strings.Contains(err.Error(), `"q"`) {
		t.Errorf("upper-case digest in the last group: err = %v, want a refusal naming it", err)
	}
}

// TestBuildUpdatePrepared: listings prepared ahead of an update (Prepare)
// become the chunks Build makes of the same listings, in the same order,
// after the update's own listings; Prepare refuses what Build refuses, and
// an index takes no records another index made.
func TestBuildUpdatePrepared(t *testing.T) {
	x := newIndex(t)
	var groups [][]store.Listing
	for g := range 50 {
		var ls []store.Listing
		for i := range 300 {
			ls = append(ls, store.Listing{Role: fmt.Sprintf("bins-%d", g), Path: fmt.Sprintf("p/%d/%d", g, i), Digest: fmt.Sprintf("%064x", g*1000+i%250)})
		}
		groups = append(groups, ls)
	}
	// A later group replaces a listing of an earlier one, and one with a
	// digest the index does not keep is left out.
	groups = append(groups, []store.Listing{{Role: "bins-0", Path: "p/0/0", Digest: fmt.Sprintf("%064x", 0), Until: t0}, {Role: "bins-0", Path: "x", Digest: "md5"}})
	own := []store.Listing{store.ListingsIndexed}
	want, wantIndexed, err := x.Build(append([][]store.Listing{own}, groups...)...)
	if err != nil {
		t.Fatal(err)
	}
	u := &store.Update{Listings: own}
	for _, g := range groups {
		r, err := x.Prepare(g)
		if err != nil {
			t.Fatal(err)
		}
		u.Prepared = append(u.Prepared, r)
	}
	got, indexed, err := x.BuildUpdate(u)
	if err != nil {
		t.Fatal(err)
	}
	if indexed != wantIndexed || !indexed {
		t.Errorf("indexed = %v prepared, %v built; want both true", indexed, wantIndexed)
	}
	if len(got) != len(want) {
		t.Fatalf("%d chunks prepared, %d built", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || !bytes.Equal(got[i].Records, want[i].Records) {
			t.Fatalf("chunk %d (%04x) differs between prepared and built", i, want[i].ID)
		}
	}
	bad := []store.Listing{{Role: "bins-1", Path: "q", Digest: strings.Repeat("A", 64)}}
	if _, err := x.Prepare(bad); err == nil || !strings.Contains(err.Error(), `"q"`) {
		t.Errorf("upper-case digest: Prepare err = %v, want a refusal naming it", err)
	}
	other := newIndex(t)
	if _, _, err := other.BuildUpdate(u); err == nil {
		t.Error("an index took records another index prepared")
	}
}

// TestPrepareListed: records made from raw digests are those Prepare makes
// of the same listings by hex digests; digests of other lengths are left
// out.
func TestPrepareListed(t *testing.T) {
	x := newIndex(t)
	type listing struct {
		path   string
		digest []byte
	}
	var all []listing
	var ls []store.Listing
	for i := range 500 {
		d := bytes.Repeat([]byte{byte(i)}, 32+32*(i%2))
		all = append(all, listing{fmt.Sprintf("p/%d", i), d})
		ls = append(ls, store.Listing{Role: "bins-7", Path: fmt.Sprintf("p/%d", i), Digest: hex.EncodeToString(d)})
	}
	all = append(all, listing{"short", []byte{1, 2, 3}})
	got := x.PrepareListed("bins-7", len(all), func(yield func(string, []byte) bool) {
		for _, l := range all {
			if !yield(l.path, l.digest) {
				return
			}
		}
	})
	want, err := x.Prepare(ls)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != 500 || want.Len() != 500 {
		t.Fatalf("%d records from raw digests, %d from hex; want 500", got.Len(), want.Len())
	}
	a, _, err := x.BuildUpdate(&store.Update{Prepared: []store.PreparedListings{got}})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := x.BuildUpdate(&store.Update{Prepared: []store.PreparedListings{want}})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("%d chunks from raw digests, %d from hex", len(a), len(b))
	}
	for i := range a {
		if a[i].ID != b[i].ID || !bytes.Equal(a[i].Records, b[i].Records) {
			t.Fatalf("chunk %04x differs between raw and hex digests", a[i].ID)
		}
	}
}
