package repo

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// snapshotTree reads every file of dir except the lock.
func snapshotTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == ".lock" {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var errCrash = errors.New("injected crash")

// TestCommitAtomic interrupts a commit at every step and checks that the
// repository is then either exactly as before or, once reopened, exactly
// as a complete commit leaves it.
func TestCommitAtomic(t *testing.T) {
	ctx := context.Background()
	add := func(r *Repo) error {
		_, err := r.Add(ctx, []Target{
			{Path: "a/one", File: metadata.NewTargetFile([]byte("one"), false)},
			{Path: "b/two", File: metadata.NewTargetFile([]byte("two"), false)},
			{Path: "c/three", File: metadata.NewTargetFile([]byte("three"), false)},
		}, AddOptions{})
		return err
	}
	setup := func(t *testing.T) (*Repo, map[string]string) {
		dir := filepath.Join(t.TempDir(), "r")
		r, err := Init(ctx, dir, InitOptions{Bins: 3}, Options{Keys: PlainKeyStore{}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r, snapshotTree(t, dir)
	}
	// The state a complete commit leaves, for comparison (timestamps and
	// signatures differ between runs, so compare the set of files and the
	// versions instead of bytes).
	ref, _ := setup(t)
	if err := add(ref); err != nil {
		t.Fatal(err)
	}
	after := snapshotTree(t, ref.Dir())
	for _, step := range []string{"written", "committed", "moved 1", "moved 3", "moved 5"} {
		for _, crash := range []bool{false, true} {
			if crash && step != "written" {
				continue // after the commit point, failing and crashing leave the same files
			}
			name := step
			if crash {
				name += " crash"
			}
			t.Run(name, func(t *testing.T) {
				r, before := setup(t)
				var leftover map[string]string
				r.commitHook = func(s string) error {
					if s != step {
						return nil
					}
					if crash && s == "written" {
						// A crash leaves .txn.new behind; keep a copy to
						// put back after the commit cleans up.
						leftover = snapshotTree(t, filepath.Join(r.dir, txnNewDir))
					}
					return errCrash
				}
				err := add(r)
				r.commitHook = nil
				if !errors.Is(err, errCrash) {
					t.Fatalf("add = %v, want the injected crash", err)
				}
				for p, c := range leftover {
					full := filepath.Join(r.dir, txnNewDir, p)
					os.MkdirAll(filepath.Dir(full), 0o755)
					os.WriteFile(full, []byte(c), 0o644)
				}
				r.Close()
				r2, err := Open(ctx, r.dir, Options{Keys: PlainKeyStore{}})
				if err != nil {
					t.Fatalf("Open after the crash: %v", err)
				}
				defer r2.Close()
				got := snapshotTree(t, r.dir)
				if step == "written" {
					if !maps.Equal(got, before) {
						t.Fatalf("state changed by a commit interrupted before its commit point:\n%v", diffKeys(before, got))
					}
					return
				}
				if !sameKeys(got, after) {
					t.Fatalf("state after recovery differs from a complete commit:\n%v", diffKeys(after, got))
				}
				// Every role the snapshot lists is staged at that version,
				// and the timestamp matches the snapshot.
				st, err := r2.Status(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(st.Warnings) > 0 {
					t.Errorf("warnings after recovery: %v", st.Warnings)
				}
				if _, err := r2.Publish(ctx, filepath.Join(t.TempDir(), "pub")); err != nil {
					t.Errorf("publish after recovery: %v", err)
				}
				if st.Bins.Targets != 3 {
					t.Errorf("bins hold %d targets after recovery, want 3", st.Bins.Targets)
				}
			})
		}
	}
}

// TestCommitBefore: what makes files outside the journal durable
// (Tx.before, the content an add stores) finishes before the commit
// point, and its failure aborts the commit, leaving the repository as it
// was.
func TestCommitBefore(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "r")
	r, err := Init(ctx, dir, InitOptions{}, Options{Keys: PlainKeyStore{}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	add := func(path string, before func() error) error {
		return r.Update(ctx, func(tx *Tx) error {
			tx.before = before
			_, err := tx.add([]Target{{Path: path, File: metadata.NewTargetFile([]byte(path), false)}}, AddOptions{})
			return err
		})
	}
	start := snapshotTree(t, dir)
	errSync := errors.New("injected sync failure")
	if err := add("a", func() error { return errSync }); !errors.Is(err, errSync) {
		t.Fatalf("add whose content could not be synced: %v, want the injected failure", err)
	}
	if got := snapshotTree(t, dir); !maps.Equal(got, start) {
		t.Fatalf("a commit whose content could not be synced changed the repository:\n%v", diffKeys(start, got))
	}

	var done atomic.Bool
	r.commitHook = func(step string) error {
		if step == "written" && !done.Load() {
			return errors.New("commit point reached before the content was durable")
		}
		return nil
	}
	err = add("b", func() error {
		time.Sleep(20 * time.Millisecond)
		done.Store(true)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if tg, err := r.readTargets(metadata.TypeTargets); err != nil || len(tg.Signed.Targets) != 1 {
		t.Fatalf("targets after the commit: %v, %v; want b only", tg, err)
	}
}

func sameKeys(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

func diffKeys(want, got map[string]string) string {
	var out []string
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			out = append(out, "missing "+k)
		case g != v:
			out = append(out, "changed "+k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, "extra "+k)
		}
	}
	return strings.Join(out, "\n")
}

// TestRecoverJournalLayouts completes an interrupted commit whose files
// are where this version puts them (the first files in files/ itself, the
// others in subdirectories) and one whose files are where earlier versions
// put them (every file in a subdirectory).
func TestRecoverJournalLayouts(t *testing.T) {
	for name, place := range map[string]func(int) string{"current": journalFile, "earlier": oldJournalFile} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			files := filepath.Join(dir, txnDir, "files")
			var plan strings.Builder
			want := map[string]string{}
			for _, i := range []int{0, 3, journalSubdirs + 2} {
				p := filepath.Join(files, place(i))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				rel := "staged/f" + strconv.Itoa(i) + ".json"
				if err := os.WriteFile(p, []byte(rel), 0o644); err != nil {
					t.Fatal(err)
				}
				plan.WriteString(strconv.Itoa(i) + "\t" + rel + "\n")
				want[filepath.FromSlash(rel)] = rel
			}
			if err := os.WriteFile(filepath.Join(dir, txnDir, planFile), []byte(plan.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := recoverJournal(dir); err != nil {
				t.Fatal(err)
			}
			if got := snapshotTree(t, dir); !maps.Equal(got, want) {
				t.Errorf("after recovery the repository holds %v, want %v", got, want)
			}
		})
	}
}
