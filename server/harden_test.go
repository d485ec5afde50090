package server_test

// Attacks on a running server (issue 9, "server hardening"): each test
// does what an attacker with a push token, or with no token, would do,
// and checks that the server refuses it.

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// TestVersionBounds: a new repository's first root must be version 1, and
// no document may carry a version above 2^53-1; a targets version of
// 2^63-1 used to freeze a repository for good.
func TestVersionBounds(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts := newServer(t, openStore(t, kind))
		m := newMaintainer(t, ts, "example.com/versions")
		targets := sign(t, m.targetsDoc(1, nil), m.targets)
		for _, v := range []int64{1000, math.MaxInt64, 2} {
			code, e, _ := m.publish(map[string][]byte{"root": sign(t, m.rootDoc(v), m.root), "targets": targets})
			if code != http.StatusBadRequest || e.Role != "root" || e.Check != "version" {
				t.Errorf("first root version %d: %d %+v, want 400 root version", v, code, e)
			}
		}
		m.mustPublish(map[string][]byte{"root": sign(t, m.rootDoc(1), m.root), "targets": targets})

		for _, v := range []int64{math.MaxInt64, metadata.MaxVersion + 1} {
			code, e, _ := m.publish(map[string][]byte{"targets": sign(t, m.targetsDoc(v, nil), m.targets)})
			if code != http.StatusBadRequest || e.Role != "targets" || e.Check != "version" || !strings.Contains(e.Error, strconv.FormatInt(v, 10)) || strings.Contains(e.Error, "-9") {
				t.Errorf("targets version %d: %d %+v, want 400 targets version naming the version", v, code, e)
			}
		}
		tg := m.targetsDoc(2, nil)
		m.delegate(tg, "role1")
		code, e, _ := m.publish(map[string][]byte{"targets": sign(t, tg, m.targets), "role1": sign(t, m.targetsDoc(math.MaxInt64, nil), m.deleg)})
		if code != http.StatusBadRequest || e.Role != "role1" || e.Check != "version" {
			t.Errorf("delegated role at version 2^63-1: %d %+v", code, e)
		}
		code, e, _ = m.publish(map[string][]byte{"root": sign(t, m.rootDoc(metadata.MaxVersion+1), m.root)})
		if code != http.StatusBadRequest || e.Role != "root" || e.Check != "version" {
			t.Errorf("root at version 2^53: %d %+v", code, e)
		}
		// The repository is not frozen: the largest version is accepted
		// and the next publish still works from version 2.
		m.mustPublish(map[string][]byte{"targets": sign(t, m.targetsDoc(2, nil), m.targets)})
		m.mustPublish(map[string][]byte{"targets": sign(t, m.targetsDoc(metadata.MaxVersion, nil), m.targets)})
	})
}

// TestSnapshotMetaHashes: a snapshot signed by the maintainer is checked
// on every hash and length it gives, as a client checks them; a wrong
// SHA-512 used to be accepted and broke every client afterwards.
func TestSnapshotMetaHashes(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts := newServer(t, openStore(t, kind))
		m := newMaintainer(t, ts, "example.com/offline-snapshot")
		m.snap = newSigner(t)
		root := sign(t, m.rootDoc(1), m.root)
		targets := sign(t, m.targetsDoc(1, nil), m.targets)
		both := metadata.HashesOf(targets, true)
		wrong512 := metadata.Hashes{SHA256: both.SHA256, SHA512: metadata.HashesOf([]byte("other"), true).SHA512}
		for _, tc := range []struct {
			name string
			mf   metadata.MetaFile
		}{
			{"wrong sha512", metadata.MetaFile{Version: 1, Length: int64(len(targets)), Hashes: wrong512}},
			{"only a wrong sha512", metadata.MetaFile{Version: 1, Hashes: metadata.Hashes{SHA512: wrong512.SHA512}}},
			{"wrong length", metadata.MetaFile{Version: 1, Length: int64(len(targets)) + 1, Hashes: both}},
			{"wrong length alone", metadata.MetaFile{Version: 1, Length: 3}},
		} {
			sn := metadata.NewSnapshot(m.expires)
			sn.Meta["targets.json"] = tc.mf
			code, e, _ := m.publish(map[string][]byte{"root": root, "targets": targets, "snapshot": sign(t, sn, m.snap)})
			if code != http.StatusBadRequest || e.Role != "snapshot" || e.Check != "hashes" {
				t.Errorf("%s: %d %+v, want 400 snapshot hashes", tc.name, code, e)
			}
		}
		sn := metadata.NewSnapshot(m.expires)
		sn.Meta["targets.json"] = metadata.MetaFile{Version: 1, Length: int64(len(targets)), Hashes: both}
		m.mustPublish(map[string][]byte{"root": root, "targets": targets, "snapshot": sign(t, sn, m.snap)})
		// An unchanged role listed again with a wrong SHA-512 is refused
		// too.
		sn = metadata.NewSnapshot(m.expires)
		sn.Version = 2
		sn.Meta["targets.json"] = metadata.MetaFile{Version: 1, Hashes: wrong512}
		code, e, _ := m.publish(map[string][]byte{"root": sign(t, m.rootDoc(2), m.root), "snapshot": sign(t, sn, m.snap)})
		if code != http.StatusBadRequest || e.Role != "snapshot" || e.Check != "hashes" {
			t.Errorf("unchanged targets listed with a wrong sha512: %d %+v", code, e)
		}
		if _, err := newClient(t, ts.URL, m.gun, root).refresh(); err != nil {
			t.Fatalf("client after the refused snapshots: %v", err)
		}
	})
}

// TestTargetPaths: target names that are not clean relative paths are
// refused at publish, in top-level and delegated targets, and nothing is
// stored.
func TestTargetPaths(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts := newServer(t, openStore(t, kind))
		m := newMaintainer(t, ts, "example.com/paths")
		root := sign(t, m.rootDoc(1), m.root)
		bad := []string{"", "../../etc/passwd", "/abs/path", "a//b", `a\..\b`, "invoice\u202Etxt.exe", "a\nb", "delegated/../x"}
		for _, p := range bad {
			code, e, _ := m.publish(map[string][]byte{"root": root, "targets": sign(t, m.targetsDoc(1, map[string]string{p: "x"}), m.targets)})
			if code != http.StatusBadRequest || e.Role != "targets" || e.Check != "target-path" {
				t.Errorf("new repository listing %q: %d %+v, want 400 targets target-path", p, code, e)
			}
		}
		if _, err := ts.Store.Repo(context.Background(), m.gun); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a refused publish created the repository: %v", err)
		}
		tg := m.targetsDoc(1, map[string]string{"ok.txt": "x"})
		m.delegate(tg, "role1")
		m.mustPublish(map[string][]byte{"root": root, "targets": sign(t, tg, m.targets)})
		for _, p := range bad {
			code, e, _ := m.publish(map[string][]byte{"role1": sign(t, m.targetsDoc(1, map[string]string{p: "x"}), m.deleg)})
			if code != http.StatusBadRequest || e.Role != "role1" || e.Check != "target-path" {
				t.Errorf("delegated role listing %q: %d %+v, want 400 role1 target-path", p, code, e)
			}
		}
	})
}
