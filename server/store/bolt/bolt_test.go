package bolt_test

import (
	"path/filepath"
	"testing"

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
