package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/rampart-tuf/rampart/server/store"
)

// Buckets of staged updates (store.Staging). They are created on first
// use, so that a database without staged updates keeps its layout.
var (
	bucketStaged         = []byte("staged")         // gun NUL id → JSON stagedRecord
	bucketStagedParts    = []byte("stagedparts")    // gun NUL id NUL part → sha256 hex (64) + data
	bucketStagedListings = []byte("stagedlistings") // gun NUL id NUL digest NUL path NUL role → until, as in listings
)

var _ store.Staging = (*Store)(nil)

// stagedRecord is a staged update as stored.
type stagedRecord struct {
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// stagedBuckets returns the buckets of staged updates, creating them in a
// writable transaction; in a read-only one they are nil until created.
func stagedBuckets(tx *bbolt.Tx) (updates, parts, listings *bbolt.Bucket, err error) {
	if !tx.Writable() {
		return tx.Bucket(bucketStaged), tx.Bucket(bucketStagedParts), tx.Bucket(bucketStagedListings), nil
	}
	bs := make([]*bbolt.Bucket, 3)
	for i, name := range [][]byte{bucketStaged, bucketStagedParts, bucketStagedListings} {
		if bs[i], err = tx.CreateBucketIfNotExists(name); err != nil {
			return nil, nil, nil, err
		}
	}
	return bs[0], bs[1], bs[2], nil
}

// stagedPrefix starts the keys of a staged update's parts and listings.
func stagedPrefix(gun, id string) []byte { return append(key(gun, id), 0) }

// getStaged reads a staged update that has not expired before now (any,
// when now is zero).
func getStaged(tx *bbolt.Tx, gun, id string, now time.Time) (store.Staged, error) {
	updates, _, _, err := stagedBuckets(tx)
	if err != nil {
		return store.Staged{}, err
	}
	var rec stagedRecord
	if updates == nil {
		return store.Staged{}, store.ErrNotFound
	}
	if err := getJSON(updates, key(gun, id), &rec); err != nil {
		return store.Staged{}, err
	}
	if !now.IsZero() && !rec.Expires.After(now) {
		return store.Staged{}, fmt.Errorf("expired at %s: %w", rec.Expires.UTC().Format(time.RFC3339), store.ErrNotFound)
	}
	return store.Staged{GUN: gun, ID: id, Created: rec.Created, Expires: rec.Expires}, nil
}

// CreateStaged implements store.Staging.
func (s *Store) CreateStaged(_ context.Context, st store.Staged) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		updates, _, _, err := stagedBuckets(tx)
		if err != nil {
			return err
		}
		k := key(st.GUN, st.ID)
		if updates.Get(k) != nil {
			return store.ErrConflict
		}
		return putJSON(updates, k, stagedRecord{Created: st.Created.UTC(), Expires: st.Expires.UTC()})
	})
	if err != nil {
		return fmt.Errorf("staged update %s of %s: %w", st.ID, st.GUN, err)
	}
	return nil
}

// Staged implements store.Staging.
func (s *Store) Staged(_ context.Context, gun, id string, now time.Time) (store.Staged, []store.StagedPart, error) {
	var st store.Staged
	var out []store.StagedPart
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		if st, err = getStaged(tx, gun, id, now); err != nil {
			return err
		}
		prefix := stagedPrefix(gun, id)
		c := tx.Bucket(bucketStagedParts).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			out = append(out, store.StagedPart{Name: string(k[len(prefix):]), SHA256: string(v[:64]), Length: int64(len(v) - 64)})
		}
		return nil
	})
	if err != nil {
		return store.Staged{}, nil, fmt.Errorf("staged update %s of %s: %w", id, gun, err)
	}
	return st, out, nil
}

// PutStagedParts implements store.Staging.
func (s *Store) PutStagedParts(_ context.Context, gun, id string, ps []store.StagedPart) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if _, err := getStaged(tx, gun, id, time.Time{}); err != nil {
			return err
		}
		_, parts, _, err := stagedBuckets(tx)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if err := parts.Put(append(stagedPrefix(gun, id), p.Name...), append([]byte(p.SHA256), p.Data...)); err != nil {
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
	p := store.StagedPart{Name: name}
	err := s.db.View(func(tx *bbolt.Tx) error {
		_, parts, _, _ := stagedBuckets(tx)
		if parts == nil {
			return store.ErrNotFound
		}
		v := parts.Get(append(stagedPrefix(gun, id), name...))
		if len(v) < 64 {
			return store.ErrNotFound
		}
		p.SHA256, p.Data, p.Length = string(v[:64]), bytes.Clone(v[64:]), int64(len(v)-64)
		return nil
	})
	if err != nil {
		return store.StagedPart{}, fmt.Errorf("staged update %s of %s: part %s: %w", id, gun, name, err)
	}
	return p, nil
}

// AddStagedListings implements store.Staging.
func (s *Store) AddStagedListings(_ context.Context, gun, id string, ls []store.Listing) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		_, _, listings, err := stagedBuckets(tx)
		if err != nil {
			return err
		}
		prefix := stagedPrefix(gun, id)
		for _, l := range ls {
			var until []byte
			if !l.Until.IsZero() {
				until = []byte(l.Until.UTC().Format(time.RFC3339Nano))
			}
			if err := listings.Put(append(prefix[:len(prefix):len(prefix)], key(l.Digest, l.Path, l.Role)...), until); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("staged update %s of %s: listings: %w", id, gun, err)
	}
	return nil
}

// ClearStagedListings implements store.Staging.
func (s *Store) ClearStagedListings(_ context.Context, gun, id string) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		_, _, listings, err := stagedBuckets(tx)
		if err != nil {
			return err
		}
		return deletePrefix(listings, stagedPrefix(gun, id))
	})
	if err != nil {
		return fmt.Errorf("staged update %s of %s: listings: %w", id, gun, err)
	}
	return nil
}

// CommitStaged implements store.Staging.
func (s *Store) CommitStaged(_ context.Context, u store.Update, id string, moves []store.StagedFile) (store.Change, error) {
	gun := u.Repo.GUN
	return s.publish(u, func(tx *bbolt.Tx) error {
		if _, err := getStaged(tx, gun, id, time.Time{}); err != nil {
			return fmt.Errorf("staged update %s: %w", id, err)
		}
		_, parts, stagedListings, err := stagedBuckets(tx)
		if err != nil {
			return err
		}
		prefix := stagedPrefix(gun, id)
		files := tx.Bucket(bucketFiles)
		for _, m := range moves {
			v := parts.Get(append(prefix[:len(prefix):len(prefix)], m.Part...))
			if v == nil {
				return fmt.Errorf("staged update %s: part %s: %w", id, m.Part, store.ErrNotFound)
			}
			k := fileKey(gun, m.Role, m.Version)
			if files.Get(k) != nil {
				return fmt.Errorf("%w: %d.%s.json exists", store.ErrConflict, m.Version, m.Role)
			}
			if err := files.Put(k, v); err != nil {
				return err
			}
		}
		live := tx.Bucket(bucketListings)
		c := stagedListings.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if err := live.Put(append(key(gun, ""), k[len(prefix):]...), v); err != nil {
				return err
			}
		}
		return deleteStaged(tx, gun, id)
	})
}

// deleteStaged deletes a staged update with its parts and listings.
func deleteStaged(tx *bbolt.Tx, gun, id string) error {
	updates, parts, listings, err := stagedBuckets(tx)
	if err != nil {
		return err
	}
	if err := updates.Delete(key(gun, id)); err != nil {
		return err
	}
	if err := deletePrefix(parts, stagedPrefix(gun, id)); err != nil {
		return err
	}
	return deletePrefix(listings, stagedPrefix(gun, id))
}

// DeleteStaged implements store.Staging.
func (s *Store) DeleteStaged(_ context.Context, gun, id string) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if _, err := getStaged(tx, gun, id, time.Time{}); err != nil {
			return err
		}
		return deleteStaged(tx, gun, id)
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
		updates, _, _, err := stagedBuckets(tx)
		if err != nil {
			return err
		}
		var expired [][2]string
		err = updates.ForEach(func(k, v []byte) error {
			var rec stagedRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			if !rec.Expires.After(now) {
				gun, id, _ := bytes.Cut(k, []byte{0})
				expired = append(expired, [2]string{string(gun), string(id)})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range expired {
			if err := deleteStaged(tx, e[0], e[1]); err != nil {
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
