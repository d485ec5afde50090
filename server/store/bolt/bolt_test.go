package bolt_test

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/bolt"
	"github.com/rampart-tuf/rampart/server/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := bolt.Open(filepath.Join(t.TempDir(), "rampart.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestSecondOpenFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rampart.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s2, err := bolt.Open(path); err == nil {
		s2.Close()
		t.Fatal("a second Open of the same file succeeded")
	}
}

// TestMigrateSchema1 opens a database of schema 1, which had no SHA-512
// index of targets, and finds its targets by SHA-512.
func TestMigrateSchema1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rampart.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sum256, sum512 := strings.Repeat("a", 64), strings.Repeat("b", 128)
	if err := s.AddTarget(ctx, "example.com/old", store.Target{SHA256: sum256, SHA512: sum512, Length: 3}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Make it schema 1 again: no index, version 1.
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket([]byte("targets512")); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint64(nil, 1))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err = bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.Target(ctx, "example.com/old", sum512); err != nil || got.SHA256 != sum256 {
		t.Errorf("Target by SHA-512 after migrating from schema 1 = %+v, %v", got, err)
	}
}

// TestRecordsOfSchema2 loads records as the embedded store wrote them
// before its record types had explicit JSON names
// (testdata/records-schema2.json: bucket, hex key, stored JSON), and checks
// that they load with every field and encode to the same bytes again: a
// renamed Go field cannot change what is stored.
func TestRecordsOfSchema2(t *testing.T) {
	raw, err := os.ReadFile("testdata/records-schema2.json")
	if err != nil {
		t.Fatal(err)
	}
	var recs []struct {
		Bucket string `json:"bucket"`
		Key    string `json:"key_hex"`
		Value  string `json:"value"`
	}
	if err := json.Unmarshal(raw, &recs); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rampart.db")
	s, err := bolt.Open(path) // creates the buckets
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]string{}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, r := range recs {
			k, err := hex.DecodeString(r.Key)
			if err != nil {
				return err
			}
			stored[r.Bucket] = r.Value
			if err := tx.Bucket([]byte(r.Bucket)).Put(k, []byte(r.Value)); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if s, err = bolt.Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const gun = "example.com/app"
	day := func(d, h int) time.Time { return time.Date(2026, 12, d, h, 0, 0, 0, time.UTC) }

	repo, err := s.Repo(ctx, gun)
	if err != nil {
		t.Fatal(err)
	}
	if repo.GUN != gun || repo.RootVersion != 1 || repo.SnapshotVersion != 2 || repo.TimestampVersion != 3 ||
		!repo.TimestampExpires.Equal(day(31, 12)) || !repo.SnapshotExpires.Equal(day(31, 13)) || !repo.SnapshotOnline || repo.UpdatedAt.IsZero() {
		t.Errorf("Repo = %+v", repo)
	}
	changes, err := s.Changes(ctx, "", 0, 10)
	if err != nil || len(changes) != 1 {
		t.Fatalf("Changes = %+v, %v", changes, err)
	}
	ch := changes[0]
	if ch.ID != 1 || ch.GUN != gun || ch.Version != 3 || ch.SHA256 != strings.Repeat("c", 64) || ch.Category != store.CategoryUpdate || ch.CreatedAt.IsZero() {
		t.Errorf("Change = %+v", ch)
	}
	hash := strings.Repeat("d", 64)
	tok, err := s.Token(ctx, hash)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Hash != hash || tok.ID != hash[:16] || tok.GUNPrefix != "example.com/" || tok.Scope != "push" || tok.Description != "ci" || !tok.CreatedAt.Equal(day(29, 12)) {
		t.Errorf("Token = %+v", tok)
	}
	ks, err := s.OnlineKeys(ctx, gun, "timestamp")
	if err != nil || len(ks) != 1 {
		t.Fatalf("OnlineKeys = %+v, %v", ks, err)
	}
	k := ks[0]
	if k.GUN != gun || k.Role != "timestamp" || k.KeyID != strings.Repeat("e", 64) || string(k.Public) != `{"keytype":"ed25519"}` ||
		string(k.Private) != "sealed" || !k.CreatedAt.Equal(day(30, 12)) {
		t.Errorf("OnlineKey = %+v", k)
	}
	tg, err := s.Target(ctx, gun, strings.Repeat("a", 64))
	if err != nil {
		t.Fatal(err)
	}
	if tg.SHA256 != strings.Repeat("a", 64) || tg.SHA512 != strings.Repeat("b", 128) || tg.Length != 42 || !tg.CreatedAt.Equal(day(31, 11)) {
		t.Errorf("Target = %+v", tg)
	}

	// Written again, each record is the same bytes (a token is stored with
	// its ID empty: it is derived from the hash on reads).
	tok.ID = ""
	for bucket, v := range map[string]any{"repos": repo, "changes": ch, "tokens": tok, "keys": k, "targets": tg} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != stored[bucket] {
			t.Errorf("%s record encodes as\n%s\nwas stored as\n%s", bucket, b, stored[bucket])
		}
	}
}

// BenchmarkPublishListings: the first publish of a million listings (see
// storetest.BenchmarkPublishListings).
func BenchmarkPublishListings(b *testing.B) {
	storetest.BenchmarkPublishListings(b, 1_000_000, func(b *testing.B) store.Store {
		s, err := bolt.Open(filepath.Join(b.TempDir(), "rampart.db"))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}

// TestMigrateListings opens a database of schema 3, which kept a key per
// listing, and finds its listings in the index (schema 4); the old bucket
// is gone. A database of a newer schema is refused.
func TestMigrateListings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rampart.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Make it schema 3 again, with its listings: gun NUL digest NUL path
	// NUL role → until (RFC 3339), empty while listed.
	setSchema := func(version uint64, more func(tx *bbolt.Tx) error) {
		t.Helper()
		db, err := bbolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bbolt.Tx) error {
			if err := more(tx); err != nil {
				return err
			}
			return tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint64(nil, version))
		})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	setSchema(3, func(tx *bbolt.Tx) error {
		for _, b := range []string{"listindex", "listed"} {
			if err := tx.DeleteBucket([]byte(b)); err != nil {
				return err
			}
		}
		if err := tx.Bucket([]byte("meta")).Delete([]byte("listkey")); err != nil {
			return err
		}
		old, err := tx.CreateBucket([]byte("listings"))
		if err != nil {
			return err
		}
		for _, l := range storetest.LegacyListings() {
			var until []byte
			if !l.Until.IsZero() {
				until = []byte(l.Until.Format(time.RFC3339Nano))
			}
			k := strings.Join([]string{l.GUN, l.Digest, l.Path, l.Role}, "\x00")
			if err := old.Put([]byte(k), until); err != nil {
				return err
			}
		}
		return nil
	})
	s, err = bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.CheckLegacyListings(t, s)
	s.Close()
	setSchema(5, func(tx *bbolt.Tx) error {
		if tx.Bucket([]byte("listings")) != nil {
			t.Error("the bucket of schema 3's listings is still there")
		}
		return nil
	})
	if s, err := bolt.Open(path); err == nil || !strings.Contains(err.Error(), "schema version 5 is newer than this server's (4)") {
		if err == nil {
			s.Close()
		}
		t.Errorf("Open of a database of schema 5: %v, want refused as newer", err)
	}
}

// TestListingsKeyKept: the index's key is made once and kept, so that
// listings published before the database is opened again are found.
func TestListingsKeyKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rampart.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	digest := strings.Repeat("ab", 32)
	if err := s.AddListings(ctx, "example.com/kept", []store.Listing{{Role: "targets", Path: "a.txt", Digest: digest}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = bolt.Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ok, err := s.Listed(ctx, "example.com/kept", digest, "a.txt", time.Now()); err != nil || !ok {
		t.Errorf("a listing after opening the database again: %v, %v", ok, err)
	}
}
