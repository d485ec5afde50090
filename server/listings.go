package server

import (
	"context"
	"encoding/hex"
	"fmt"
	"iter"
	"time"

	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// The server serves target content only under a path and digest that the
// repository's metadata lists: by the current version of a targets role,
// or by one that a newer version replaced, until the snapshot that listed
// the replaced version expires (clients in the middle of an update may
// still fetch it). Publishes keep the index of listings (store.Listing).

// listingKey is one (path, digest) a targets document lists.
type listingKey struct{ path, digest string }

// listingsOf returns every (path, digest) the targets document lists.
func listingsOf(t *metadata.Targets) map[listingKey]bool {
	out := make(map[listingKey]bool, len(t.Targets))
	for p, tf := range t.Targets {
		if tf.Hashes.SHA256 != nil {
			out[listingKey{p, hex.EncodeToString(tf.Hashes.SHA256)}] = true
		}
		if tf.Hashes.SHA512 != nil {
			out[listingKey{p, hex.EncodeToString(tf.Hashes.SHA512)}] = true
		}
	}
	return out
}

// listingChanges returns the listings that a new version of role changes:
// what it lists and the version it replaces (old, nil for none) did not,
// and what old listed and it does not, served until replacedUntil.
func listingChanges(role string, old, cur *metadata.Targets, replacedUntil time.Time) []store.Listing {
	if old == nil {
		return allListings(role, cur)
	}
	return listingDiff(role, listingsOf(old), listingsOf(cur), replacedUntil)
}

// listed yields each path t lists with each of its digests (SHA-256,
// SHA-512), raw: what a first version of a role lists.
func listed(t *metadata.Targets) iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		for p, tf := range t.Targets {
			for _, d := range [][]byte{tf.Hashes.SHA256, tf.Hashes.SHA512} {
				if d != nil && !yield(p, d) {
					return
				}
			}
		}
	}
}

// allListings returns everything t lists (each path once, by distinct
// digests). The hex digests are made in one string, of which each listing
// has its part: a few allocations for a bin of a thousand targets, not two
// for each target.
func allListings(role string, t *metadata.Targets) []store.Listing {
	n, size := 0, 0
	for _, d := range listed(t) {
		n, size = n+1, size+hex.EncodedLen(len(d))
	}
	out := make([]store.Listing, 0, n)
	ends := make([]int, 0, n) // of each listing's digest in buf
	buf := make([]byte, 0, size)
	for p, d := range listed(t) {
		buf = hex.AppendEncode(buf, d)
		out = append(out, store.Listing{Role: role, Path: p})
		ends = append(ends, len(buf))
	}
	digests, at := string(buf), 0
	for i, end := range ends {
		out[i].Digest, at = digests[at:end], end
	}
	return out
}

// ListingChanges is listingChanges for documents of another dialect (the
// Notary API's): old and cur map each target path a version of role lists
// to its hex digests; old is nil for a role that had no version.
func ListingChanges(role string, old, cur map[string][]string, replacedUntil time.Time) []store.Listing {
	keys := func(m map[string][]string) map[listingKey]bool {
		out := map[listingKey]bool{}
		for p, ds := range m {
			for _, d := range ds {
				out[listingKey{p, d}] = true
			}
		}
		return out
	}
	return listingDiff(role, keys(old), keys(cur), replacedUntil)
}

// listingDiff is the rule: what now lists and was did not is listed, what
// was listed and now does not is served until replacedUntil.
func listingDiff(role string, was, now map[listingKey]bool, replacedUntil time.Time) []store.Listing {
	var out []store.Listing
	for k := range now {
		if !was[k] {
			out = append(out, store.Listing{Role: role, Path: k.path, Digest: k.digest})
		}
	}
	for k := range was {
		if !now[k] {
			out = append(out, store.Listing{Role: role, Path: k.path, Digest: k.digest, Until: replacedUntil})
		}
	}
	return out
}

// IndexListings indexes the listings of every repository published before
// the server kept them, so that their content stays served. rampart serve
// calls it at start; it does nothing for repositories already indexed.
func (s *Server) IndexListings(ctx context.Context) error {
	far := s.now().Add(100 * 365 * 24 * time.Hour)
	repos, err := s.store.Expiring(ctx, far, far) // every repository
	if err != nil {
		return err
	}
	for _, r := range repos {
		if err := s.indexListings(ctx, r.GUN); err != nil {
			return fmt.Errorf("indexing the targets of %s: %w", r.GUN, err)
		}
	}
	return nil
}

func (s *Server) indexListings(ctx context.Context, gun string) error {
	unlock := s.lockGUN(gun)
	defer unlock()
	if done, err := s.store.Listed(ctx, gun, "", "", time.Time{}); err != nil || done {
		return err
	}
	if ls, notary, err := s.notary.Listings(ctx, gun); notary {
		if err != nil {
			return err
		}
		s.log.Info("indexed the targets listed by a Notary repository", "gun", gun, "listings", len(ls)-1)
		return s.store.AddListings(ctx, gun, ls)
	}
	st, err := s.loadState(ctx, gun)
	if err != nil || !st.exists {
		return err
	}
	ls := []store.Listing{store.ListingsIndexed}
	for file, mf := range st.snapshot.Signed.Meta {
		role, _ := cutJSON(file)
		f, err := s.store.File(ctx, gun, role, mf.Version)
		if err != nil {
			return err
		}
		md, err := metadata.ParseTargets(f.Data)
		if err != nil {
			return err
		}
		ls = append(ls, listingChanges(role, nil, md.Signed, time.Time{})...)
	}
	s.log.Info("indexed the targets listed by a repository", "gun", gun, "listings", len(ls)-1)
	return s.store.AddListings(ctx, gun, ls)
}
