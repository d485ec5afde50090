// Package bolt is the embedded store of the Rampart server: a single
// bbolt database file, for a server that runs as one process.
//
// bbolt locks the file, so only one process can open it at a time; several
// server replicas need the PostgreSQL store instead. Every write is one
// bbolt transaction, which makes publishes atomic and durable (bbolt syncs
// on commit) and serializes them.
package bolt

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/rampart-tuf/rampart/internal/bufpool"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/listindex"
)

// Bucket names. Keys that combine a GUN with other parts separate them with
// a NUL byte, which GUNs and role names never contain.
var (
	bucketMeta       = []byte("meta")       // "schema" → version
	bucketRepos      = []byte("repos")      // gun → JSON store.Repo
	bucketFiles      = []byte("files")      // gun NUL role NUL version(8) → sha256 hex (64) + data, or + docRef (schema 3)
	bucketChanges    = []byte("changes")    // id(8) → JSON store.Change
	bucketGUNChanges = []byte("gunchanges") // gun NUL id(8) → empty
	bucketTokens     = []byte("tokens")     // hash → JSON store.Token (ID not stored: the hash's first 16 hex digits)
	bucketKeys       = []byte("keys")       // gun NUL role NUL seq(8) → JSON store.OnlineKey
	bucketTargets    = []byte("targets")    // gun NUL sha256 → JSON store.Target
	bucketDeleted    = []byte("deleted")    // gun → time of the last deletion (RFC 3339)
	bucketTargets512 = []byte("targets512") // gun NUL sha512 → sha256: targets by SHA-512 (schema 2)
	bucketDocs       = []byte("docs")       // gun NUL id → the bucket of a committed staged update (schema 3; see CommitStaged)
	bucketListIndex  = []byte("listindex")  // gun NUL chunk(2) → records of listings (schema 4; see package listindex)
	bucketIndexed    = []byte("listed")     // gun → empty: the repository's listings are indexed (schema 4)

	// bucketListings held a key per listing up to schema 3:
	// gun NUL digest NUL path NUL role → until (RFC 3339), empty while listed.
	bucketListings = []byte("listings")
	// metaListKey is the key of the listings index (schema 4), in bucketMeta.
	metaListKey = []byte("listkey")
)

// schemaVersion is the layout this code writes. Opening a database with a
// newer layout fails; older layouts are migrated in Open. Schema 3 added
// documents stored by reference (bucketDocs), which a server of schema 2
// would misread. Schema 4 keeps listings in the compact index of package
// listindex instead of a key per listing, which a server of schema 3
// would not find.
const schemaVersion = 4

// Store is a store.Store in a bbolt file.
type Store struct {
	db  *bbolt.DB
	idx *listindex.Index

	mu       sync.Mutex
	watchers map[int]func(string)
	nextID   int

	inCommit func() // see SetInCommitHook

	partValues *bufpool.Pool // buffers PutStagedParts writes its values into
}

// SetInCommitHook makes every publish call fn inside its transaction,
// after the documents are written and before the repository's state is:
// crash tests kill the server there. nil removes it. Call it before the
// store is used; servers never set it.
func (s *Store) SetInCommitHook(fn func()) { s.inCommit = fn }

var _ store.Store = (*Store)(nil)

// partValuesSize is the room of the buffers PutStagedParts keeps: the
// parts of a server with the default limit (api.DefaultMaxMetadataBytes)
// fit.
const partValuesSize = 16 << 20

// initialMmapSize is the address space the database file is mapped into
// at first: bbolt maps it again, larger, when the file outgrows it, and
// to do so copies every key and value a write transaction holds out of
// the old mapping, which for the commit of a large staged update is the
// whole update, held twice. The mapping costs address space, not memory.
const initialMmapSize = 8 << 30

// Open opens or creates the database file at path. It fails after a
// second if another process has the file open.
func Open(path string) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, InitialMmapSize: initialMmapSize})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open %s: the database is in use by another process", path)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{db: db, watchers: map[int]func(string){}, partValues: bufpool.New(2, partValuesSize)}
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

// migrate creates the buckets and records the schema version.
func (s *Store) migrate() error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		var have uint64
		if v := meta.Get([]byte("schema")); v != nil {
			if have = binary.BigEndian.Uint64(v); have > schemaVersion {
				return fmt.Errorf("database schema version %d is newer than this server's (%d)", have, schemaVersion)
			}
		}
		for _, b := range [][]byte{bucketRepos, bucketFiles, bucketChanges, bucketGUNChanges, bucketTokens, bucketKeys, bucketTargets, bucketDeleted, bucketTargets512, bucketDocs, bucketListIndex, bucketIndexed} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if have < 2 {
			// Schema 2 indexes targets by SHA-512 too.
			by512 := tx.Bucket(bucketTargets512)
			err := tx.Bucket(bucketTargets).ForEach(func(k, v []byte) error {
				var t store.Target
				if err := json.Unmarshal(v, &t); err != nil {
					return err
				}
				gun, _, _ := bytes.Cut(k, []byte{0})
				return by512.Put(key(string(gun), t.SHA512), []byte(t.SHA256))
			})
			if err != nil {
				return fmt.Errorf("indexing targets by SHA-512: %w", err)
			}
		}
		if err := s.openIndex(tx, meta); err != nil {
			return err
		}
		if have < 4 {
			if err := s.migrateListings(tx); err != nil {
				return fmt.Errorf("moving listings to the compact index: %w", err)
			}
		}
		return meta.Put([]byte("schema"), u64(schemaVersion))
	})
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func key(parts ...string) []byte { return appendKey(nil, parts...) }

// appendKey appends the key of parts (joined by NUL) to dst.
func appendKey(dst []byte, parts ...string) []byte {
	for i, p := range parts {
		if i > 0 {
			dst = append(dst, 0)
		}
		dst = append(dst, p...)
	}
	return dst
}

func fileKey(gun, role string, version int64) []byte {
	return binary.BigEndian.AppendUint64(append(key(gun, role), 0), uint64(version))
}

func getJSON(b *bbolt.Bucket, k []byte, v any) error {
	data := b.Get(k)
	if data == nil {
		return store.ErrNotFound
	}
	return json.Unmarshal(data, v)
}

func putJSON(b *bbolt.Bucket, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, data)
}

// Repo implements store.Store.
func (s *Store) Repo(_ context.Context, gun string) (store.Repo, error) {
	var r store.Repo
	err := s.db.View(func(tx *bbolt.Tx) error {
		return getJSON(tx.Bucket(bucketRepos), []byte(gun), &r)
	})
	if err != nil {
		return store.Repo{}, fmt.Errorf("repository %s: %w", gun, err)
	}
	return r, nil
}

// File implements store.Store.
func (s *Store) File(_ context.Context, gun, role string, version int64) (store.File, error) {
	f := store.File{Role: role, Version: version}
	err := s.db.View(func(tx *bbolt.Tx) error {
		sum, data, err := fileData(tx, tx.Bucket(bucketFiles).Get(fileKey(gun, role, version)))
		if err != nil {
			return err
		}
		f.SHA256, f.Data = string(sum), bytes.Clone(data)
		return nil
	})
	if err != nil {
		return store.File{}, fmt.Errorf("%s: %d.%s.json: %w", gun, version, role, err)
	}
	return f, nil
}

// Publish implements store.Store.
func (s *Store) Publish(_ context.Context, u store.Update) (store.Change, error) {
	return s.publish(u, nil)
}

// publish is Publish, with more to write in the same transaction (see
// CommitStaged).
func (s *Store) publish(u store.Update, extra func(tx *bbolt.Tx) error) (store.Change, error) {
	gun := u.Repo.GUN
	var ch store.Change
	err := s.db.Update(func(tx *bbolt.Tx) error {
		repos := tx.Bucket(bucketRepos)
		var cur store.Repo
		switch err := getJSON(repos, []byte(gun), &cur); {
		case errors.Is(err, store.ErrNotFound):
			if u.Base != 0 {
				return fmt.Errorf("%w: the repository does not exist", store.ErrConflict)
			}
		case err != nil:
			return err
		case cur.TimestampVersion != u.Base:
			return fmt.Errorf("%w: timestamp version is %d, the update is based on %d", store.ErrConflict, cur.TimestampVersion, u.Base)
		}
		files := tx.Bucket(bucketFiles)
		var tsSum string
		for _, f := range u.Files {
			k := fileKey(gun, f.Role, f.Version)
			if files.Get(k) != nil {
				return fmt.Errorf("%w: %d.%s.json exists", store.ErrConflict, f.Version, f.Role)
			}
			if err := files.Put(k, append([]byte(f.SHA256), f.Data...)); err != nil {
				return err
			}
			if f.Role == "timestamp" && f.Version == u.Repo.TimestampVersion {
				tsSum = f.SHA256
			}
		}
		if extra != nil {
			if err := extra(tx); err != nil {
				return err
			}
		}
		chunks, indexed, err := s.idx.BuildUpdate(&u)
		if err != nil {
			return err
		}
		// The chunks hold them now: let the listings go before the
		// transaction's commit allocates the pages it writes.
		u.Listings, u.ListingGroups, u.Prepared = nil, nil, nil
		if err := putChunks(tx, gun, chunks, indexed); err != nil {
			return err
		}
		if s.inCommit != nil {
			s.inCommit() // files written, repository not yet updated
		}
		r := u.Repo
		r.UpdatedAt = time.Now().UTC()
		if err := putJSON(repos, []byte(gun), r); err != nil {
			return err
		}
		ch, err = addChange(tx, store.Change{GUN: gun, Version: r.TimestampVersion, SHA256: tsSum, Category: store.CategoryUpdate})
		return err
	})
	if err != nil {
		return store.Change{}, fmt.Errorf("publish %s: %w", gun, err)
	}
	s.notify(gun)
	return ch, nil
}

func addChange(tx *bbolt.Tx, ch store.Change) (store.Change, error) {
	b := tx.Bucket(bucketChanges)
	id, err := b.NextSequence()
	if err != nil {
		return ch, err
	}
	ch.ID = int64(id)
	ch.CreatedAt = time.Now().UTC()
	if err := putJSON(b, u64(id), ch); err != nil {
		return ch, err
	}
	return ch, tx.Bucket(bucketGUNChanges).Put(append(key(ch.GUN, ""), u64(id)...), nil)
}

// deletePrefix deletes every key of b that starts with prefix and returns
// how many it deleted.
func deletePrefix(b *bbolt.Bucket, prefix []byte) (int, error) {
	// Keys are gathered a batch at a time and then deleted: seeking after
	// every delete walks over the leaves that earlier deletes emptied (they
	// are removed only at commit), which made deleting n keys take n² time.
	const batch = 4096
	keys := make([][]byte, 0, batch)
	n := 0
	for from := prefix; ; {
		keys = keys[:0]
		c := b.Cursor()
		for k, _ := c.Seek(from); k != nil && bytes.HasPrefix(k, prefix) && len(keys) < batch; k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return n, err
			}
			n++
		}
		if len(keys) < batch {
			return n, nil
		}
		from = keys[len(keys)-1]
	}
}

// Delete implements store.Store.
func (s *Store) Delete(_ context.Context, gun string) (store.Change, error) {
	var ch store.Change
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketRepos).Delete([]byte(gun)); err != nil {
			return err
		}
		now := time.Now().UTC()
		if err := tx.Bucket(bucketDeleted).Put([]byte(gun), []byte(now.Format(time.RFC3339Nano))); err != nil {
			return err
		}
		prefix := key(gun, "")
		if _, err := deletePrefix(tx.Bucket(bucketFiles), prefix); err != nil {
			return err
		}
		if _, err := deletePrefix(tx.Bucket(bucketTargets), prefix); err != nil {
			return err
		}
		if _, err := deletePrefix(tx.Bucket(bucketTargets512), prefix); err != nil {
			return err
		}
		if err := deleteListings(tx, gun); err != nil {
			return err
		}
		if err := deleteBuckets(tx.Bucket(bucketDocs), prefix); err != nil {
			return err
		}
		var err error
		ch, err = addChange(tx, store.Change{GUN: gun, Category: store.CategoryDeletion})
		return err
	})
	if err != nil {
		return store.Change{}, fmt.Errorf("delete %s: %w", gun, err)
	}
	s.notify(gun)
	return ch, nil
}

// PruneTimestamps implements store.Store.
func (s *Store) PruneTimestamps(_ context.Context, keep int64) (int, error) {
	keep = max(keep, 1)
	n := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		files := tx.Bucket(bucketFiles)
		return tx.Bucket(bucketRepos).ForEach(func(gun, v []byte) error {
			var r store.Repo
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			last := r.TimestampVersion - keep // the newest version to delete
			prefix := append(key(string(gun), "timestamp"), 0)
			c := files.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
				if int64(binary.BigEndian.Uint64(k[len(prefix):])) > last {
					break
				}
				if err := files.Delete(k); err != nil {
					return err
				}
				n++
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("prune timestamps: %w", err)
	}
	return n, nil
}

// Deleted implements store.Store.
func (s *Store) Deleted(_ context.Context, gun string) (bool, error) {
	var deleted bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		deleted = tx.Bucket(bucketDeleted).Get([]byte(gun)) != nil
		return nil
	})
	return deleted, err
}

// Expiring implements store.Store.
func (s *Store) Expiring(_ context.Context, tsBefore, snapBefore time.Time) ([]store.Repo, error) {
	var out []store.Repo
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketRepos).ForEach(func(_, v []byte) error {
			var r store.Repo
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if r.TimestampExpires.Before(tsBefore) || (r.SnapshotOnline && r.SnapshotExpires.Before(snapBefore)) {
				out = append(out, r)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list expiring repositories: %w", err)
	}
	return out, nil
}

// Changes implements store.Store.
func (s *Store) Changes(_ context.Context, gun string, since int64, limit int) ([]store.Change, error) {
	var out []store.Change
	if since < 0 {
		since = 0
	}
	err := s.db.View(func(tx *bbolt.Tx) error {
		changes := tx.Bucket(bucketChanges)
		if gun == "" {
			c := changes.Cursor()
			for k, v := c.Seek(u64(uint64(since) + 1)); k != nil && len(out) < limit; k, v = c.Next() {
				var ch store.Change
				if err := json.Unmarshal(v, &ch); err != nil {
					return err
				}
				out = append(out, ch)
			}
			return nil
		}
		prefix := key(gun, "")
		c := tx.Bucket(bucketGUNChanges).Cursor()
		for k, _ := c.Seek(append(bytes.Clone(prefix), u64(uint64(since)+1)...)); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Next() {
			var ch store.Change
			if err := getJSON(changes, k[len(prefix):], &ch); err != nil {
				return err
			}
			out = append(out, ch)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("changefeed: %w", err)
	}
	return out, nil
}

// ChangesBefore implements store.Store.
func (s *Store) ChangesBefore(_ context.Context, gun string, before int64, limit int) ([]store.Change, error) {
	end := uint64(math.MaxUint64)
	if before >= 0 {
		end = uint64(before)
	}
	var out []store.Change
	err := s.db.View(func(tx *bbolt.Tx) error {
		changes := tx.Bucket(bucketChanges)
		bucket, prefix := changes, []byte(nil)
		if gun != "" {
			bucket, prefix = tx.Bucket(bucketGUNChanges), key(gun, "")
		}
		c := bucket.Cursor()
		// Walk back from the first key at or after the end.
		k, v := c.Seek(append(bytes.Clone(prefix), u64(end)...))
		if k == nil {
			k, v = c.Last()
		}
		for ; k != nil && len(out) < limit; k, v = c.Prev() {
			if !bytes.HasPrefix(k, prefix) {
				if bytes.Compare(k, prefix) < 0 {
					break
				}
				continue // a later GUN's keys, before reaching this one's
			}
			id := k[len(prefix):]
			if binary.BigEndian.Uint64(id) >= end {
				continue
			}
			var ch store.Change
			if gun == "" {
				if err := json.Unmarshal(v, &ch); err != nil {
					return err
				}
			} else if err := getJSON(changes, id, &ch); err != nil {
				return err
			}
			out = append(out, ch)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("changefeed: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// CreateToken implements store.Store.
func (s *Store) CreateToken(_ context.Context, t store.Token) error {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now().UTC()
	}
	t.ID = "" // derived from the hash on every read
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if b.Get([]byte(t.Hash)) != nil {
			return fmt.Errorf("%w: token exists", store.ErrConflict)
		}
		if k, _ := tokenByID(b, store.TokenID(t.Hash)); k != nil {
			return fmt.Errorf("%w: a token with ID %s exists", store.ErrConflict, store.TokenID(t.Hash))
		}
		return putJSON(b, []byte(t.Hash), t)
	})
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

// tokenByID finds the token whose hash starts with id: tokens are keyed by
// hash, so it is the key at or after id, if that key has id as its ID.
func tokenByID(b *bbolt.Bucket, id string) (k, v []byte) {
	k, v = b.Cursor().Seek([]byte(id))
	if k == nil || store.TokenID(string(k)) != id {
		return nil, nil
	}
	return k, v
}

func decodeToken(hash, v []byte) (store.Token, error) {
	var t store.Token
	if err := json.Unmarshal(v, &t); err != nil {
		return store.Token{}, err
	}
	t.Hash, t.ID = string(hash), store.TokenID(string(hash))
	return t, nil
}

// Token implements store.Store.
func (s *Store) Token(_ context.Context, hash string) (store.Token, error) {
	var t store.Token
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketTokens).Get([]byte(hash))
		if v == nil {
			return store.ErrNotFound
		}
		var err error
		t, err = decodeToken([]byte(hash), v)
		return err
	})
	if err != nil {
		return store.Token{}, fmt.Errorf("token: %w", err)
	}
	return t, nil
}

// Tokens implements store.Store.
func (s *Store) Tokens(context.Context) ([]store.Token, error) {
	out := []store.Token{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
			t, err := decodeToken(k, v)
			if err != nil {
				return err
			}
			t.Hash = ""
			out = append(out, t)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	slices.SortStableFunc(out, func(a, b store.Token) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// checkError carries an error from DeleteToken's check out of the
// transaction, to be returned as it is.
type checkError struct{ err error }

func (e checkError) Error() string { return e.err.Error() }

// DeleteToken implements store.Store.
func (s *Store) DeleteToken(_ context.Context, id string, check func(store.Token) error) (store.Token, error) {
	var t store.Token
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		k, v := tokenByID(b, id)
		if k == nil {
			return store.ErrNotFound
		}
		var err error
		if t, err = decodeToken(k, v); err != nil {
			return err
		}
		t.Hash = ""
		if check != nil {
			if err := check(t); err != nil {
				return checkError{err}
			}
		}
		return b.Delete(bytes.Clone(k))
	})
	var ce checkError
	if errors.As(err, &ce) {
		return store.Token{}, ce.err
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("delete token %s: %w", id, err)
	}
	return t, nil
}

// AddOnlineKey implements store.Store.
func (s *Store) AddOnlineKey(_ context.Context, k store.OnlineKey, onlyIfNone bool) (store.OnlineKey, error) {
	var newest store.OnlineKey
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketKeys)
		prefix := key(k.GUN, k.Role, "")
		c := b.Cursor()
		if kk, v := c.Seek(prefix); kk != nil && bytes.HasPrefix(kk, prefix) && onlyIfNone {
			// Keys are stored under a descending sequence, newest first.
			return json.Unmarshal(v, &newest)
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if k.CreatedAt.IsZero() {
			k.CreatedAt = time.Now().UTC()
		}
		newest = k
		return putJSON(b, append(prefix, u64(^seq)...), k)
	})
	if err != nil {
		return store.OnlineKey{}, fmt.Errorf("add %s key for %s: %w", k.Role, k.GUN, err)
	}
	return newest, nil
}

// OnlineKeys implements store.Store.
func (s *Store) OnlineKeys(_ context.Context, gun, role string) ([]store.OnlineKey, error) {
	var out []store.OnlineKey
	err := s.db.View(func(tx *bbolt.Tx) error {
		prefix := key(gun, role, "")
		c := tx.Bucket(bucketKeys).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var ok store.OnlineKey
			if err := json.Unmarshal(v, &ok); err != nil {
				return err
			}
			out = append(out, ok)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s keys of %s: %w", role, gun, err)
	}
	return out, nil
}

// SomeOnlineKeys implements store.Store. The bucket is ordered by GUN, so
// these are the newest keys of the first GUNs, which is as good a sample.
func (s *Store) SomeOnlineKeys(_ context.Context, limit int) ([]store.OnlineKey, error) {
	var out []store.OnlineKey
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketKeys).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			var ok store.OnlineKey
			if err := json.Unmarshal(v, &ok); err != nil {
				return err
			}
			out = append(out, ok)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("online keys: %w", err)
	}
	return out, nil
}

// DeleteOnlineKeys implements store.Store.
func (s *Store) DeleteOnlineKeys(_ context.Context, gun string) (int, error) {
	var n int
	err := s.db.Update(func(tx *bbolt.Tx) (err error) {
		n, err = deletePrefix(tx.Bucket(bucketKeys), key(gun, ""))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete online keys of %s: %w", gun, err)
	}
	return n, nil
}

// AddTarget implements store.Store.
func (s *Store) AddTarget(_ context.Context, gun string, t store.Target) error {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now().UTC()
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketTargets512).Put(key(gun, t.SHA512), []byte(t.SHA256)); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketTargets), key(gun, t.SHA256), t)
	})
	if err != nil {
		return fmt.Errorf("add target to %s: %w", gun, err)
	}
	return nil
}

// Target implements store.Store: one lookup by SHA-256, or two by
// SHA-512, whether the target is there or not.
func (s *Store) Target(_ context.Context, gun, digest string) (store.Target, error) {
	var t store.Target
	err := s.db.View(func(tx *bbolt.Tx) error {
		sum := []byte(digest)
		if len(digest) != 64 {
			if sum = tx.Bucket(bucketTargets512).Get(key(gun, digest)); sum == nil {
				return store.ErrNotFound
			}
		}
		return getJSON(tx.Bucket(bucketTargets), key(gun, string(sum)), &t)
	})
	if err != nil {
		return store.Target{}, fmt.Errorf("target %s of %s: %w", digest, gun, err)
	}
	return t, nil
}

// TargetDigests implements store.Store.
func (s *Store) TargetDigests(_ context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketTargets).ForEach(func(k, _ []byte) error {
			if _, sum, ok := bytes.Cut(k, []byte{0}); ok {
				out[string(sum)] = true
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("target digests: %w", err)
	}
	return out, nil
}

// Watch implements store.Store. Only this process writes to the file, so
// changes are reported as they commit.
func (s *Store) Watch(ctx context.Context, fn func(string)) error {
	s.mu.Lock()
	id := s.nextID
	s.nextID++
	s.watchers[id] = fn
	s.mu.Unlock()
	<-ctx.Done()
	s.mu.Lock()
	delete(s.watchers, id)
	s.mu.Unlock()
	return nil
}

func (s *Store) notify(gun string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fn := range s.watchers {
		fn(gun)
	}
}

// Ping implements store.Store.
func (s *Store) Ping(context.Context) error { return nil }

// Close implements store.Store.
func (s *Store) Close() error { return s.db.Close() }
