package listindex_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/listindex"
)

// BenchmarkBuild makes the records of a million listings in 4096 roles:
// the index's share of the first publish of a large repository, before
// the store writes them.
func BenchmarkBuild(b *testing.B) {
	key, err := listindex.NewKey()
	if err != nil {
		b.Fatal(err)
	}
	x, err := listindex.New(key)
	if err != nil {
		b.Fatal(err)
	}
	ls := make([]store.Listing, 1_000_000)
	for i := range ls {
		sum := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
		ls[i] = store.Listing{Role: fmt.Sprintf("bins-%03x", i%4096), Path: fmt.Sprintf("packages/project-%d/release-%d.tar.gz", i/100, i), Digest: hex.EncodeToString(sum[:])}
	}
	for b.Loop() {
		chunks, _, err := x.Build(ls)
		if err != nil || len(chunks) != listindex.Chunks {
			b.Fatalf("%d chunks, %v", len(chunks), err)
		}
	}
}
