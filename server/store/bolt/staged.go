package bolt

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/rampart-tuf/rampart/server/store"
)

// Staged updates (store.Staging) live in a bucket of their own, created on
// first use, so that a database without staged updates keeps its layout:
//
//	staged/ gun NUL id /        a bucket per staged update, holding
//	    "meta"                  JSON stagedRecord
//	    parts/ name             sha256 hex (64) + data
//
// A bucket per update is dropped at once (DeleteBucket frees its pages).
// A committed one moves to docs/ gun NUL id /, without its record, and
// the repository's files refer to its parts (see CommitStaged).
// (Staged updates of an earlier version also hold a "listings" bucket,
// dropped with them.)
var (
	bucketStaged = []byte("staged")
	stagedMeta   = []byte("meta")
	stagedParts  = []byte("parts")
)

var _ store.Staging = (*Store)(nil)

// stagedRecord is a staged update as stored.
type stagedRecord struct {
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// stagedBucket returns the bucket of a staged update that has not expired
// before now (any, when now is zero), and its record.
func stagedBucket(tx *bbolt.Tx, gun, id string, now time.Time) (*bbolt.Bucket, store.Staged, error) {
	st := store.Staged{GUN: gun, ID: id}
	top := tx.Bucket(bucketStaged)
	if top == nil {
		return nil, st, store.ErrNotFound
	}
	b := top.Bucket(key(gun, id))
	if b == nil {
		return nil, st, store.ErrNotFound
	}
	var rec stagedRecord
	if err := getJSON(b, stagedMeta, &rec); err != nil {
		return nil, st, err
	}
	st.Created, st.Expires = rec.Created, rec.Expires
	if !now.IsZero() && !rec.Expires.After(now) {
		return nil, st, fmt.Errorf("expired at %s: %w", rec.Expires.UTC().Format(time.RFC3339), store.ErrNotFound)
	}
	return b, st, nil
}

// CreateStaged implements store.Staging.
func (s *Store) CreateStaged(_ context.Context, st store.Staged, maxOpen int) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		top, err := tx.CreateBucketIfNotExists(bucketStaged)
		if err != nil {
			return err
		}
		if n, err := openStaged(top, st.GUN, st.Created); err != nil {
			return err
		} else if n >= maxOpen {
			return fmt.Errorf("%w: %d staged updates open, at most %d", store.ErrLimit, n, maxOpen)
		}
		b, err := top.CreateBucket(key(st.GUN, st.ID))
		if err != nil {
			return fmt.Errorf("%w: %v", store.ErrConflict, err)
		}
		if _, err := b.CreateBucket(stagedParts); err != nil {
			return err
		}
		return putJSON(b, stagedMeta, stagedRecord{Created: st.Created.UTC(), Expires: st.Expires.UTC()})
	})
	if err != nil {
		return fmt.Errorf("staged update %s of %s: %w", st.ID, st.GUN, err)
	}
	return nil
}

// openStaged counts gun's staged updates that expire after now.
func openStaged(top *bbolt.Bucket, gun string, now time.Time) (int, error) {
	n := 0
	prefix := key(gun, "")
	c := top.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if v != nil {
			continue // not a staged update's bucket
		}
		var rec stagedRecord
		if err := getJSON(top.Bucket(k), stagedMeta, &rec); err != nil {
			return 0, err
		}
		if rec.Expires.After(now) {
			n++
		}
	}
	return n, nil
}

// Staged implements store.Staging.
func (s *Store) Staged(_ context.Context, gun, id string, now time.Time) (store.Staged, []store.StagedPart, error) {
	var st store.Staged
	var out []store.StagedPart
	err := s.db.View(func(tx *bbolt.Tx) error {
		b, rec, err := stagedBucket(tx, gun, id, now)
		if err != nil {
			return err
		}
		st = rec
		return b.Bucket(stagedParts).ForEach(func(k, v []byte) error {
			out = append(out, store.StagedPart{Name: string(k), SHA256: string(v[:64]), Length: int64(len(v) - 64)})
			return nil
		})
	})
	if err != nil {
		return store.Staged{}, nil, fmt.Errorf("staged update %s of %s: %w", id, gun, err)
	}
	return st, out, nil
}

// PutStagedParts implements store.Staging. The values are written into
// one buffer, which bbolt reads until the transaction is committed and
// which is kept for the next call: the parts of a large staged update
// are a hundred megabytes.
func (s *Store) PutStagedParts(_ context.Context, gun, id string, ps []store.StagedPart) error {
	size := 0
	for _, p := range ps {
		size += len(p.SHA256) + len(p.Data)
	}
	buf := s.partValues.Get(size)[:0]
	defer s.partValues.Put(buf)
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, _, err := stagedBucket(tx, gun, id, time.Time{})
		if err != nil {
			return err
		}
		parts := b.Bucket(stagedParts)
		for _, p := range ps {
			start := len(buf)
			buf = append(append(buf, p.SHA256...), p.Data...)
			if err := parts.Put([]byte(p.Name), buf[start:len(buf):len(buf)]); err != nil {
				return fmt.Errorf("part %s: %w", p.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("staged update %s of %s: %w", id, gun, err)
	}
	return nil
}

// StagedPart implements store.Staging.
func (s *Store) StagedPart(_ context.Context, gun, id, name string) (store.StagedPart, error) {
	var p store.StagedPart
	err := s.db.View(func(tx *bbolt.Tx) error {
		b, _, err := stagedBucket(tx, gun, id, time.Time{})
		if err != nil {
			return err
		}
		var ok bool
		if p, ok = stagedPartOf(name, b.Bucket(stagedParts).Get([]byte(name))); !ok {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return store.StagedPart{}, fmt.Errorf("staged update %s of %s: part %s: %w", id, gun, name, err)
	}
	return p, nil
}

// stagedPartOf decodes the value a part is stored as (its SHA-256 in hex,
// then its document), copying the document out of the database's map;
// ok is false for a missing part.
func stagedPartOf(name string, v []byte) (p store.StagedPart, ok bool) {
	if len(v) < 64 {
		return store.StagedPart{}, false
	}
	return store.StagedPart{Name: name, SHA256: string(v[:64]), Data: bytes.Clone(v[64:]), Length: int64(len(v) - 64)}, true
}

// StagedPartsNamed implements store.Staging.
func (s *Store) StagedPartsNamed(_ context.Context, gun, id string, names []string) ([]store.StagedPart, error) {
	var out []store.StagedPart
	err := s.db.View(func(tx *bbolt.Tx) error {
		b, _, err := stagedBucket(tx, gun, id, time.Time{})
		if err != nil {
			return err
		}
		parts := b.Bucket(stagedParts)
		for _, name := range names {
			if p, ok := stagedPartOf(name, parts.Get([]byte(name))); ok {
				out = append(out, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("staged update %s of %s: %w", id, gun, err)
	}
	return out, nil
}

// CommitStaged implements store.Staging. The documents stay where they
// are: the staged update's bucket moves, as it is, from bucketStaged to
// bucketDocs (bbolt moves a bucket without copying its pages), and each
// new file refers to its part there (see docRef). A commit of 150 MB of
// hashed bins so writes a few pages instead of copying 150 MB into
// bucketFiles, and holds none of it in memory.
func (s *Store) CommitStaged(_ context.Context, u store.Update, id string, moves []store.StagedFile) (store.Change, error) {
	gun := u.Repo.GUN
	return s.publish(u, func(tx *bbolt.Tx) error {
		b, _, err := stagedBucket(tx, gun, id, time.Time{})
		if err != nil {
			return fmt.Errorf("staged update %s: %w", id, err)
		}
		sk := key(gun, id)
		parts, files := b.Bucket(stagedParts), tx.Bucket(bucketFiles)
		kept := map[string]bool{}
		for _, m := range moves {
			v := parts.Get([]byte(m.Part))
			if len(v) < 64 {
				return fmt.Errorf("staged update %s: part %s: %w", id, m.Part, store.ErrNotFound)
			}
			k := fileKey(gun, m.Role, m.Version)
			if files.Get(k) != nil {
				return fmt.Errorf("%w: %d.%s.json exists", store.ErrConflict, m.Version, m.Role)
			}
			if err := files.Put(k, docRef(v[:64], sk, m.Part)); err != nil {
				return err
			}
			kept[m.Part] = true
		}
		if err := tx.MoveBucket(sk, tx.Bucket(bucketStaged), tx.Bucket(bucketDocs)); err != nil {
			return fmt.Errorf("staged update %s: %w", id, err)
		}
		// What no file refers to goes: the record, and parts the commit
		// did not store as they are (a snapshot it encoded again).
		moved := tx.Bucket(bucketDocs).Bucket(sk)
		if err := moved.Delete(stagedMeta); err != nil {
			return err
		}
		var drop [][]byte
		err = moved.Bucket(stagedParts).ForEach(func(k, _ []byte) error {
			if !kept[string(k)] {
				drop = append(drop, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range drop {
			if err := moved.Bucket(stagedParts).Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// docRef is the value in bucketFiles of a document that stays where a
// committed staged update put it: its SHA-256 (hex), NUL (no document
// begins with it: JSON begins with '{'), the key of the update's bucket in
// bucketDocs, NUL, and the part's name.
func docRef(sum, bucket []byte, part string) []byte {
	v := make([]byte, 0, 64+1+len(bucket)+1+len(part))
	v = append(append(v, sum...), 0)
	v = append(append(v, bucket...), 0)
	return append(v, part...)
}

// fileData returns the SHA-256 (hex) and the document of v, a value of
// bucketFiles: the document that follows the digest, or the one a
// docRef refers to, whose stored digest must be the same.
func fileData(tx *bbolt.Tx, v []byte) (sum, data []byte, err error) {
	if len(v) < 64 {
		return nil, nil, store.ErrNotFound
	}
	sum, rest := v[:64], v[64:]
	if len(rest) == 0 || rest[0] != 0 {
		return sum, rest, nil
	}
	ref := rest[1:]
	i := bytes.LastIndexByte(ref, 0)
	if i < 0 {
		return nil, nil, fmt.Errorf("malformed document reference %q", ref)
	}
	var doc []byte
	if b := tx.Bucket(bucketDocs).Bucket(ref[:i]); b != nil {
		if parts := b.Bucket(stagedParts); parts != nil {
			doc = parts.Get(ref[i+1:])
		}
	}
	if len(doc) < 64 || !bytes.Equal(doc[:64], sum) {
		return nil, nil, fmt.Errorf("the document %s of committed staged update %q is missing or not its own (SHA-256 %.64s)", ref[i+1:], ref[:i], doc)
	}
	return sum, doc[64:], nil
}

// deleteBuckets deletes the buckets in b whose keys begin with prefix.
func deleteBuckets(b *bbolt.Bucket, prefix []byte) error {
	var ks [][]byte
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if v == nil {
			ks = append(ks, bytes.Clone(k))
		}
	}
	for _, k := range ks {
		if err := b.DeleteBucket(k); err != nil {
			return err
		}
	}
	return nil
}

// DeleteStaged implements store.Staging.
func (s *Store) DeleteStaged(_ context.Context, gun, id string) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if _, _, err := stagedBucket(tx, gun, id, time.Time{}); err != nil {
			return err
		}
		return tx.Bucket(bucketStaged).DeleteBucket(key(gun, id))
	})
	if err != nil {
		return fmt.Errorf("staged update %s of %s: %w", id, gun, err)
	}
	return nil
}

// DeleteExpiredStaged implements store.Staging.
func (s *Store) DeleteExpiredStaged(_ context.Context, now time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		top := tx.Bucket(bucketStaged)
		if top == nil {
			return nil
		}
		var expired [][]byte
		err := top.ForEachBucket(func(k []byte) error {
			var rec stagedRecord
			if err := getJSON(top.Bucket(k), stagedMeta, &rec); err != nil {
				return err
			}
			if !rec.Expires.After(now) {
				expired = append(expired, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range expired {
			if err := top.DeleteBucket(k); err != nil {
				return err
			}
		}
		n = len(expired)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("expired staged updates: %w", err)
	}
	return n, nil
}
