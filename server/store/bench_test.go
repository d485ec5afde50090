package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/bolt"
)

// BenchmarkTargetMiss looks up an unknown SHA-512 among 3,000 targets of
// one GUN in the embedded store: what GET /tuf/GUN/targets/HASH.NAME costs
// for a hash the server does not have. It used to scan every target of the
// GUN; now it is one index lookup, as a hit is.
func BenchmarkTargetMiss(b *testing.B) {
	st, err := bolt.Open(filepath.Join(b.TempDir(), "rampart.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	const gun = "example.com/many"
	for i := range 3000 {
		if err := st.AddTarget(ctx, gun, store.Target{SHA256: fmt.Sprintf("%064x", i), SHA512: fmt.Sprintf("%0128x", i), Length: 1}); err != nil {
			b.Fatal(err)
		}
	}
	miss := fmt.Sprintf("%0128x", 1<<40)
	for b.Loop() {
		if _, err := st.Target(ctx, gun, miss); err == nil {
			b.Fatal("found")
		}
	}
}
