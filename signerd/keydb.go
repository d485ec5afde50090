package signerd

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/server/store"
)

// keyDB is the key database of the file back end: a bbolt file with one
// bucket, "keys", mapping GUN NUL role NUL (^sequence, 8 bytes big-endian)
// to the JSON of a store.OnlineKey. The complemented sequence puts a role's
// newest key first. It is the layout of the metadata server's embedded
// store, which the back end used before it had a database of its own, so
// that existing signer.db files keep working.
type keyDB struct{ db *bbolt.DB }

var _ signer.KeyStore = (*keyDB)(nil)

var bucketKeys = []byte("keys")

// openKeyDB opens or creates the key database at path. It fails after a
// second if another process has the file open.
func openKeyDB(path string) (*keyDB, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open %s: the database is in use by another process", path)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketKeys)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &keyDB{db: db}, nil
}

func (d *keyDB) Close() error { return d.db.Close() }

// prefix is the key prefix of gun's keys, or of its keys of role.
func prefix(gun string, role ...string) []byte {
	p := append([]byte(gun), 0)
	for _, r := range role {
		p = append(append(p, r...), 0)
	}
	return p
}

func decodeKey(v []byte) (store.OnlineKey, error) {
	var k store.OnlineKey
	if err := json.Unmarshal(v, &k); err != nil {
		return store.OnlineKey{}, fmt.Errorf("stored key: %w", err)
	}
	return k, nil
}

// AddOnlineKey implements signer.KeyStore.
func (d *keyDB) AddOnlineKey(_ context.Context, k store.OnlineKey, onlyIfNone bool) (store.OnlineKey, error) {
	var newest store.OnlineKey
	err := d.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketKeys)
		p := prefix(k.GUN, k.Role)
		if kk, v := b.Cursor().Seek(p); onlyIfNone && kk != nil && bytes.HasPrefix(kk, p) {
			var err error
			newest, err = decodeKey(v)
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if k.CreatedAt.IsZero() {
			k.CreatedAt = time.Now().UTC()
		}
		v, err := json.Marshal(k)
		if err != nil {
			return err
		}
		newest = k
		return b.Put(binary.BigEndian.AppendUint64(p, ^seq), v)
	})
	if err != nil {
		return store.OnlineKey{}, fmt.Errorf("add %s key for %s: %w", k.Role, k.GUN, err)
	}
	return newest, nil
}

// scan decodes the keys under p, up to limit (0: all).
func (d *keyDB) scan(p []byte, limit int) ([]store.OnlineKey, error) {
	var out []store.OnlineKey
	err := d.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketKeys).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p) && (limit == 0 || len(out) < limit); k, v = c.Next() {
			ok, err := decodeKey(v)
			if err != nil {
				return err
			}
			out = append(out, ok)
		}
		return nil
	})
	return out, err
}

// OnlineKeys implements signer.KeyStore.
func (d *keyDB) OnlineKeys(_ context.Context, gun, role string) ([]store.OnlineKey, error) {
	out, err := d.scan(prefix(gun, role), 0)
	if err != nil {
		return nil, fmt.Errorf("%s keys of %s: %w", role, gun, err)
	}
	return out, nil
}

// SomeOnlineKeys implements signer.KeyStore: the newest keys of the first
// GUNs, in byte order.
func (d *keyDB) SomeOnlineKeys(_ context.Context, limit int) ([]store.OnlineKey, error) {
	if limit <= 0 {
		return nil, nil
	}
	out, err := d.scan(nil, limit)
	if err != nil {
		return nil, fmt.Errorf("online keys: %w", err)
	}
	return out, nil
}

// DeleteOnlineKeys implements signer.KeyStore.
func (d *keyDB) DeleteOnlineKeys(_ context.Context, gun string) (int, error) {
	n := 0
	err := d.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketKeys)
		p := prefix(gun)
		c := b.Cursor()
		for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Seek(p) {
			if err := b.Delete(k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete online keys of %s: %w", gun, err)
	}
	return n, nil
}
