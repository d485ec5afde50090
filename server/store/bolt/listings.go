package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"iter"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/listindex"
)

// The listings of a repository (store.Listing) are kept by package
// listindex: bucketListIndex holds its chunks, under gun NUL chunk (two
// bytes, big-endian), and bucketIndexed the repositories whose listings
// are complete (store.ListingsIndexed). The index's key is made when the
// database is first opened by a server of schema 4.

// openIndex loads the index's key, making it if the database has none.
func (s *Store) openIndex(tx *bbolt.Tx, meta *bbolt.Bucket) error {
	k := meta.Get(metaListKey)
	if k == nil {
		var err error
		if k, err = listindex.NewKey(); err != nil {
			return err
		}
		if err := meta.Put(metaListKey, k); err != nil {
			return err
		}
	}
	idx, err := listindex.New(bytes.Clone(k))
	s.idx = idx
	return err
}

func chunkKey(dst []byte, gun string, chunk uint16) []byte {
	return binary.BigEndian.AppendUint16(appendKey(dst, gun, ""), chunk)
}

// putListings adds or replaces listings of gun: each chunk they fall in is
// read, merged and written again, in the order of the chunks' keys (a
// bbolt node grows until the transaction commits, so that keys put in
// order are appended).
func (s *Store) putListings(tx *bbolt.Tx, gun string, ls ...[]store.Listing) error {
	chunks, indexed, err := s.idx.Build(ls...)
	if err != nil {
		return err
	}
	return putChunks(tx, gun, chunks, indexed)
}

// PrepareListings implements store.ListingPreparer.
func (s *Store) PrepareListings(ls []store.Listing) (store.PreparedListings, error) {
	return s.idx.PrepareListings(ls)
}

// PrepareListed implements store.ListingPreparer.
func (s *Store) PrepareListed(role string, n int, all iter.Seq2[string, []byte]) store.PreparedListings {
	return s.idx.PrepareListed(role, n, all)
}

// putChunks merges chunks, made by the index, into gun's.
func putChunks(tx *bbolt.Tx, gun string, chunks []listindex.Chunk, indexed bool) error {
	b := tx.Bucket(bucketListIndex)
	if len(chunks) > 1000 {
		b.FillPercent = 0.9 // mostly appended: fill the pages
	}
	var k []byte // Put copies the key: one buffer serves them all
	for _, c := range chunks {
		k = chunkKey(k[:0], gun, c.ID)
		v, err := listindex.Merge(b.Get(k), c.Records)
		if err != nil {
			return fmt.Errorf("chunk %04x: %w", c.ID, err)
		}
		if err := b.Put(k, v); err != nil {
			return err
		}
	}
	if indexed {
		return tx.Bucket(bucketIndexed).Put([]byte(gun), nil)
	}
	return nil
}

// deleteListings deletes every listing of gun.
func deleteListings(tx *bbolt.Tx, gun string) error {
	if _, err := deletePrefix(tx.Bucket(bucketListIndex), key(gun, "")); err != nil {
		return err
	}
	return tx.Bucket(bucketIndexed).Delete([]byte(gun))
}

// AddListings implements store.Store.
func (s *Store) AddListings(_ context.Context, gun string, ls []store.Listing) error {
	err := s.db.Update(func(tx *bbolt.Tx) error { return s.putListings(tx, gun, ls) })
	if err != nil {
		return fmt.Errorf("listings of %s: %w", gun, err)
	}
	return nil
}

// Listed implements store.Store.
func (s *Store) Listed(_ context.Context, gun, digest, path string, at time.Time) (bool, error) {
	listed := false
	err := s.db.View(func(tx *bbolt.Tx) error {
		if digest == "" && path == "" {
			listed = tx.Bucket(bucketIndexed).Get([]byte(gun)) != nil
			return nil
		}
		d, ok := s.idx.Digest(digest)
		if !ok {
			return nil // no listing has such a digest
		}
		var err error
		listed, err = s.idx.Listed(tx.Bucket(bucketListIndex).Get(chunkKey(nil, gun, d.Chunk())), d, path, at)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("listings of %s: %w", gun, err)
	}
	return listed, nil
}

// kept reports whether a listing of gun by one of digests keeps content
// past cutoff (see listindex.Kept).
func (s *Store) kept(index *bbolt.Bucket, gun string, cutoff time.Time, digests ...string) (bool, error) {
	var ds []listindex.Digest
	for _, digest := range digests {
		if d, ok := s.idx.Digest(digest); ok {
			ds = append(ds, d)
		}
	}
	chunk := func(id uint16) []byte { return index.Get(chunkKey(nil, gun, id)) }
	return listindex.KeptByAny(chunk, cutoff, ds...)
}

// CollectTargets implements store.Store, in one transaction: bbolt has
// one writer at a time, so a publish commits before or after it.
func (s *Store) CollectTargets(_ context.Context, cutoff time.Time) ([]store.HeldTarget, error) {
	var out []store.HeldTarget
	err := s.db.Update(func(tx *bbolt.Tx) error {
		out = nil
		index := tx.Bucket(bucketListIndex)
		err := tx.Bucket(bucketTargets).ForEach(func(k, v []byte) error {
			gun, _, _ := bytes.Cut(k, []byte{0})
			var t store.Target
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("target %q: %w", k, err)
			}
			if !t.CreatedAt.Before(cutoff) {
				return nil
			}
			if ok, err := s.kept(index, string(gun), cutoff, t.SHA256, t.SHA512); err != nil || ok {
				return err
			}
			out = append(out, store.HeldTarget{GUN: string(gun), Target: t})
			return nil
		})
		if err != nil {
			return err
		}
		for _, h := range out {
			if err := tx.Bucket(bucketTargets).Delete(key(h.GUN, h.SHA256)); err != nil {
				return err
			}
			if err := tx.Bucket(bucketTargets512).Delete(key(h.GUN, h.SHA512)); err != nil {
				return err
			}
		}
		return pruneListings(index, cutoff)
	})
	if err != nil {
		return nil, fmt.Errorf("collect targets: %w", err)
	}
	return out, nil
}

// pruneListings deletes the listings that ended before cutoff.
func pruneListings(index *bbolt.Bucket, cutoff time.Time) error {
	type chunk struct{ k, v []byte }
	var pruned []chunk
	err := index.ForEach(func(k, v []byte) error {
		nv, changed, err := listindex.Prune(v, cutoff)
		if err != nil {
			return fmt.Errorf("chunk %q: %w", k, err)
		}
		if changed {
			pruned = append(pruned, chunk{bytes.Clone(k), nv})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range pruned {
		if len(c.v) == 0 {
			err = index.Delete(c.k)
		} else {
			err = index.Put(c.k, c.v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// migrateListings moves the listings of schema 3, a key each, into the
// index, a repository at a time, and drops their bucket.
func (s *Store) migrateListings(tx *bbolt.Tx) error {
	old := tx.Bucket(bucketListings)
	if old == nil {
		return nil
	}
	var gun string
	var ls []store.Listing
	flush := func() error {
		if len(ls) == 0 {
			return nil
		}
		err := s.putListings(tx, gun, ls)
		ls = ls[:0]
		return err
	}
	err := old.ForEach(func(k, v []byte) error {
		parts := bytes.Split(k, []byte{0})
		if len(parts) != 4 {
			return fmt.Errorf("listing %q: not gun, digest, path and role", k)
		}
		l := store.Listing{Digest: string(parts[1]), Path: string(parts[2]), Role: string(parts[3])}
		if len(v) > 0 {
			until, err := time.Parse(time.RFC3339Nano, string(v))
			if err != nil {
				return fmt.Errorf("listing %q: %w", k, err)
			}
			l.Until = until
		}
		if g := string(parts[0]); g != gun {
			if err := flush(); err != nil {
				return err
			}
			gun = g
		}
		ls = append(ls, l)
		return nil
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	return tx.DeleteBucket(bucketListings)
}
