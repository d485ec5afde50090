// Package storetest holds the conformance tests that every implementation
// of store.Store passes. An implementation's tests call [Run] with a
// function that returns a fresh, empty store.
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server/store"
)

// Run runs the conformance tests. newStore returns a fresh, empty store
// and arranges for it to be closed when the test ends.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"PublishAndRead", testPublishAndRead},
		{"Conflicts", testConflicts},
		{"ConcurrentPublishers", testConcurrentPublishers},
		{"Changefeed", testChangefeed},
		{"Delete", testDelete},
		{"PruneTimestamps", testPruneTimestamps},
		{"Expiring", testExpiring},
		{"Tokens", testTokens},
		{"ListTokens", testListTokens},
		{"DeleteToken", testDeleteToken},
		{"OnlineKeys", testOnlineKeys},
		{"Targets", testTargets},
		{"CollectTargets", testCollectTargets},
		{"ManyListings", testManyListings},
		{"ListingsRule", testListingsRule},
		{"Watch", testWatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func file(role string, version int64, content string) store.File {
	sum := sha256.Sum256([]byte(content))
	return store.File{Role: role, Version: version, SHA256: hex.EncodeToString(sum[:]), Data: []byte(content)}
}

var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// update makes an update to timestamp version base+1 with one targets
// document, root version 1 when base is 0.
func update(gun string, base int64, extra ...store.File) store.Update {
	v := base + 1
	files := []store.File{
		file("snapshot", v, fmt.Sprintf("snapshot %s %d", gun, v)),
		file("timestamp", v, fmt.Sprintf("timestamp %s %d", gun, v)),
	}
	if base == 0 {
		files = append(files, file("root", 1, "root "+gun))
	}
	files = append(files, extra...)
	return store.Update{Base: base, Files: files, Repo: store.Repo{
		GUN: gun, RootVersion: 1, SnapshotVersion: v, TimestampVersion: v,
		TimestampExpires: epoch.Add(time.Duration(v) * time.Hour), SnapshotExpires: epoch.Add(48 * time.Hour), SnapshotOnline: true,
	}}
}

func mustPublish(t *testing.T, s store.Store, u store.Update) store.Change {
	t.Helper()
	ch, err := s.Publish(context.Background(), u)
	if err != nil {
		t.Fatalf("Publish(%s, base %d): %v", u.Repo.GUN, u.Base, err)
	}
	return ch
}

func testPublishAndRead(t *testing.T, s store.Store) {
	ctx := context.Background()
	const gun = "example.com/acme/app"
	if _, err := s.Repo(ctx, gun); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Repo of a new GUN: got %v, want ErrNotFound", err)
	}
	ch := mustPublish(t, s, update(gun, 0, file("targets", 1, "targets 1"), file("role1", 1, "role1 1")))
	if ch.ID <= 0 || ch.GUN != gun || ch.Version != 1 || ch.Category != store.CategoryUpdate {
		t.Errorf("change = %+v", ch)
	}
	if want := file("timestamp", 1, "timestamp "+gun+" 1").SHA256; ch.SHA256 != want {
		t.Errorf("change SHA256 = %q, want the timestamp's %q", ch.SHA256, want)
	}
	r, err := s.Repo(ctx, gun)
	if err != nil {
		t.Fatal(err)
	}
	want := update(gun, 0).Repo
	if r.GUN != gun || r.TimestampVersion != 1 || r.SnapshotVersion != 1 || r.RootVersion != 1 ||
		!r.TimestampExpires.Equal(want.TimestampExpires) || !r.SnapshotExpires.Equal(want.SnapshotExpires) || !r.SnapshotOnline || r.UpdatedAt.IsZero() {
		t.Errorf("Repo = %+v, want %+v", r, want)
	}
	for _, f := range []store.File{file("targets", 1, "targets 1"), file("role1", 1, "role1 1"), file("root", 1, "root "+gun)} {
		got, err := s.File(ctx, gun, f.Role, f.Version)
		if err != nil {
			t.Fatalf("File(%s, %d): %v", f.Role, f.Version, err)
		}
		if string(got.Data) != string(f.Data) || got.SHA256 != f.SHA256 || got.Role != f.Role || got.Version != f.Version {
			t.Errorf("File(%s, %d) = %+v, want %+v", f.Role, f.Version, got, f)
		}
	}
	if _, err := s.File(ctx, gun, "targets", 2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("File of a missing version: got %v, want ErrNotFound", err)
	}
	if _, err := s.File(ctx, "example.com/other", "targets", 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("File of another GUN: got %v, want ErrNotFound", err)
	}
	mustPublish(t, s, update(gun, 1, file("targets", 2, "targets 2")))
	if r, _ := s.Repo(ctx, gun); r.TimestampVersion != 2 {
		t.Errorf("timestamp version after a second publish = %d, want 2", r.TimestampVersion)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func testConflicts(t *testing.T, s store.Store) {
	ctx := context.Background()
	const gun = "example.com/conflict"
	mustPublish(t, s, update(gun, 0, file("targets", 1, "t1")))

	check := func(name string, u store.Update) {
		t.Helper()
		if _, err := s.Publish(ctx, u); !errors.Is(err, store.ErrConflict) {
			t.Errorf("%s: got %v, want ErrConflict", name, err)
		}
		if r, _ := s.Repo(ctx, gun); r.TimestampVersion != 1 {
			t.Errorf("%s: timestamp version changed to %d", name, r.TimestampVersion)
		}
		if _, err := s.File(ctx, gun, "targets", 2); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: a file of the failed update was stored (%v)", name, err)
		}
	}
	check("create an existing repository", update(gun, 0, file("targets", 2, "t2")))
	check("stale base", func() store.Update { u := update(gun, 1, file("targets", 2, "t2")); u.Base = 5; return u }())
	check("existing file", update(gun, 1, file("targets", 2, "t2"), file("targets", 1, "t1 again")))
	u := update("example.com/missing", 3)
	if _, err := s.Publish(ctx, u); !errors.Is(err, store.ErrConflict) {
		t.Errorf("base on a missing repository: got %v, want ErrConflict", err)
	}
	if _, err := s.Repo(ctx, "example.com/missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a failed update created a repository: %v", err)
	}
}

// testConcurrentPublishers runs 32 writers that each read the current
// state and publish on top of it, retrying on conflict: every update must
// land exactly once, with strictly increasing versions.
func testConcurrentPublishers(t *testing.T, s store.Store) {
	ctx := context.Background()
	const gun = "example.com/busy"
	const writers, each = 32, 3
	mustPublish(t, s, update(gun, 0))
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	var mu sync.Mutex
	seen := map[int64]bool{}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; {
				r, err := s.Repo(ctx, gun)
				if err != nil {
					errs <- err
					return
				}
				u := update(gun, r.TimestampVersion, file(fmt.Sprintf("w%d", w), int64(i+1), fmt.Sprintf("w%d %d", w, i)))
				ch, err := s.Publish(ctx, u)
				if errors.Is(err, store.ErrConflict) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if seen[ch.Version] {
					errs <- fmt.Errorf("timestamp version %d published twice", ch.Version)
				}
				seen[ch.Version] = true
				mu.Unlock()
				i++
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r, err := s.Repo(ctx, gun)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(1 + writers*each); r.TimestampVersion != want {
		t.Errorf("final timestamp version %d, want %d", r.TimestampVersion, want)
	}
	for w := range writers {
		for i := range each {
			if _, err := s.File(ctx, gun, fmt.Sprintf("w%d", w), int64(i+1)); err != nil {
				t.Errorf("update %d of writer %d lost: %v", i, w, err)
			}
		}
	}
	changes, err := s.Changes(ctx, gun, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1+writers*each {
		t.Errorf("%d changes, want %d", len(changes), 1+writers*each)
	}
	for i := 1; i < len(changes); i++ {
		if changes[i].ID <= changes[i-1].ID || changes[i].Version != changes[i-1].Version+1 {
			t.Fatalf("changes %d and %d out of order: %+v, %+v", i-1, i, changes[i-1], changes[i])
		}
	}
}

func testChangefeed(t *testing.T, s store.Store) {
	ctx := context.Background()
	if got, err := s.Changes(ctx, "", 0, 10); err != nil || len(got) != 0 {
		t.Fatalf("Changes of an empty store = %v, %v", got, err)
	}
	a, b := "example.com/a", "example.com/b"
	mustPublish(t, s, update(a, 0))
	mustPublish(t, s, update(b, 0))
	mustPublish(t, s, update(a, 1))
	del, err := s.Delete(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.Changes(ctx, "", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("got %d changes, want 4: %+v", len(all), all)
	}
	wantGUNs := []string{a, b, a, b}
	wantCats := []string{store.CategoryUpdate, store.CategoryUpdate, store.CategoryUpdate, store.CategoryDeletion}
	for i, c := range all {
		if c.GUN != wantGUNs[i] || c.Category != wantCats[i] || c.CreatedAt.IsZero() {
			t.Errorf("change %d = %+v, want %s %s", i, c, wantGUNs[i], wantCats[i])
		}
		if i > 0 && c.ID <= all[i-1].ID {
			t.Errorf("change IDs not increasing: %d after %d", c.ID, all[i-1].ID)
		}
	}
	if all[3].ID != del.ID || all[3].Version != 0 || all[3].SHA256 != "" {
		t.Errorf("deletion entry = %+v, Delete returned %+v", all[3], del)
	}
	page, _ := s.Changes(ctx, "", all[0].ID, 2)
	if len(page) != 2 || page[0].ID != all[1].ID || page[1].ID != all[2].ID {
		t.Errorf("Changes(since=%d, limit=2) = %+v", all[0].ID, page)
	}
	onlyA, _ := s.Changes(ctx, a, 0, 100)
	if len(onlyA) != 2 || onlyA[0].ID != all[0].ID || onlyA[1].ID != all[2].ID || onlyA[1].Version != 2 {
		t.Errorf("Changes(%s) = %+v", a, onlyA)
	}
	if rest, _ := s.Changes(ctx, a, all[2].ID, 100); len(rest) != 0 {
		t.Errorf("Changes(%s, since last) = %+v, want none", a, rest)
	}

	// Backwards: the page before an ID, oldest first.
	ids := func(cs []store.Change) (out []int64) {
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	for _, c := range []struct {
		gun    string
		before int64
		limit  int
		want   []store.Change
	}{
		{"", -1, 2, all[2:]},
		{"", -1, 100, all},
		{"", all[3].ID, 2, all[1:3]},
		{"", all[0].ID, 10, nil},
		{"", all[3].ID + 1000, 1, all[3:]},
		{a, -1, 1, all[2:3]},
		{a, all[2].ID, 10, all[0:1]},
		{a, all[0].ID, 10, nil},
		{b, -1, 10, []store.Change{all[1], all[3]}},
		{b, all[3].ID, 10, all[1:2]},
	} {
		got, err := s.ChangesBefore(ctx, c.gun, c.before, c.limit)
		if err != nil || !slices.Equal(ids(got), ids(c.want)) {
			t.Errorf("ChangesBefore(%q, %d, %d) = %v, %v; want %v", c.gun, c.before, c.limit, ids(got), err, ids(c.want))
		}
	}
}

func testDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	const gun = "example.com/doomed"
	if d, err := s.Deleted(ctx, gun); err != nil || d {
		t.Errorf("Deleted before any deletion = %v, %v", d, err)
	}
	// A GUN with nothing in the store (its keys in a signing service)
	// is recorded as deleted all the same.
	if _, err := s.Delete(ctx, "example.com/keys-only"); err != nil {
		t.Errorf("Delete of a GUN with nothing in the store: %v", err)
	}
	if d, err := s.Deleted(ctx, "example.com/keys-only"); err != nil || !d {
		t.Errorf("Deleted after deleting a GUN with nothing in the store = %v, %v", d, err)
	}
	mustPublish(t, s, update(gun, 0, file("targets", 1, "t1")))
	mustPublish(t, s, update("example.com/doomed-not", 0, file("targets", 1, "other")))
	if err := s.AddTarget(ctx, gun, store.Target{SHA256: "aa", SHA512: "bb", Length: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, gun); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Repo(ctx, gun); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Repo after Delete: %v", err)
	}
	if _, err := s.File(ctx, gun, "targets", 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("File after Delete: %v", err)
	}
	if _, err := s.Target(ctx, gun, "aa"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Target after Delete: %v", err)
	}
	if _, err := s.File(ctx, "example.com/doomed-not", "targets", 1); err != nil {
		t.Errorf("Delete removed another repository's file: %v", err)
	}
	if d, err := s.Deleted(ctx, gun); err != nil || !d {
		t.Errorf("Deleted after Delete = %v, %v", d, err)
	}
	if d, _ := s.Deleted(ctx, "example.com/doomed-not"); d {
		t.Errorf("Deleted of another GUN = true")
	}
	// The GUN can be created again, from version 1.
	mustPublish(t, s, update(gun, 0, file("targets", 1, "t1 again")))
	if f, err := s.File(ctx, gun, "targets", 1); err != nil || string(f.Data) != "t1 again" {
		t.Errorf("File after re-creation = %q, %v", f.Data, err)
	}
}

func testExpiring(t *testing.T, s store.Store) {
	ctx := context.Background()
	u1 := update("example.com/soon", 0) // timestamp expires at epoch+1h
	mustPublish(t, s, u1)
	u2 := update("example.com/later", 0)
	u2.Repo.TimestampExpires = epoch.Add(100 * time.Hour)
	u2.Repo.SnapshotExpires = epoch.Add(100 * time.Hour)
	mustPublish(t, s, u2)
	u3 := update("example.com/offline-snapshot", 0)
	u3.Repo.TimestampExpires = epoch.Add(100 * time.Hour)
	u3.Repo.SnapshotExpires = epoch
	u3.Repo.SnapshotOnline = false
	mustPublish(t, s, u3)

	got, err := s.Expiring(ctx, epoch.Add(2*time.Hour), epoch.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].GUN != "example.com/soon" {
		t.Errorf("Expiring = %+v, want example.com/soon only", got)
	}
	got, _ = s.Expiring(ctx, epoch, epoch.Add(101*time.Hour))
	if len(got) != 2 {
		t.Errorf("Expiring by snapshot = %+v, want soon and later", got)
	}
}

func testTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	tok := store.Token{Hash: "abc123", GUNPrefix: "example.com/acme", Scope: "push", Description: "ci"}
	if _, err := s.Token(ctx, tok.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Token before CreateToken: %v", err)
	}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.Token(ctx, tok.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash != tok.Hash || got.ID != "abc123" || got.GUNPrefix != tok.GUNPrefix || got.Scope != tok.Scope || got.Description != tok.Description || got.CreatedAt.IsZero() {
		t.Errorf("Token = %+v, want %+v with ID abc123", got, tok)
	}
	if err := s.CreateToken(ctx, tok); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateToken twice: got %v, want ErrConflict", err)
	}
}

// tokenHash returns a hash as the server stores it: hex SHA-256.
func tokenHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func testListTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	if got, err := s.Tokens(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Tokens of an empty store = %+v, %v", got, err)
	}
	// Created out of order; listed oldest first.
	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	want := []store.Token{
		{Hash: tokenHash("a"), GUNPrefix: "", Scope: "admin", Description: "admin token from /data/admin.token", CreatedAt: past},
		{Hash: tokenHash("b"), GUNPrefix: "example.com/acme", Scope: "push", Description: "ci", CreatedAt: past.Add(time.Second)},
		{Hash: tokenHash("c"), GUNPrefix: "example.com/acme/", Scope: "pull", Description: "", CreatedAt: past.Add(2 * time.Second)},
	}
	for _, i := range []int{2, 0, 1} {
		if err := s.CreateToken(ctx, want[i]); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Tokens = %+v, want %d tokens", got, len(want))
	}
	for i, g := range got {
		w := want[i]
		if g.Hash != "" {
			t.Errorf("Tokens[%d] carries its hash %q", i, g.Hash)
		}
		if g.ID != w.Hash[:store.TokenIDLength] || g.ID != store.TokenID(w.Hash) || g.GUNPrefix != w.GUNPrefix || g.Scope != w.Scope ||
			g.Description != w.Description || !g.CreatedAt.Equal(w.CreatedAt) {
			t.Errorf("Tokens[%d] = %+v, want %+v with ID %s", i, g, w, w.Hash[:store.TokenIDLength])
		}
	}
	// A token without a creation time gets the current one.
	before := time.Now().Add(-time.Minute)
	if err := s.CreateToken(ctx, store.Token{Hash: tokenHash("d"), Scope: "pull"}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Tokens(ctx)
	if len(got) != 4 || got[3].ID != store.TokenID(tokenHash("d")) || got[3].CreatedAt.Before(before) {
		t.Errorf("after a fourth token, Tokens = %+v", got)
	}
	// IDs name one token: another hash with the same first 16 digits is
	// refused.
	clash := want[1].Hash[:store.TokenIDLength] + tokenHash("e")[store.TokenIDLength:]
	if err := s.CreateToken(ctx, store.Token{Hash: clash, Scope: "pull"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateToken with the ID of another token: got %v, want ErrConflict", err)
	}
	if tok, err := s.Token(ctx, want[1].Hash); err != nil || tok.ID != store.TokenID(want[1].Hash) || tok.Hash != want[1].Hash {
		t.Errorf("Token = %+v, %v", tok, err)
	}
}

func testDeleteToken(t *testing.T, s store.Store) {
	ctx := context.Background()
	keep := store.Token{Hash: tokenHash("keep"), Scope: "admin", Description: "keep"}
	gone := store.Token{Hash: tokenHash("gone"), GUNPrefix: "example.com/acme", Scope: "push", Description: "leaked"}
	for _, tok := range []store.Token{keep, gone} {
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	id := store.TokenID(gone.Hash)
	for _, bad := range []string{"", "0000000000000000", id[:8], gone.Hash, id + "0", strings.ToUpper(id)} {
		if _, err := s.DeleteToken(ctx, bad, nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteToken(%q): got %v, want ErrNotFound", bad, err)
		}
	}
	// A check that fails stops the deletion and its error comes back.
	errNo := errors.New("not this one")
	var seen store.Token
	if _, err := s.DeleteToken(ctx, id, func(tok store.Token) error { seen = tok; return errNo }); err != errNo {
		t.Errorf("DeleteToken with a failing check: got %v, want the check's error", err)
	}
	if seen.ID != id || seen.Hash != "" || seen.Description != "leaked" || seen.GUNPrefix != gone.GUNPrefix {
		t.Errorf("the check saw %+v", seen)
	}
	if _, err := s.Token(ctx, gone.Hash); err != nil {
		t.Fatalf("the token is gone after a failed check: %v", err)
	}

	got, err := s.DeleteToken(ctx, id, func(store.Token) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id || got.Hash != "" || got.Scope != "push" || got.GUNPrefix != gone.GUNPrefix || got.Description != "leaked" {
		t.Errorf("DeleteToken = %+v", got)
	}
	if _, err := s.Token(ctx, gone.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Token after DeleteToken: got %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteToken(ctx, id, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteToken twice: got %v, want ErrNotFound", err)
	}
	list, _ := s.Tokens(ctx)
	if len(list) != 1 || list[0].ID != store.TokenID(keep.Hash) {
		t.Errorf("Tokens after DeleteToken = %+v, want only the kept token", list)
	}
	if _, err := s.Token(ctx, keep.Hash); err != nil {
		t.Errorf("the other token: %v", err)
	}
	// The same token can be stored again (rampart serve does so with the
	// one in DATA/admin.token).
	if err := s.CreateToken(ctx, gone); err != nil {
		t.Errorf("CreateToken after DeleteToken: %v", err)
	}
	if _, err := s.DeleteToken(ctx, store.TokenID(gone.Hash), nil); err != nil {
		t.Errorf("DeleteToken without a check: %v", err)
	}
}

func testOnlineKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	const gun = "example.com/keys"
	if ks, err := s.OnlineKeys(ctx, gun, "timestamp"); err != nil || len(ks) != 0 {
		t.Fatalf("OnlineKeys of a new GUN = %v, %v", ks, err)
	}
	mk := func(id string) store.OnlineKey {
		return store.OnlineKey{GUN: gun, Role: "timestamp", KeyID: id, Public: []byte("pub " + id), Private: []byte("priv " + id)}
	}
	// Concurrent get-or-create calls make exactly one key.
	var wg sync.WaitGroup
	got := make([]store.OnlineKey, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := s.AddOnlineKey(ctx, mk(fmt.Sprintf("k%d", i)), true)
			if err != nil {
				t.Error(err)
			}
			got[i] = k
		}()
	}
	wg.Wait()
	for _, k := range got {
		if k.KeyID != got[0].KeyID {
			t.Fatalf("concurrent get-or-create returned different keys: %s and %s", got[0].KeyID, k.KeyID)
		}
	}
	first := got[0]
	if string(first.Public) != "pub "+first.KeyID || string(first.Private) != "priv "+first.KeyID {
		t.Errorf("key = %+v", first)
	}
	time.Sleep(2 * time.Millisecond)
	second, err := s.AddOnlineKey(ctx, mk("rotated"), false)
	if err != nil || second.KeyID != "rotated" {
		t.Fatalf("AddOnlineKey(rotate) = %+v, %v", second, err)
	}
	if k, _ := s.AddOnlineKey(ctx, mk("ignored"), true); k.KeyID != "rotated" {
		t.Errorf("get-or-create after rotation returned %s, want the newest key", k.KeyID)
	}
	ks, err := s.OnlineKeys(ctx, gun, "timestamp")
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 2 || ks[0].KeyID != "rotated" || ks[1].KeyID != first.KeyID {
		t.Errorf("OnlineKeys = %+v, want rotated then %s", ks, first.KeyID)
	}
	other := mk("other GUN's")
	other.GUN = gun + "/sub"
	if _, err := s.AddOnlineKey(ctx, other, false); err != nil {
		t.Fatal(err)
	}
	if some, err := s.SomeOnlineKeys(ctx, 2); err != nil || len(some) != 2 {
		t.Errorf("SomeOnlineKeys(2) = %d keys, %v", len(some), err)
	}
	defer func() {
		if n, err := s.DeleteOnlineKeys(ctx, gun); err != nil || n != 2 {
			t.Errorf("DeleteOnlineKeys = %d, %v, want 2", n, err)
		}
		if ks, err := s.OnlineKeys(ctx, gun, "timestamp"); err != nil || len(ks) != 0 {
			t.Errorf("OnlineKeys after DeleteOnlineKeys = %v, %v", ks, err)
		}
		if ks, _ := s.OnlineKeys(ctx, other.GUN, "timestamp"); len(ks) != 1 {
			t.Errorf("DeleteOnlineKeys removed another GUN's key: %v", ks)
		}
	}()
	if ks, _ := s.OnlineKeys(ctx, gun, "snapshot"); len(ks) != 0 {
		t.Errorf("snapshot keys = %+v, want none", ks)
	}
}

func testTargets(t *testing.T, s store.Store) {
	ctx := context.Background()
	const gun = "example.com/blobs"
	sum256, sum512 := strings.Repeat("1", 64), strings.Repeat("2", 128)
	tg := store.Target{SHA256: sum256, SHA512: sum512, Length: 42}
	if err := s.AddTarget(ctx, gun, tg); err != nil {
		t.Fatal(err)
	}
	if err := s.AddTarget(ctx, gun, tg); err != nil {
		t.Fatalf("AddTarget twice: %v", err)
	}
	// Many others, so that a lookup that scans would be seen to.
	for i := range 50 {
		o := store.Target{SHA256: fmt.Sprintf("%064x", i), SHA512: fmt.Sprintf("%0128x", i+1000), Length: int64(i)}
		if err := s.AddTarget(ctx, gun, o); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{sum256, sum512} {
		got, err := s.Target(ctx, gun, d)
		if err != nil || got.SHA256 != sum256 || got.SHA512 != sum512 || got.Length != 42 {
			t.Errorf("Target(%s) = %+v, %v", d, got, err)
		}
	}
	if got, err := s.Target(ctx, gun, fmt.Sprintf("%0128x", 1007)); err != nil || got.Length != 7 {
		t.Errorf("Target by the SHA-512 of another target = %+v, %v", got, err)
	}
	for _, d := range []string{strings.Repeat("3", 64), strings.Repeat("3", 128), sum512[:64], sum256 + sum256} {
		if _, err := s.Target(ctx, gun, d); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Target(%s), unknown: %v", d, err)
		}
	}
	if _, err := s.Target(ctx, "example.com/other", sum256); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Target of another GUN: %v", err)
	}
	if _, err := s.Target(ctx, "example.com/other", sum512); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Target of another GUN by SHA-512: %v", err)
	}
}

func testWatch(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Watch(ctx, func(gun string) {
			select {
			case got <- gun:
			default:
			}
		})
	}()
	// Publish until the watcher, which may take a moment to start,
	// reports the GUN.
	const gun = "example.com/watched"
	base := int64(0)
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case g := <-got:
			if g == gun {
				cancel()
				<-done
				return
			}
		case <-tick.C:
			mustPublish(t, s, update(gun, base))
			base++
		case <-deadline:
			t.Fatal("Watch reported no change within 10s")
		}
	}
}

func testPruneTimestamps(t *testing.T, s store.Store) {
	ctx := context.Background()
	const gun = "example.com/chatty"
	for base := range int64(5) {
		mustPublish(t, s, update(gun, base))
	}
	mustPublish(t, s, update("example.com/quiet", 0))
	n, err := s.PruneTimestamps(ctx, 2)
	if err != nil || n != 3 {
		t.Fatalf("PruneTimestamps(2) = %d, %v; want 3 (versions 1 to 3 of %s)", n, err, gun)
	}
	for v := int64(1); v <= 5; v++ {
		_, err := s.File(ctx, gun, "timestamp", v)
		if kept := v > 3; kept != (err == nil) {
			t.Errorf("timestamp version %d after pruning: %v (kept: %v)", v, err, kept)
		}
	}
	if _, err := s.File(ctx, "example.com/quiet", "timestamp", 1); err != nil {
		t.Errorf("the only timestamp of another repository was pruned: %v", err)
	}
	if n, err := s.PruneTimestamps(ctx, 2); err != nil || n != 0 {
		t.Errorf("PruneTimestamps again = %d, %v; want 0", n, err)
	}
}

// testManyListings publishes more listings than a store sends in one
// statement (a large first publish), in random order, then an update that
// replaces half of them and adds as many: every listing is found, and a
// replaced one only until its Until.
func testManyListings(t *testing.T, s store.Store) {
	ctx := context.Background()
	const gun, n = "example.com/many", 6000
	listing := func(i int, until time.Time) store.Listing {
		return store.Listing{Role: fmt.Sprintf("bins-%d", i%16), Path: fmt.Sprintf("p/%d", i), Digest: fmt.Sprintf("%064x", i*7919%100003), Until: until}
	}
	u := update(gun, 0)
	for i := range n {
		u.Listings = append(u.Listings, listing((i*31)%n, time.Time{}))
	}
	if _, err := s.Publish(ctx, u); err != nil {
		t.Fatal(err)
	}
	u = update(gun, 1)
	for i := range n / 2 {
		u.Listings = append(u.Listings, listing(i, epoch), listing(n+i, time.Time{}))
	}
	if _, err := s.Publish(ctx, u); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, n/2 - 1, n / 2, n - 1, n, n + n/2 - 1} {
		l := listing(i, time.Time{})
		for _, at := range []time.Time{epoch.Add(-time.Hour), epoch.Add(time.Hour)} {
			want := i >= n/2 || at.Before(epoch)
			if got, err := s.Listed(ctx, gun, l.Digest, l.Path, at); err != nil || got != want {
				t.Errorf("listing %d at %s: %v, %v; want %v", i, at, got, err, want)
			}
		}
	}
}
