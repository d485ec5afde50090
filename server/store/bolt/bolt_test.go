package bolt_test

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

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
