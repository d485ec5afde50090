package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server/store"
)

// BenchmarkPublishListings times the first publish of a repository that
// lists n targets in 4096 hashed bins, as the commit of a large staged
// update writes them: one small document and n listings (plus
// store.ListingsIndexed), so that the time is the listings index's.
// open returns an empty store for each run.
func BenchmarkPublishListings(b *testing.B, n int, open func(b *testing.B) store.Store) {
	ls := make([]store.Listing, 0, n+1)
	for i := range n {
		sum := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
		ls = append(ls, store.Listing{
			Role:   fmt.Sprintf("bins-%03x", binary.BigEndian.Uint16(sum[:])>>4),
			Path:   fmt.Sprintf("packages/project-%d/release-%d.tar.gz", i/100, i),
			Digest: hex.EncodeToString(sum[:]),
		})
	}
	ls = append(ls, store.ListingsIndexed)
	ctx := context.Background()
	var cpu time.Duration // of this process, in Publish
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := open(b)
		u := update(fmt.Sprintf("example.com/bench/%d", i), 0)
		u.Listings = append([]store.Listing(nil), ls...)
		b.StartTimer()
		start := cpuTime()
		if _, err := s.Publish(ctx, u); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - start
		b.StopTimer()
		if ok, err := s.Listed(ctx, u.Repo.GUN, ls[n/2].Digest, ls[n/2].Path, epoch); err != nil || !ok {
			b.Fatalf("a listing published is not listed: %v, %v", ok, err)
		}
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}
