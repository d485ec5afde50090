package store_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server/store"
)

// TestListingOrder checks the fast ordering of many listings against a
// plain sort, with digests that share their first eight bytes, short and
// empty ones, and listings that differ only in path or role.
func TestListingOrder(t *testing.T) {
	for _, n := range []int{0, 1, 10, 5000, 6000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(n)))
			ls := make([]store.Listing, n)
			for i := range ls {
				var d string
				switch r.IntN(6) {
				case 5:
					d = fmt.Sprintf("%064x", r.IntN(50)) // long shared prefix, as in scripts/bench-staged.sh
				case 0:
					d = fmt.Sprintf("%08x%056x", r.IntN(4), r.IntN(8)) // shared prefixes
				case 1:
					d = fmt.Sprintf("%x", r.IntN(300)) // short
				case 2:
					d = ""
				default:
					d = fmt.Sprintf("%064x", r.Uint64())
				}
				if n == 6000 && i > 0 { // every digest but one shares its first 60 digits
					d = fmt.Sprintf("%064x", r.IntN(3000))
				}
				if n == 6000 && i%1000 == 0 { // and a few do not
					d = []string{"", "0", "00000000000000000000000000000000000000000000000000000000000000000", "1", "f"}[i/1000%5]
				}
				ls[i] = store.Listing{Role: fmt.Sprint("r", r.IntN(3)), Path: fmt.Sprint("p", r.IntN(4)), Digest: d, Until: time.Unix(int64(i), 0)}
			}
			want := slices.Clone(ls)
			slices.SortStableFunc(want, func(a, b store.Listing) int {
				return cmp.Or(strings.Compare(a.Digest, b.Digest), strings.Compare(a.Path, b.Path), strings.Compare(a.Role, b.Role))
			})
			var got []store.Listing
			for _, i := range store.ListingOrder(ls) {
				got = append(got, ls[i])
			}
			for i := range want {
				w, g := want[i], got[i]
				if w.Digest != g.Digest || w.Path != g.Path || w.Role != g.Role {
					t.Fatalf("listing %d: got %+v, want %+v", i, g, w)
				}
			}
			// The same listings, each once: nothing lost or doubled.
			seen := map[time.Time]bool{}
			for _, l := range got {
				if seen[l.Until] {
					t.Fatalf("listing %v twice", l)
				}
				seen[l.Until] = true
			}
			if len(seen) != n {
				t.Fatalf("%d listings after sorting, want %d", len(seen), n)
			}
		})
	}
}

// BenchmarkListingOrder orders the listings of a million targets, as
// scripts/bench-staged.sh makes them (digests with a long shared prefix).
func BenchmarkListingOrder(b *testing.B) {
	ls := make([]store.Listing, 1000000)
	for i := range ls {
		ls[i] = store.Listing{Role: fmt.Sprintf("bins-%03x", i%4096), Path: fmt.Sprintf("project-%07d/releases/artifact-%07d.tar.gz", i, i), Digest: fmt.Sprintf("%064x", (i*7919)%len(ls))}
	}
	ls = append(ls, store.ListingsIndexed)
	for b.Loop() {
		store.ListingOrder(ls)
	}
}
