package storetest

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server/store"
)

// sums returns the hex SHA-256 and SHA-512 of content.
func sums(content string) (string, string) {
	a, b := sha256.Sum256([]byte(content)), sha512.Sum512([]byte(content))
	return hex.EncodeToString(a[:]), hex.EncodeToString(b[:])
}

// testListingsRule attacks the rule the listings serve (see store.Listing):
// content is listed only under the path and digest a role lists, by the
// role's current version or until the end a replaced version was given,
// in its own repository; what the rule allows is listed.
func testListingsRule(t *testing.T, s store.Store) {
	ctx := context.Background()
	const gun, other = "example.com/rule", "example.com/rule-other"
	a256, a512 := sums("content a")
	b256, _ := sums("content b")
	c256, _ := sums("content c")
	d256, _ := sums("content d")
	end := epoch.Add(48 * time.Hour) // when the first snapshot expires
	u := update(gun, 0)
	u.Listings = []store.Listing{
		{Role: "targets", Path: "a.txt", Digest: a256},
		{Role: "targets", Path: "a.txt", Digest: a512},
		{Role: "bins-1", Path: "dir/b.txt", Digest: b256},
		{Role: "bins-2", Path: "c.txt", Digest: c256},
		{Role: "targets", Path: "shared.txt", Digest: d256},
		{Role: "bins-3", Path: "shared.txt", Digest: d256},
		store.ListingsIndexed,
	}
	mustPublish(t, s, u)
	// Version 2 of targets lists other content under a.txt; bins-2 is no
	// longer listed by the snapshot (a removed delegation: everything it
	// listed ends); targets no longer lists shared.txt, bins-3 still does.
	u = update(gun, 1)
	u.Listings = []store.Listing{
		{Role: "targets", Path: "a.txt", Digest: a256, Until: end},
		{Role: "targets", Path: "a.txt", Digest: a512, Until: end},
		{Role: "targets", Path: "a.txt", Digest: b256},
		{Role: "bins-2", Path: "c.txt", Digest: c256, Until: end},
		{Role: "targets", Path: "shared.txt", Digest: d256, Until: end},
	}
	mustPublish(t, s, u)
	before, after := end.Add(-time.Second), end.Add(time.Second)
	for _, c := range []struct {
		what              string
		gun, digest, path string
		at                time.Time
		want              bool
	}{
		{"the replaced version's content, before its snapshot expires", gun, a256, "a.txt", before, true},
		{"the same by SHA-512", gun, a512, "a.txt", before, true},
		{"the replaced version's content, after its snapshot expired", gun, a256, "a.txt", after, false},
		{"the same by SHA-512", gun, a512, "a.txt", after, false},
		{"the current version's content", gun, b256, "a.txt", after, true},
		{"content listed by a role the snapshot no longer lists, before", gun, c256, "c.txt", before, true},
		{"content listed by a role the snapshot no longer lists, after", gun, c256, "c.txt", after, false},
		{"content one role ended and another still lists", gun, d256, "shared.txt", after, true},
		{"content under a path the metadata does not list", gun, b256, "unlisted.txt", before, false},
		{"a listed path with another digest", gun, c256, "dir/b.txt", before, false},
		{"a listed path with a digest listed elsewhere", gun, a256, "dir/b.txt", before, false},
		{"a listed path in another directory", gun, b256, "b.txt", before, false},
		{"a listed path with a suffix", gun, b256, "dir/b.txt.sig", before, false},
		{"a listed path and digest in upper case", gun, strings.ToUpper(b256), "dir/b.txt", before, false},
		{"a truncated digest", gun, b256[:62], "dir/b.txt", before, false},
		{"a listed path and digest", gun, b256, "dir/b.txt", after, true},
		{"another repository's listing", other, b256, "dir/b.txt", before, false},
		{"the listings of another repository are not indexed", other, "", "", time.Time{}, false},
		{"the repository's listings are indexed", gun, "", "", time.Time{}, true},
	} {
		if got, err := s.Listed(ctx, c.gun, c.digest, c.path, c.at); err != nil || got != c.want {
			t.Errorf("%s: Listed = %v, %v; want %v", c.what, got, err, c.want)
		}
	}
	// A listing ended and listed again by a later version is listed.
	u = update(gun, 2)
	u.Listings = []store.Listing{{Role: "bins-2", Path: "c.txt", Digest: c256}}
	mustPublish(t, s, u)
	if got, err := s.Listed(ctx, gun, c256, "c.txt", after); err != nil || !got {
		t.Errorf("content listed again: Listed = %v, %v; want true", got, err)
	}
	// Deleting the repository deletes its listings.
	if _, err := s.Delete(ctx, gun); err != nil {
		t.Fatal(err)
	}
	for _, digest := range []string{b256, ""} {
		path := map[string]string{b256: "a.txt"}[digest]
		if got, err := s.Listed(ctx, gun, digest, path, before); err != nil || got {
			t.Errorf("after the repository's deletion: Listed(%q, %q) = %v, %v; want false", digest, path, got, err)
		}
	}
}

// LegacyListing is a listing as stores kept them before the listings
// index (bolt schema 3, PostgreSQL migration 9), for the tests of their
// migrations.
type LegacyListing struct {
	GUN string
	store.Listing
}

// LegacyListings returns listings for a store's migration test to write
// in its old layout; CheckLegacyListings checks the store finds them.
func LegacyListings() []LegacyListing {
	a, _ := sums("legacy a")
	b, b512 := sums("legacy b")
	return []LegacyListing{
		{"example.com/legacy", store.ListingsIndexed},
		{"example.com/legacy", store.Listing{Role: "targets", Path: "a.txt", Digest: a}},
		{"example.com/legacy", store.Listing{Role: "bins-0", Path: "dir/b.txt", Digest: b, Until: epoch}},
		{"example.com/legacy", store.Listing{Role: "bins-0", Path: "dir/b.txt", Digest: b512}},
		{"example.com/legacy-2", store.Listing{Role: "targets", Path: "a.txt", Digest: b}},
	}
}

// CheckLegacyListings checks that s lists what LegacyListings wrote, and
// nothing more.
func CheckLegacyListings(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	a, _ := sums("legacy a")
	b, b512 := sums("legacy b")
	for _, c := range []struct {
		gun, digest, path string
		at                time.Time
		want              bool
	}{
		{"example.com/legacy", "", "", time.Time{}, true},
		{"example.com/legacy-2", "", "", time.Time{}, false},
		{"example.com/legacy", a, "a.txt", epoch, true},
		{"example.com/legacy", b, "dir/b.txt", epoch.Add(-time.Second), true},
		{"example.com/legacy", b, "dir/b.txt", epoch, false},
		{"example.com/legacy", b512, "dir/b.txt", epoch, true},
		{"example.com/legacy", b, "a.txt", time.Time{}, false},
		{"example.com/legacy-2", b, "a.txt", epoch, true},
		{"example.com/legacy-2", a, "a.txt", time.Time{}, false},
	} {
		if got, err := s.Listed(ctx, c.gun, c.digest, c.path, c.at); err != nil || got != c.want {
			t.Errorf("after the migration: Listed(%s, %.8s, %q, %s) = %v, %v; want %v", c.gun, c.digest, c.path, c.at, got, err, c.want)
		}
	}
}
