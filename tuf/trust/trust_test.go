package trust_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/trust"
)

var now = time.Now()

// fixture is a published repository: root v1; timestamp and snapshot v3;
// targets v2; a role "d", v2, delegated by targets for d/*.
func fixture(t *testing.T) *repotest.Repo {
	t.Helper()
	repo := repotest.New(t)
	repo.AddTarget("targets", "a.txt", []byte("a"))
	repo.Delegate("targets", "d", []string{"d/*"}, false)
	repo.AddTarget("d", "d/x", []byte("x"))
	repo.Publish()
	repo.MarkDirty("d")
	repo.Publish()
	return repo
}

// load returns a Set that trusts the repository's current metadata up to
// and including the role named by upTo.
func load(t *testing.T, repo *repotest.Repo, upTo string) *trust.Set {
	t.Helper()
	s, err := trust.New(repo.Meta("root"), trust.Options{Time: now})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		role string
		do   func() error
	}{
		{"timestamp", func() error { return s.UpdateTimestamp(repo.Meta("timestamp")) }},
		{"snapshot", func() error { return s.UpdateSnapshot(repo.Meta("snapshot")) }},
		{"targets", func() error { return s.UpdateTargets("targets", "root", repo.Meta("targets")) }},
	}
	for _, st := range steps {
		if upTo == "root" {
			break
		}
		if err := st.do(); err != nil {
			t.Fatalf("loading %s: %v", st.role, err)
		}
		if st.role == upTo {
			break
		}
	}
	return s
}

// checkErr asserts err is not nil, mentions every one of want, and, when
// as is not nil, matches it with errors.As.
func checkErr(t *testing.T, err error, as any, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not say %q", err, w)
		}
	}
	if as != nil && !errors.As(err, as) {
		t.Fatalf("error %q is not a %T", err, as)
	}
}

func signer(t *testing.T) keys.Signer { return repotest.NewSigner(t) }

func TestNew(t *testing.T) {
	repo := fixture(t)
	root := repo.Meta("root")
	if _, err := trust.New(root, trust.Options{Time: now}); err != nil {
		t.Fatal(err)
	}
	var ce *trust.CheckError
	var te *metadata.ThresholdError
	_, err := trust.New(repotest.Forge[*metadata.Root](t, root, nil), trust.Options{Time: now})
	checkErr(t, err, &te, "root.json: signatures check failed")
	_, err = trust.New(repotest.Forge[*metadata.Root](t, root, nil, signer(t)), trust.Options{Time: now})
	checkErr(t, err, &ce, "root.json: signatures check failed")
	var me *metadata.Error
	_, err = trust.New(repo.Meta("timestamp"), trust.Options{Time: now})
	checkErr(t, err, &me, "root.json: parse check failed")

	// An expired trusted root loads (a newer root may replace it), but
	// does not pass the freeze check.
	s, err := trust.New(root, trust.Options{Time: repo.Expires.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	var ee *trust.ExpiredError
	checkErr(t, s.CheckRootExpiry(), &ee, "root.json: expired", "freeze attack")
	if err := load(t, repo, "root").CheckRootExpiry(); err != nil {
		t.Fatal(err)
	}
}

func TestUpdateRoot(t *testing.T) {
	repo := fixture(t)
	v1 := repo.Meta("root")
	old := repo.Signers["root"][0]
	oldID := repotest.KeyOf(old).ID()
	fresh := signer(t)
	// rotate makes version v trust only the fresh key for root.
	rotate := func(v int64) func(*metadata.Root) {
		return func(r *metadata.Root) {
			r.Version = v
			if err := r.AddKey("root", repotest.KeyOf(fresh)); err != nil {
				t.Fatal(err)
			}
			if err := r.RevokeKey("root", oldID); err != nil {
				t.Fatal(err)
			}
		}
	}
	version := func(v int64) func(*metadata.Root) { return func(r *metadata.Root) { r.Version = v } }
	tests := []struct {
		name string
		data []byte
		as   any
		want []string // empty: accepted
	}{
		{"next version, same keys", repotest.Forge(t, v1, version(2), old), nil, nil},
		{"rotated, signed by old and new keys", repotest.Forge(t, v1, rotate(2), old, fresh), nil, nil},
		{"rotated, signed by the new keys only", repotest.Forge(t, v1, rotate(2), fresh), new(*metadata.ThresholdError),
			[]string{"2.root.json: signatures by the trusted root's keys check failed"}},
		{"rotated, signed by the old keys only", repotest.Forge(t, v1, rotate(2), old), new(*metadata.ThresholdError),
			[]string{"2.root.json: signatures by its own keys check failed"}},
		{"skips a version", repotest.Forge(t, v1, version(3), old), new(*trust.RollbackError),
			[]string{"2.root.json: version 3, want exactly 2"}},
		{"same version again", v1, new(*trust.RollbackError), []string{"version 1, want exactly 2"}},
		{"not root metadata", repo.Meta("timestamp"), new(*metadata.Error), []string{"2.root.json: parse check failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := load(t, repo, "root")
			err := s.UpdateRoot(tt.data)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if s.Root().Signed.Version != 2 || !bytes.Equal(s.Root().Raw, tt.data) {
					t.Fatal("new root not trusted, or not kept byte for byte")
				}
				return
			}
			checkErr(t, err, tt.as, tt.want...)
			if !bytes.Equal(s.Root().Raw, v1) {
				t.Fatal("a refused root replaced the trusted one")
			}
		})
	}

	// A chain of rotations, each signed by the previous root's keys.
	s := load(t, repo, "root")
	v2 := repotest.Forge(t, v1, rotate(2), old, fresh)
	if err := s.UpdateRoot(v2); err != nil {
		t.Fatal(err)
	}
	third := signer(t)
	v3 := repotest.Forge(t, v2, func(r *metadata.Root) {
		r.Version = 3
		r.AddKey("root", repotest.KeyOf(third))
		r.RevokeKey("root", repotest.KeyOf(fresh).ID())
	}, fresh, third)
	if err := s.UpdateRoot(v3); err != nil {
		t.Fatal(err)
	}
	// Root cannot change once timestamp is trusted.
	s = load(t, repo, "timestamp")
	checkErr(t, s.UpdateRoot(repotest.Forge(t, v1, version(2), old)), nil, "cannot update root after timestamp")
}

func TestRotatedKeys(t *testing.T) {
	repo := fixture(t)
	v1 := repo.Meta("root")
	old := repo.Signers["root"][0]
	k := repotest.KeyOf(signer(t))
	tests := []struct {
		name    string
		change  func(*metadata.Root)
		rotated bool
	}{
		{"nothing", func(*metadata.Root) {}, false},
		{"root keys", func(r *metadata.Root) { r.AddKey("root", k) }, false},
		{"targets keys", func(r *metadata.Root) { r.AddKey("targets", k) }, false},
		{"timestamp key added", func(r *metadata.Root) { r.AddKey("timestamp", k) }, true},
		{"snapshot key added", func(r *metadata.Root) { r.AddKey("snapshot", k) }, true},
		{"snapshot threshold", func(r *metadata.Root) { r.AddKey("snapshot", k); r.Roles["snapshot"].Threshold = 2 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := load(t, repo, "root")
			v2 := repotest.Forge(t, v1, func(r *metadata.Root) { r.Version = 2; tt.change(r) }, old)
			if err := s.UpdateRoot(v2); err != nil {
				t.Fatal(err)
			}
			if s.RotatedKeys() != tt.rotated {
				t.Fatalf("RotatedKeys() = %v", s.RotatedKeys())
			}
			err := s.LoadTimestamp(repo.Meta("timestamp"))
			if tt.rotated {
				checkErr(t, err, nil, "timestamp.json", "fast-forward attack recovery")
				if !errors.Is(err, trust.ErrKeysRotated) || s.Timestamp() != nil {
					t.Fatal("a cached timestamp was trusted after a key rotation")
				}
			} else if err != nil {
				t.Fatal(err)
			}
		})
	}
	// A rotation stays recorded through later root versions, even when
	// they rotate back.
	s := load(t, repo, "root")
	s.UpdateRoot(repotest.Forge(t, v1, func(r *metadata.Root) { r.Version = 2; r.AddKey("timestamp", k) }, old))
	s.UpdateRoot(repotest.Forge(t, v1, func(r *metadata.Root) { r.Version = 3 }, old))
	if s.Root().Signed.Version != 3 || !s.RotatedKeys() {
		t.Fatal("a rotation and back went unnoticed")
	}
}

// timestampFor returns the repository's timestamp at version v listing
// snapshot data at version sv.
func timestampFor(repo *repotest.Repo, v, sv int64, snap []byte) []byte {
	return repotest.Resign(repo, "timestamp", repo.Meta("timestamp"), func(ts *metadata.Timestamp) {
		ts.Version = v
		ts.Meta["snapshot.json"] = metadata.MetaFile{Version: sv, Length: int64(len(snap)), Hashes: metadata.HashesOf(snap, true)}
	})
}

func TestUpdateTimestamp(t *testing.T) {
	repo := fixture(t)
	trusted := repo.Meta("timestamp") // version 3, listing snapshot version 3
	resign := func(change func(*metadata.Timestamp)) []byte {
		return repotest.Resign(repo, "timestamp", trusted, change)
	}
	tests := []struct {
		name string
		data []byte
		as   any
		want []string
	}{
		{"newer", resign(func(ts *metadata.Timestamp) { ts.Version = 4 }), nil, nil},
		{"newer, newer snapshot", resign(func(ts *metadata.Timestamp) {
			ts.Version = 4
			ts.Meta["snapshot.json"] = metadata.MetaFile{Version: 9}
		}), nil, nil},
		{"older", resign(func(ts *metadata.Timestamp) { ts.Version = 1 }), new(*trust.RollbackError),
			[]string{"timestamp.json: version 1 is lower than the trusted version 3 (rollback attack?)"}},
		{"same version", resign(nil), nil, []string{"timestamp.json: version 3: same version as the trusted metadata"}},
		{"older snapshot", resign(func(ts *metadata.Timestamp) {
			ts.Version = 4
			ts.Meta["snapshot.json"] = metadata.MetaFile{Version: 1}
		}), new(*trust.RollbackError), []string{"snapshot.json (as listed in timestamp.json): version 1 is lower than the trusted version 3"}},
		{"expired", resign(func(ts *metadata.Timestamp) { ts.Version = 4; ts.Expires = now.Add(-time.Hour).Truncate(time.Second) }),
			new(*trust.ExpiredError), []string{"timestamp.json: expired at", "freeze attack"}},
		{"foreign key", repotest.Forge(t, trusted, func(ts *metadata.Timestamp) { ts.Version = 4 }, signer(t)),
			new(*metadata.ThresholdError), []string{"timestamp.json: signatures check failed"}},
		{"unsigned", repotest.Forge(t, trusted, func(ts *metadata.Timestamp) { ts.Version = 4 }),
			new(*metadata.ThresholdError), []string{"timestamp.json: signatures check failed"}},
		{"not timestamp metadata", repo.Meta("snapshot"), new(*metadata.Error), []string{"timestamp.json: parse check failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := load(t, repo, "timestamp")
			err := s.UpdateTimestamp(tt.data)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(s.Timestamp().Raw, tt.data) {
					t.Fatal("new timestamp not trusted")
				}
				return
			}
			checkErr(t, err, tt.as, tt.want...)
			if !bytes.Equal(s.Timestamp().Raw, trusted) {
				t.Fatal("a refused timestamp replaced the trusted one")
			}
			if err := s.CheckTimestamp(); err != nil {
				t.Fatalf("trusted timestamp no longer usable: %v", err)
			}
		})
	}
	if !errors.Is(load(t, repo, "timestamp").UpdateTimestamp(trusted), trust.ErrUnchanged) {
		t.Fatal("same version is not ErrUnchanged")
	}
	// Without a trusted timestamp, any version goes.
	s := load(t, repo, "root")
	if err := s.UpdateTimestamp(resign(func(ts *metadata.Timestamp) { ts.Version = 1 })); err != nil {
		t.Fatal(err)
	}
}

func TestUnchangedTimestampExpired(t *testing.T) {
	repo := fixture(t)
	repo.Timestamp.Signed.Expires = now.Add(time.Hour).UTC().Truncate(time.Second)
	repo.Publish()
	ts := repo.Meta("timestamp")
	s, err := trust.New(repo.Meta("root"), trust.Options{Time: now.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// A cached timestamp loads even expired, as the rollback reference...
	if err := s.LoadTimestamp(ts); err != nil {
		t.Fatal(err)
	}
	// ...but the repository serving it again is a freeze.
	var ee *trust.ExpiredError
	checkErr(t, s.UpdateTimestamp(ts), &ee, "timestamp.json: expired")
	checkErr(t, s.CheckTimestamp(), &ee, "timestamp.json: expired")
	if _, err := s.SnapshotMeta(); !errors.As(err, &ee) {
		t.Fatalf("SnapshotMeta with an expired timestamp: %v", err)
	}
}

func TestUpdateSnapshot(t *testing.T) {
	repo := fixture(t)
	trusted := repo.Meta("snapshot") // version 3: targets.json v2, d.json v2
	resign := func(change func(*metadata.Snapshot)) []byte {
		return repotest.Resign(repo, "snapshot", trusted, change)
	}
	v4 := resign(func(s *metadata.Snapshot) { s.Version = 4 })
	listed := func(snap []byte, change func(*metadata.MetaFile)) []byte {
		m := metadata.MetaFile{Version: 4, Length: int64(len(snap)), Hashes: metadata.HashesOf(snap, true)}
		if change != nil {
			change(&m)
		}
		return repotest.Resign(repo, "timestamp", repo.Meta("timestamp"), func(ts *metadata.Timestamp) {
			ts.Version = 4
			ts.Meta["snapshot.json"] = m
		})
	}
	tests := []struct {
		name     string
		ts, data []byte
		as       any
		want     []string
	}{
		{"newer", listed(v4, nil), v4, nil, nil},
		{"newer, version only in timestamp", listed(v4, func(m *metadata.MetaFile) { *m = metadata.MetaFile{Version: 4} }), v4, nil, nil},
		{"newer targets", nil, resign(func(s *metadata.Snapshot) {
			s.Version = 4
			s.Meta["targets.json"] = metadata.MetaFile{Version: 7}
			s.Meta["new.json"] = metadata.MetaFile{Version: 1}
		}), nil, nil},
		{"wrong length", listed(v4, func(m *metadata.MetaFile) { m.Length++ }), v4, new(*trust.LengthError),
			[]string{"snapshot.json: length"}},
		{"wrong hash", listed(v4, func(m *metadata.MetaFile) { m.Hashes = metadata.HashesOf(trusted, false) }), v4,
			new(*metadata.HashMismatchError), []string{"snapshot.json: hashes check failed: sha256 hash mismatch"}},
		{"foreign key", nil, repotest.Forge(t, trusted, func(s *metadata.Snapshot) { s.Version = 4 }, signer(t)),
			new(*metadata.ThresholdError), []string{"snapshot.json: signatures check failed"}},
		{"other version than listed", listed(v4, func(m *metadata.MetaFile) { *m = metadata.MetaFile{Version: 5} }), v4,
			new(*trust.VersionMismatchError), []string{"snapshot.json: version 4, but timestamp.json lists version 5 (mix-and-match attack?)"}},
		{"targets rollback", nil, resign(func(s *metadata.Snapshot) {
			s.Version = 4
			s.Meta["targets.json"] = metadata.MetaFile{Version: 1}
		}), new(*trust.RollbackError), []string{"targets.json (as listed in snapshot.json): version 1 is lower than the trusted version 2"}},
		{"delegated role rollback", nil, resign(func(s *metadata.Snapshot) {
			s.Version = 4
			s.Meta["d.json"] = metadata.MetaFile{Version: 1}
		}), new(*trust.RollbackError), []string{"d.json (as listed in snapshot.json): version 1 is lower than the trusted version 2"}},
		{"delegated role removed", nil, resign(func(s *metadata.Snapshot) {
			s.Version = 4
			delete(s.Meta, "d.json")
		}), nil, []string{"snapshot.json: d.json is no longer listed (rollback attack?)"}},
		{"expired", nil, resign(func(s *metadata.Snapshot) { s.Version = 4; s.Expires = now.Add(-time.Second).Truncate(time.Second) }),
			new(*trust.ExpiredError), []string{"snapshot.json: expired at"}},
		{"not snapshot metadata", nil, repo.Meta("timestamp"), new(*metadata.Error), []string{"snapshot.json: parse check failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := load(t, repo, "root")
			ts := tt.ts
			if ts == nil {
				ts = listed(tt.data, func(m *metadata.MetaFile) { *m = metadata.MetaFile{Version: 4} })
			}
			if err := s.UpdateTimestamp(ts); err != nil {
				t.Fatal(err)
			}
			// The cached snapshot is the rollback reference.
			if err := s.LoadSnapshot(trusted); err != nil {
				t.Fatal(err)
			}
			if s.SnapshotCurrent() {
				t.Fatal("the cached snapshot is current for a newer timestamp")
			}
			err := s.UpdateSnapshot(tt.data)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(s.Snapshot().Raw, tt.data) || s.CheckSnapshot() != nil {
					t.Fatal("new snapshot not trusted")
				}
				return
			}
			checkErr(t, err, tt.as, tt.want...)
			if !bytes.Equal(s.Snapshot().Raw, trusted) {
				t.Fatal("a refused snapshot replaced the trusted one")
			}
			if _, err := s.TargetsMeta("targets"); err == nil {
				t.Fatal("targets metadata can be loaded without a current snapshot")
			}
		})
	}
}

func TestUpdateSnapshotOrder(t *testing.T) {
	repo := fixture(t)
	s := load(t, repo, "root")
	checkErr(t, s.UpdateSnapshot(repo.Meta("snapshot")), nil, "timestamp.json: no trusted timestamp")
	s = load(t, repo, "targets")
	checkErr(t, s.UpdateSnapshot(repo.Meta("snapshot")), nil, "cannot update snapshot after targets")
	checkErr(t, s.LoadTimestamp(repo.Meta("timestamp")), nil, "cannot update timestamp after snapshot")
}

// hashedChain returns a Set trusting root, a timestamp and a snapshot that
// lists the current targets and d metadata with lengths and hashes.
func hashedChain(t *testing.T, repo *repotest.Repo) *trust.Set {
	t.Helper()
	snap := repotest.Resign(repo, "snapshot", repo.Meta("snapshot"), func(s *metadata.Snapshot) {
		for _, role := range []string{"targets", "d"} {
			data := repo.Meta(role)
			m := s.Meta[role+".json"]
			m.Length, m.Hashes = int64(len(data)), metadata.HashesOf(data, false)
			s.Meta[role+".json"] = m
		}
	})
	s := load(t, repo, "root")
	if err := s.UpdateTimestamp(timestampFor(repo, 3, 3, snap)); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSnapshot(snap); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUpdateTargets(t *testing.T) {
	repo := fixture(t)
	targets := repo.Meta("targets") // version 2
	dData := repo.Meta("d")
	resign := func(change func(*metadata.Targets)) []byte {
		return repotest.Resign(repo, "targets", targets, change)
	}
	tests := []struct {
		name         string
		hashed       bool // the snapshot lists lengths and hashes
		role, parent string
		data         []byte
		as           any
		want         []string
	}{
		{"targets", false, "targets", "root", targets, nil, nil},
		{"targets, hashed", true, "targets", "root", targets, nil, nil},
		{"altered, same length", true, "targets", "root", bytes.Replace(targets, []byte(`"a.txt"`), []byte(`"b.txt"`), 1),
			new(*metadata.HashMismatchError), []string{"targets.json: hashes check failed"}},
		{"other length", true, "targets", "root", resign(func(tg *metadata.Targets) { tg.Targets["more"] = metadata.NewTargetFile(nil, false) }),
			new(*trust.LengthError), []string{"targets.json: length"}},
		{"foreign key", false, "targets", "root", repotest.Forge[*metadata.Targets](t, targets, nil, signer(t)),
			new(*metadata.ThresholdError), []string{"targets.json: signatures check failed", "0 of the 1 required signatures"}},
		{"signed by a delegate's key", false, "targets", "root", repotest.Forge[*metadata.Targets](t, targets, nil, repo.Signers["d"]...),
			new(*metadata.ThresholdError), []string{"targets.json: signatures check failed"}},
		{"older version", false, "targets", "root", repo.File("metadata/1.targets.json"),
			new(*trust.VersionMismatchError), []string{"targets.json: version 1, but snapshot.json lists version 2 (mix-and-match attack?)"}},
		{"expired", false, "targets", "root", resign(func(tg *metadata.Targets) { tg.Expires = now.Add(-time.Second).Truncate(time.Second) }),
			new(*trust.ExpiredError), []string{"targets.json: expired at"}},
		{"delegated before its parent", false, "d", "targets", dData, nil, []string{`delegating role "targets" is not trusted`}},
		{"not listed in snapshot", false, "nope", "targets", dData, nil, []string{"nope.json: not listed in snapshot.json"}},
		{"root delegating a non-top-level role", false, "d", "root", dData, nil, []string{`root delegates only the targets role, not "d"`}},
		{"not targets metadata", false, "targets", "root", repo.Meta("snapshot"), new(*metadata.Error), []string{"targets.json: parse check failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := load(t, repo, "snapshot")
			if tt.hashed {
				s = hashedChain(t, repo)
			}
			err := s.UpdateTargets(tt.role, tt.parent, tt.data)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(s.Targets(tt.role).Raw, tt.data) {
					t.Fatal("not kept byte for byte")
				}
				return
			}
			checkErr(t, err, tt.as, tt.want...)
			if s.Targets(tt.role) != nil {
				t.Fatal("a refused document is trusted")
			}
		})
	}

	// The delegated role, once its parent is trusted.
	for _, hashed := range []bool{false, true} {
		s := load(t, repo, "targets")
		if hashed {
			s = hashedChain(t, repo)
			if err := s.UpdateTargets("targets", "root", targets); err != nil {
				t.Fatal(err)
			}
		}
		forged := repotest.Forge[*metadata.Targets](t, dData, nil, signer(t))
		if hashed { // the hashes listed in snapshot are checked first
			checkErr(t, s.UpdateTargets("d", "targets", forged), new(*metadata.HashMismatchError), "d.json: hashes check failed")
		} else {
			checkErr(t, s.UpdateTargets("d", "targets", forged), new(*metadata.ThresholdError), "d.json: signatures check failed")
		}
		if err := s.UpdateTargets("d", "targets", dData); err != nil {
			t.Fatal(err)
		}
		if tf, ok, err := s.Targets("d").Signed.Lookup("d/x"); err != nil || !ok || tf.Length != 1 {
			t.Fatalf("Lookup(d/x) = %v, %v, %v", tf, ok, err)
		}
	}
}

// TestTwoParents: role "shared" is delegated by p1 to key K1 and by p2 to
// key K2, and signed by K1 only. Reached through p1 it is trusted; reached
// through p2 it must be verified again, against K2, and refused.
func TestTwoParents(t *testing.T) {
	repo := repotest.New(t)
	repo.Delegate("targets", "p1", []string{"*"}, false)
	repo.Delegate("targets", "p2", []string{"*"}, false)
	k1, k2 := signer(t), signer(t)
	repo.DelegateWith("p1", "shared", []string{"*"}, false, k1)
	repo.DelegateWith("p2", "shared", []string{"*"}, false, k2)
	repo.Signers["shared"] = []keys.Signer{k1}
	repo.AddTarget("shared", "f", []byte("f"))
	repo.Publish()
	s := load(t, repo, "targets")
	for _, p := range []string{"p1", "p2"} {
		if err := s.UpdateTargets(p, "targets", repo.Meta(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.UpdateTargets("shared", "p1", repo.Meta("shared")); err != nil {
		t.Fatal(err)
	}
	var te *metadata.ThresholdError
	checkErr(t, s.UpdateTargets("shared", "p2", nil), &te, "shared.json: signatures check failed")
	checkErr(t, s.UpdateTargets("shared", "p2", repo.Meta("shared")), &te, "shared.json: signatures check failed")
	// Through p1 it is still trusted.
	if err := s.UpdateTargets("shared", "p1", nil); err != nil {
		t.Fatal(err)
	}

	// In the other order, p2 first: refused, and p1 still works.
	s = load(t, repo, "targets")
	for _, p := range []string{"p1", "p2"} {
		s.UpdateTargets(p, "targets", repo.Meta(p))
	}
	checkErr(t, s.UpdateTargets("shared", "p2", repo.Meta("shared")), &te, "shared.json: signatures check failed")
	if s.Targets("shared") != nil {
		t.Fatal("refused document trusted")
	}
	if err := s.UpdateTargets("shared", "p1", repo.Meta("shared")); err != nil {
		t.Fatal(err)
	}
}

func TestReferenceTimeIsFixed(t *testing.T) {
	repo := fixture(t)
	ref := repo.Expires.Add(-time.Second)
	s, err := trust.New(repo.Meta("root"), trust.Options{Time: ref})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Reference().Equal(ref) {
		t.Fatal("reference time not kept")
	}
	// Every check of the update uses the one reference time: a second
	// before expiry, everything passes however long the update takes.
	time.Sleep(10 * time.Millisecond)
	if err := s.UpdateTimestamp(repo.Meta("timestamp")); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSnapshot(repo.Meta("snapshot")); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateTargets("targets", "root", repo.Meta("targets")); err != nil {
		t.Fatal(err)
	}
	// Exactly at expiry, metadata is expired.
	s, _ = trust.New(repo.Meta("root"), trust.Options{Time: repo.Expires})
	checkErr(t, s.CheckRootExpiry(), new(*trust.ExpiredError), "root.json: expired")
}
