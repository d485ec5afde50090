package server

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// TestAllListings: every path of a first version is listed by the hex of
// each digest it has (SHA-256, SHA-512 or both), and nothing else.
func TestAllListings(t *testing.T) {
	tg := metadata.NewTargets(time.Now().Add(time.Hour))
	var want []store.Listing
	for i := range 300 {
		p := fmt.Sprintf("dir/file-%03d", i)
		s256, s512 := sha256.Sum256([]byte(p)), sha512.Sum512([]byte(p))
		var h metadata.Hashes
		if i%3 != 2 {
			h.SHA256 = s256[:]
			want = append(want, store.Listing{Role: "bins-1", Path: p, Digest: hex.EncodeToString(s256[:])})
		}
		if i%3 != 0 {
			h.SHA512 = s512[:]
			want = append(want, store.Listing{Role: "bins-1", Path: p, Digest: hex.EncodeToString(s512[:])})
		}
		tg.Targets[p] = metadata.TargetFile{Length: int64(i), Hashes: h}
	}
	got := listingChanges("bins-1", nil, tg, time.Time{})
	order := func(a, b store.Listing) int {
		return strings.Compare(a.Path+" "+a.Digest, b.Path+" "+b.Digest)
	}
	slices.SortFunc(got, order)
	slices.SortFunc(want, order)
	if !slices.Equal(got, want) {
		t.Fatalf("%d listings, want %d; first: %+v, want %+v", len(got), len(want), got[:min(1, len(got))], want[0])
	}
}
