package trust_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/trust"
)

// updater is a client's update workflow (spec 5.3 to 5.6) over a
// repository in memory, driving a Set the way package client does, with a
// cache of the metadata it trusted.
type updater struct {
	repo  *repotest.Repo
	cache map[string][]byte
	// forgot is set when a root rotated the timestamp or snapshot keys and
	// the cached timestamp and snapshot were deleted (spec 5.3.11, the
	// recovery from a fast-forward attack): from then on the timestamp
	// version is compared with none.
	forgot bool
}

func (u *updater) refresh() (*trust.Set, error) {
	set, err := trust.New(u.cache["root"], trust.Options{Time: now})
	if err != nil {
		return nil, err
	}
	for {
		data := u.repo.RootBytes(set.Root().Signed.Version + 1)
		if data == nil {
			break
		}
		if err := set.UpdateRoot(data); err != nil {
			return nil, err
		}
		if set.RotatedKeys() {
			delete(u.cache, "timestamp")
			delete(u.cache, "snapshot")
			u.forgot = true
		}
		u.cache["root"] = data
	}
	if err := set.CheckRootExpiry(); err != nil {
		return nil, err
	}
	if ts := u.cache["timestamp"]; ts != nil {
		_ = set.LoadTimestamp(ts)
	}
	ts := u.repo.File("metadata/timestamp.json")
	switch err := set.UpdateTimestamp(ts); {
	case errors.Is(err, trust.ErrUnchanged):
	case err != nil:
		return nil, err
	default:
		u.cache["timestamp"] = ts
	}
	if snap := u.cache["snapshot"]; snap != nil {
		_ = set.LoadSnapshot(snap)
	}
	if set.CheckSnapshot() != nil {
		meta, err := set.SnapshotMeta()
		if err != nil {
			return nil, err
		}
		snap := u.repo.File(fmt.Sprintf("metadata/%d.snapshot.json", meta.Version))
		if err := set.UpdateSnapshot(snap); err != nil {
			return nil, err
		}
		u.cache["snapshot"] = snap
	}
	return set, nil
}

func (u *updater) loader(set *trust.Set) trust.LoadFunc {
	return func(role, parent string) (*metadata.Targets, error) {
		var data []byte
		if set.Targets(role) == nil {
			meta, err := set.TargetsMeta(role)
			if err != nil {
				return nil, err
			}
			data = u.repo.File(fmt.Sprintf("metadata/%d.%s.json", meta.Version, role))
		}
		if err := set.UpdateTargets(role, parent, data); err != nil {
			return nil, err
		}
		return set.Targets(role).Signed, nil
	}
}

// FuzzUpdates drives a Set through sequences of repository changes, honest
// refreshes and attacks, each byte of the input one step. Honest refreshes
// must succeed and find exactly what the repository publishes; a replayed
// older timestamp must be refused; a corrupted role must never yield a
// target other than the one published; the trusted timestamp version never
// goes down, except after a rotation of the timestamp or snapshot keys,
// where the specification has the client forget the timestamp it trusted.
func FuzzUpdates(f *testing.F) {
	f.Add([]byte{6})
	f.Add([]byte{0, 6, 1, 8, 6, 2, 6, 7, 6})
	f.Add([]byte{1, 9, 17, 6, 3, 6, 4, 6, 15, 6})
	f.Add([]byte{0, 0, 6, 0, 6, 7, 2, 7, 4, 6, 5, 6})
	f.Add([]byte{6, 2, 3, 4, 7, 6, 13, 6})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 24 {
			ops = ops[:24]
		}
		repo := repotest.New(t)
		u := &updater{repo: repo, cache: map[string][]byte{"root": repo.RootBytes(1)}}
		var delegated []string
		var timestamps [][]byte // every timestamp published, in order
		var trustedTS int64
		publish := func() {
			repo.Publish()
			timestamps = append(timestamps, repo.File("metadata/timestamp.json"))
		}
		publish()
		for i, b := range ops {
			op, arg := b%8, int(b/8)
			switch op {
			case 0: // a target, in targets or a delegated role
				role, dir := "targets", "t"
				if arg%2 == 1 && len(delegated) > 0 {
					role = delegated[arg/2%len(delegated)]
					dir = role
				}
				p := fmt.Sprintf("%s/%d", dir, i)
				repo.AddTarget(role, p, []byte(p))
				publish()
			case 1: // a delegation, terminating or not
				if len(delegated) < 3 {
					role := fmt.Sprintf("d%d", len(delegated))
					repo.Delegate("targets", role, []string{role + "/*"}, arg%2 == 1)
					delegated = append(delegated, role)
					publish()
				}
			case 2, 3, 4: // a key rotation: timestamp, snapshot, root
				repo.RotateKeys([]string{"timestamp", "snapshot", "root"}[op-2], 1, 1)
				publish()
			case 5: // a new version of a role
				repo.MarkDirty(append([]string{"targets"}, delegated...)[arg%(len(delegated)+1)])
				publish()
			case 6:
				checkHonest(t, u, repo)
			case 7:
				if arg%2 == 0 {
					replayTimestamp(t, u, repo, timestamps[arg/2%len(timestamps)])
				} else {
					corruptTargets(t, u, repo, arg)
				}
			}
			if u.forgot {
				trustedTS, u.forgot = 0, false
			}
			if ts := u.cache["timestamp"]; ts != nil {
				md, err := metadata.ParseTimestamp(ts)
				if err != nil {
					t.Fatal(err)
				}
				if md.Signed.Version < trustedTS {
					t.Fatalf("step %d: the trusted timestamp went from version %d to %d", i, trustedTS, md.Signed.Version)
				}
				trustedTS = md.Signed.Version
			}
		}
	})
}

// checkHonest refreshes from the repository as published: it must succeed
// and find every target, and list exactly them.
func checkHonest(t *testing.T, u *updater, repo *repotest.Repo) {
	t.Helper()
	set, err := u.refresh()
	if err != nil {
		t.Fatalf("honest refresh: %v", err)
	}
	if got, want := set.Timestamp().Signed.Version, repo.Timestamp.Signed.Version; got != want {
		t.Fatalf("trusting timestamp version %d, published %d", got, want)
	}
	if got, want := set.Snapshot().Signed.Version, repo.Snapshot.Signed.Version; got != want {
		t.Fatalf("trusting snapshot version %d, published %d", got, want)
	}
	load := u.loader(set)
	for p, content := range repo.Content {
		f, err := trust.FindTarget(p, 32, load)
		if err != nil {
			t.Fatalf("FindTarget(%s): %v", p, err)
		}
		if f.Hashes.Verify(content) != nil || f.Length != int64(len(content)) {
			t.Fatalf("FindTarget(%s) gives a target other than the one published", p)
		}
	}
	list, err := trust.ListTargets(0, 32, load)
	if err != nil {
		t.Fatalf("ListTargets: %v", err)
	}
	var paths []string
	for _, f := range list {
		paths = append(paths, f.Path)
	}
	slices.Sort(paths)
	if want := slices.Sorted(maps.Keys(repo.Content)); !slices.Equal(paths, want) {
		t.Fatalf("ListTargets lists %v, published %v", paths, want)
	}
}

// replayTimestamp serves an older timestamp: a refresh must refuse it when
// a newer one is trusted.
func replayTimestamp(t *testing.T, u *updater, repo *repotest.Repo, old []byte) {
	t.Helper()
	current := repo.File("metadata/timestamp.json")
	repo.SetFile("metadata/timestamp.json", old)
	defer repo.SetFile("metadata/timestamp.json", current)
	var trusted int64
	if ts := u.cache["timestamp"]; ts != nil {
		md, _ := metadata.ParseTimestamp(ts)
		trusted = md.Signed.Version
	}
	md, _ := metadata.ParseTimestamp(old)
	_, err := u.refresh()
	var re *trust.RollbackError
	if md.Signed.Version < trusted && !errors.As(err, &re) {
		// Unless a root rotation of the timestamp keys made the old one
		// unverifiable, which is refused too.
		var ce *trust.CheckError
		if !errors.As(err, &ce) {
			t.Fatalf("timestamp version %d replayed over version %d: %v", md.Signed.Version, trusted, err)
		}
	}
}

// corruptTargets flips a byte of the published targets metadata: whatever
// a lookup then returns must be what was published.
func corruptTargets(t *testing.T, u *updater, repo *repotest.Repo, arg int) {
	t.Helper()
	name := fmt.Sprintf("metadata/%d.targets.json", repo.Targets["targets"].Signed.Version)
	good := repo.File(name)
	bad := bytes.Clone(good)
	bad[(arg*7919)%len(bad)] ^= byte(arg) | 1
	repo.SetFile(name, bad)
	defer repo.SetFile(name, good)
	set, err := u.refresh()
	if err != nil {
		return
	}
	load := u.loader(set)
	for p, content := range repo.Content {
		f, err := trust.FindTarget(p, 32, load)
		if err == nil && (f.Hashes.Verify(content) != nil || f.Length != int64(len(content))) {
			t.Fatalf("a corrupted targets.json gave %s a target other than the one published", p)
		}
	}
}
