package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server/store"
)

// testCollectTargets: CollectTargets deletes the records added before the
// cutoff that no listing keeps (by SHA-256 or SHA-512; listed now, or
// until after the cutoff), and the listings that ended before it; adding a
// target again starts it anew; TargetDigests names the records left.
func testCollectTargets(t *testing.T, s store.Store) {
	ctx := context.Background()
	const gun, other = "example.com/gc", "example.com/gc-other"
	old, cutoff := epoch, epoch.Add(24*time.Hour)
	target := func(n int, created time.Time) store.Target {
		return store.Target{SHA256: fmt.Sprintf("%064x", n), SHA512: fmt.Sprintf("%0128x", n+1000), Length: int64(n), CreatedAt: created}
	}
	// n → what keeps it, if anything.
	cases := map[int]struct {
		created time.Time
		listing *store.Listing
		kept    bool
	}{
		1: {old, nil, false},                                                                         // never listed
		2: {cutoff.Add(time.Hour), nil, true},                                                        // added after the cutoff
		3: {old, &store.Listing{Role: "targets", Path: "a"}, true},                                   // listed now, by SHA-256
		4: {old, &store.Listing{Role: "bins-1", Path: "b", Until: cutoff.Add(time.Minute)}, true},    // served past the cutoff
		5: {old, &store.Listing{Role: "targets", Path: "c", Until: cutoff.Add(-time.Minute)}, false}, // ended before it
		6: {old, &store.Listing{Role: "targets", Path: "d"}, true},                                   // listed now, by SHA-512
	}
	mustPublish(t, s, update(gun, 0))
	var ls []store.Listing
	for n, c := range cases {
		if err := s.AddTarget(ctx, gun, target(n, c.created)); err != nil {
			t.Fatal(err)
		}
		if c.listing != nil {
			l := *c.listing
			l.Digest = target(n, c.created).SHA256
			if n == 6 {
				l.Digest = target(n, c.created).SHA512
			}
			ls = append(ls, l)
		}
	}
	ls = append(ls, store.ListingsIndexed)
	if err := s.AddListings(ctx, gun, ls); err != nil {
		t.Fatal(err)
	}
	// Another repository's listing keeps nothing here.
	if err := s.AddListings(ctx, other, []store.Listing{{Role: "targets", Path: "x", Digest: target(1, old).SHA256}}); err != nil {
		t.Fatal(err)
	}
	// Added again after the cutoff: kept, though never listed.
	if err := s.AddTarget(ctx, gun, target(7, old)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddTarget(ctx, gun, target(7, cutoff.Add(time.Second))); err != nil {
		t.Fatal(err)
	}

	got, err := s.CollectTargets(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	var gone []string
	for _, h := range got {
		if h.GUN != gun {
			t.Errorf("collected a target of %s", h.GUN)
		}
		gone = append(gone, h.SHA256)
	}
	slices.Sort(gone)
	if want := []string{target(1, old).SHA256, target(5, old).SHA256}; !slices.Equal(gone, want) {
		t.Errorf("CollectTargets collected %v, want %v", gone, want)
	}
	held, err := s.TargetDigests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for n, c := range cases {
		if _, err := s.Target(ctx, gun, target(n, old).SHA512); (err == nil) != c.kept {
			t.Errorf("target %d after the collection: %v, want kept %v", n, err, c.kept)
		}
		if held[target(n, old).SHA256] != c.kept {
			t.Errorf("TargetDigests names target %d: %v, want %v", n, !c.kept, c.kept)
		}
	}
	if !held[target(7, old).SHA256] {
		t.Error("a target added again after the cutoff was collected")
	}
	// The listing that ended before the cutoff is gone, the others stay.
	for n, c := range cases {
		if c.listing == nil {
			continue
		}
		d := target(n, old).SHA256
		if n == 6 {
			d = target(n, old).SHA512
		}
		listed, err := s.Listed(ctx, gun, d, c.listing.Path, time.Time{})
		if err != nil || listed != (n != 5) {
			t.Errorf("listing of target %d after the collection: %v, %v", n, listed, err)
		}
	}
	if ok, err := s.Listed(ctx, gun, "", "", time.Time{}); err != nil || !ok {
		t.Errorf("the repository's listings are no longer marked indexed: %v, %v", ok, err)
	}
	if again, err := s.CollectTargets(ctx, cutoff); err != nil || len(again) != 0 {
		t.Errorf("a second collection: %v, %v; want nothing", again, err)
	}
}
