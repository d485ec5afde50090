package bolt_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/bolt"
)

func part(name, data string) store.StagedPart {
	sum := sha256.Sum256([]byte(data))
	return store.StagedPart{Name: name, SHA256: hex.EncodeToString(sum[:]), Length: int64(len(data)), Data: []byte(data)}
}

func update(gun string, base, ts int64) store.Update {
	return store.Update{Base: base, Repo: store.Repo{GUN: gun, RootVersion: 1, SnapshotVersion: ts, TimestampVersion: ts},
		Files: []store.File{{Role: "timestamp", Version: ts, SHA256: part("", `{"t":1}`).SHA256, Data: []byte(`{"t":1}`)}}}
}

// TestStagedCommitMovesDocuments: a commit leaves the documents of a staged
// update where they are and the files refer to them, so the database holds
// each once; File reads them through the reference and refuses one that
// is not what the reference's digest says. A commit that fails leaves the
// staged update as it was; Delete removes the documents.
func TestStagedCommitMovesDocuments(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rampart.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const gun, id = "example.com/app", "0123456789abcdef0123456789abcdef"
	now := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateStaged(ctx, store.Staged{GUN: gun, ID: id, Created: now, Expires: now.Add(time.Hour)}, 4))
	big := string(bytes.Repeat([]byte("b"), 100000))
	must(s.PutStagedParts(ctx, gun, id, []store.StagedPart{part("root/001", `{"root":1}`), part("targets", `{"targets":1}`), part("bins-0", big), part("snapshot", `{"snap":1}`)}))
	moves := []store.StagedFile{{Part: "root/001", Role: "root", Version: 1}, {Part: "targets", Role: "targets", Version: 1}, {Part: "bins-0", Role: "bins-0", Version: 1}}

	// A commit that fails (the repository is not at base 7) changes nothing.
	if _, err := s.CommitStaged(ctx, update(gun, 7, 8), id, moves); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("commit on a wrong base: %v, want a conflict", err)
	}
	if _, ps, err := s.Staged(ctx, gun, id, now); err != nil || len(ps) != 4 {
		t.Fatalf("after a failed commit: %d parts, %v", len(ps), err)
	}
	if _, err := s.File(ctx, gun, "bins-0", 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a failed commit stored a file: %v", err)
	}

	if _, err := s.CommitStaged(ctx, update(gun, 0, 1), id, moves); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Staged(ctx, gun, id, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the staged update after its commit: %v", err)
	}
	for role, want := range map[string]string{"root": `{"root":1}`, "targets": `{"targets":1}`, "bins-0": big, "timestamp": `{"t":1}`} {
		f, err := s.File(ctx, gun, role, 1)
		if err != nil || string(f.Data) != want || f.SHA256 != part(role, want).SHA256 {
			t.Errorf("%s: %q (%s), %v", role, f.Data[:min(len(f.Data), 20)], f.SHA256, err)
		}
	}
	must(s.Close())

	// In the file: bins-0 is stored once, referred to from files; the
	// snapshot part, which no file took, is gone.
	db, err := bbolt.Open(path, 0o600, nil)
	must(err)
	must(db.Update(func(tx *bbolt.Tx) error {
		files := tx.Bucket([]byte("files"))
		ref := files.Get(append([]byte(gun+"\x00bins-0\x00"), 0, 0, 0, 0, 0, 0, 0, 1))
		if len(ref) > 200 || ref[64] != 0 {
			t.Errorf("files holds bins-0 itself (%d bytes), not a reference", len(ref))
		}
		parts := tx.Bucket([]byte("docs")).Bucket([]byte(gun + "\x00" + id)).Bucket([]byte("parts"))
		if parts.Get([]byte("snapshot")) != nil || len(parts.Get([]byte("bins-0"))) != 64+len(big) {
			t.Errorf("docs: snapshot %q, bins-0 %d bytes", parts.Get([]byte("snapshot")), len(parts.Get([]byte("bins-0"))))
		}
		// Tamper with the referenced document.
		return parts.Put([]byte("targets"), append([]byte(part("targets", `{"other":1}`).SHA256), `{"other":1}`...))
	}))
	must(db.Close())
	s, err = bolt.Open(path)
	must(err)
	defer s.Close()
	if _, err := s.File(ctx, gun, "targets", 1); err == nil {
		t.Error("File read a referenced document whose digest is not the file's")
	}

	if _, err := s.Delete(ctx, gun); err != nil {
		t.Fatal(err)
	}
	must(s.Close())
	db, err = bbolt.Open(path, 0o600, nil)
	must(err)
	defer db.Close()
	must(db.View(func(tx *bbolt.Tx) error {
		if k, _ := tx.Bucket([]byte("docs")).Cursor().First(); k != nil {
			t.Errorf("docs of a deleted repository left: %q", k)
		}
		return nil
	}))
}
