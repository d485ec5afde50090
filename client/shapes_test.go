package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/trust"
)

// Repositories built the way other implementations write them (see
// docs/compatibility.md), each read by default and, where the strict key ID
// rule applies, refused by it.

// A root chain where version 2 lists every key under a name (and the root
// key under its hash as well), as Sigstore's version 11 lists its online
// key.
func TestKeyIDsAsNames(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	repo.AddTarget("targets", "f", []byte("content"))
	repo.MarkDirty("root")
	repo.Publish()
	root2 := repo.RepublishUnderNames(repotest.KeyNames{AlsoHash: []string{"root"}})

	c, dir, _ := setup(t, repo)
	info, err := c.Target(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Download(ctx, info, new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(state(t, dir)["root.json"], root2) {
		t.Fatal("trusted root is not the rewritten version 2")
	}

	// The strict rule refuses version 2 and keeps version 1.
	strict, dir, _ := setup(t, repo, func(cfg *client.Config) { cfg.StrictKeyIDs = true })
	err = strict.Refresh(ctx)
	var ke *metadata.KeyIDError
	if !errors.As(err, &ke) || !strings.HasPrefix(err.Error(), "2.root.json: key IDs check failed") || ke.ID != repotest.KeyName("root") {
		t.Fatalf("strict: got %v, want 2.root.json refused for key ID %s", err, repotest.KeyName("root"))
	}
	if !bytes.Equal(state(t, dir)["root.json"], repo.RootBytes(1)) {
		t.Fatal("strict: trusted root changed")
	}
}

// One key listed under two IDs counts once toward a threshold: a
// timestamp "signed by two keys" that are one key is refused.
func TestKeyUnderTwoIDsCountsOnce(t *testing.T) {
	repo := repotest.New(t)
	repo.MarkDirty("root")
	repo.Publish()
	repo.RepublishUnderNames(repotest.KeyNames{AlsoHash: []string{"timestamp"}, Thresholds: map[string]int{"timestamp": 2}})
	c, dir, _ := setup(t, repo)
	before := state(t, dir)
	err := c.Refresh(context.Background())
	var te *metadata.ThresholdError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "timestamp.json") || len(te.Report.Valid) != 1 {
		t.Fatalf("got %v, want timestamp.json refused with 1 of 2 signatures", err)
	}
	if _, ok := state(t, dir)["timestamp.json"]; ok {
		t.Fatal("refused timestamp stored")
	}
	if after := state(t, dir); !bytes.Equal(after["root.json"], repo.RootBytes(2)) || len(after) != len(before) {
		t.Fatalf("state after refusal: %v", after)
	}
}

// A delegation lists its key under a name; the strict rule refuses the
// delegating targets metadata.
func TestDelegatedKeyIDAsName(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	libs := repo.Delegate("targets", "libs", []string{"lib/*"}, false)
	repo.AddTarget("libs", "lib/x.so", []byte("library"))
	repo.Publish()
	tv := repo.Targets["targets"].Signed.Version
	targetsSigner := repo.Signers["targets"][0]
	targets := repotest.Rewrite(t, repo.File(fmt.Sprintf("metadata/%d.targets.json", tv)), func(s map[string]any) {
		d := s["delegations"].(map[string]any)
		keys := d["keys"].(map[string]any)
		keys["npm-delegate"] = keys[repotest.HashID(libs)]
		delete(keys, repotest.HashID(libs))
		d["roles"].([]any)[0].(map[string]any)["keyids"] = []any{"npm-delegate"}
	}, repotest.SignAs{KeyID: repotest.HashID(targetsSigner), Signer: targetsSigner})
	repo.SetFile(fmt.Sprintf("metadata/%d.targets.json", tv), targets)
	lv := repo.Targets["libs"].Signed.Version
	repo.SetFile(fmt.Sprintf("metadata/%d.libs.json", lv),
		repotest.Rewrite(t, repo.File(fmt.Sprintf("metadata/%d.libs.json", lv)), nil, repotest.SignAs{KeyID: "npm-delegate", Signer: libs}))

	c, _, _ := setup(t, repo)
	info, err := c.Target(ctx, "lib/x.so")
	if err != nil || info.Role != "libs" {
		t.Fatalf("Target = %+v, %v", info, err)
	}
	strict, _, _ := setup(t, repo, func(cfg *client.Config) { cfg.StrictKeyIDs = true })
	_, err = strict.Target(ctx, "lib/x.so")
	var ke *metadata.KeyIDError
	if !errors.As(err, &ke) || !strings.HasPrefix(err.Error(), "targets.json: key IDs check failed") || ke.ID != "npm-delegate" {
		t.Fatalf("strict: got %v", err)
	}
}

// Expiries with offsets and fractions, as early Sigstore roots have, are
// compared as instants: an expiry whose digits are later than the reference
// time but whose instant is earlier is expired (freeze attack).
func TestExpiriesWithOffsets(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	repo.AddTarget("targets", "f", []byte("content"))
	repo.Publish()
	now := time.Now().UTC().Truncate(time.Second)
	east := time.FixedZone("", 5*3600+30*60)
	west := time.FixedZone("", -6*3600)
	expires := now.Add(time.Hour)
	// "+05:30" digits read 6h30 later than the instant.
	text := map[string]string{
		"root":      expires.Add(123456 * time.Microsecond).In(west).Format("2006-01-02T15:04:05.999999-07:00"),
		"targets":   expires.Add(999999999 * time.Nanosecond).Format(time.RFC3339Nano),
		"snapshot":  expires.In(east).Format(time.RFC3339),
		"timestamp": expires.In(east).Format(time.RFC3339),
	}
	sign := func(role string) repotest.SignAs {
		s := repo.Signers[role][0]
		return repotest.SignAs{KeyID: repotest.HashID(s), Signer: s}
	}
	setExpires := func(role string) func(map[string]any) {
		return func(s map[string]any) { s["expires"] = text[role] }
	}
	// Root version 2, then the other roles, each with its odd expiry.
	repo.MarkDirty("root")
	repo.Publish()
	root := repotest.Rewrite(t, repo.RootBytes(2), setExpires("root"), sign("root"))
	repo.SetFile("metadata/2.root.json", root)
	tv, sv := repo.Targets["targets"].Signed.Version, repo.Snapshot.Signed.Version
	repo.SetFile(fmt.Sprintf("metadata/%d.targets.json", tv), repotest.Rewrite(t, repo.File(fmt.Sprintf("metadata/%d.targets.json", tv)), setExpires("targets"), sign("targets")))
	snap := repotest.Rewrite(t, repo.File(fmt.Sprintf("metadata/%d.snapshot.json", sv)), setExpires("snapshot"), sign("snapshot"))
	repo.SetFile(fmt.Sprintf("metadata/%d.snapshot.json", sv), snap)
	repo.SetFile("metadata/timestamp.json", repotest.Rewrite(t, repo.File("metadata/timestamp.json"), func(s map[string]any) {
		s["expires"] = text["timestamp"]
		s["meta"] = map[string]any{"snapshot.json": repotest.SnapshotMeta(sv, snap)}
	}, sign("timestamp")))
	for _, s := range text {
		if strings.HasSuffix(s, "Z") && !strings.Contains(s, ".") {
			t.Fatalf("expiry %s is in the canonical form", s)
		}
	}

	c, dir, _ := setup(t, repo, at(now.Add(30*time.Minute)))
	info, err := c.Target(ctx, "f")
	if err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	if err := c.Download(ctx, info, new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(state(t, dir)["root.json"], root) {
		t.Fatal("root version 2 not trusted byte for byte")
	}
	// 1h01 later: every document has expired, though the digits of the
	// "+05:30" ones read hours ahead.
	later, _, _ := setup(t, repo, at(now.Add(time.Hour+time.Minute)))
	err = later.Refresh(ctx)
	var ee *trust.ExpiredError
	if !errors.As(err, &ee) || ee.File != "root.json" {
		t.Fatalf("after root expiry: got %v", err)
	}
	// With the root still valid, the timestamp's instant decides.
	rootLater := repotest.Rewrite(t, repo.RootBytes(2), func(s map[string]any) {
		s["expires"] = expires.Add(24 * time.Hour).Format(time.RFC3339)
	}, sign("root"))
	repo.SetFile("metadata/2.root.json", rootLater)
	later, _, _ = setup(t, repo, at(now.Add(time.Hour+time.Minute)))
	if err := later.Refresh(ctx); !errors.As(err, &ee) || ee.File != "timestamp.json" {
		t.Fatalf("after timestamp expiry: got %v", err)
	}
}

// Roles the snapshot lists that no delegation reaches (retired roles, and
// root.json, which tuf-on-ci lists) are ignored and never fetched.
func TestRetiredRolesInSnapshot(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	repo.Delegate("targets", "libs", []string{"lib/*"}, false)
	repo.AddTarget("libs", "lib/x.so", []byte("library"))
	repo.AddTarget("targets", "f", []byte("content"))
	repo.Snapshot.Signed.Meta["retired.json"] = metadata.MetaFile{Version: 3}
	repo.Snapshot.Signed.Meta["root.json"] = metadata.MetaFile{Version: 1, Length: int64(len(repo.RootBytes(1))), Hashes: metadata.HashesOf(repo.RootBytes(1), true)}
	repo.Publish()
	repo.SetFile("metadata/3.retired.json", []byte("not even metadata"))
	c, _, _ := setup(t, repo)
	for _, p := range []string{"f", "lib/x.so"} {
		if _, err := c.Target(ctx, p); err != nil {
			t.Fatalf("Target(%s): %v", p, err)
		}
	}
	if _, err := c.Target(ctx, "retired/x"); !errors.Is(err, client.ErrUnknownTarget) {
		t.Fatalf("Target(retired/x) = %v", err)
	}
	list, err := c.ListTargets(ctx, 0)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListTargets = %d targets, %v", len(list), err)
	}
	// Another publish keeps listing them; the client still ignores them.
	repo.AddTarget("targets", "g", []byte("more"))
	repo.Publish()
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Target(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	for p, n := range repo.RequestCounts() {
		if strings.Contains(p, "retired") || strings.HasSuffix(p, "/root.json") && !strings.HasSuffix(p, ".root.json") {
			t.Errorf("%s fetched %d times", p, n)
		}
	}
}

// A repository that switches consistent_snapshot on, then off, in the middle
// of its root chain: each refresh names files as its newest root says. The
// documents carry spec_version "1.0" and "1.0.0".
func TestConsistentSnapshotSwitch(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	repo.Root.Signed.SpecVersion = "1.0"
	repo.Targets["targets"].Signed.SpecVersion = "1.0.0"
	repo.Snapshot.Signed.SpecVersion = "1.0"
	repo.Timestamp.Signed.SpecVersion = "1.0.0"
	c, _, _ := setup(t, repo) // trusts version 1, consistent
	for i, consistent := range []bool{false, true, false} {
		content := fmt.Sprintf("content %d", i)
		repo.Root.Signed.ConsistentSnapshot = consistent
		repo.MarkDirty("root")
		repo.AddTarget("targets", "f", []byte(content))
		repo.Publish()
		before := repo.RequestCounts()
		if err := c.Refresh(ctx); err != nil {
			t.Fatalf("root version %d (consistent %v): %v", repo.Root.Signed.Version, consistent, err)
		}
		info, err := c.Target(ctx, "f")
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := c.Download(ctx, info, &buf); err != nil || buf.String() != content {
			t.Fatalf("root version %d: downloaded %q, %v", repo.Root.Signed.Version, buf.String(), err)
		}
		snap, targets, target := "/metadata/snapshot.json", "/metadata/targets.json", "/targets/f"
		if consistent {
			snap = fmt.Sprintf("/metadata/%d.snapshot.json", repo.Snapshot.Signed.Version)
			targets = fmt.Sprintf("/metadata/%d.targets.json", repo.Targets["targets"].Signed.Version)
			target = "/targets/" + info.ConsistentPath("f")
		}
		after := repo.RequestCounts()
		for _, p := range []string{snap, targets, target} {
			if after[p] != before[p]+1 {
				t.Errorf("root version %d (consistent %v): %s fetched %d times, want once (requests %v)", repo.Root.Signed.Version, consistent, p, after[p]-before[p], after)
			}
		}
	}
}

// at sets the client's reference time.
func at(t time.Time) func(*client.Config) {
	return func(c *client.Config) { c.Now = func() time.Time { return t } }
}
