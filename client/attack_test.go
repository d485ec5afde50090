package client_test

// One test per attack the TUF specification lists. In each, a repository or
// mirror served by httptest attacks a client that has refreshed once; the
// client must refuse, say why, and keep its trusted state.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/trust"
)

// expectRefused asserts err mentions every one of want, and that the
// trusted state is unchanged.
func expectRefused(t *testing.T, err error, dir string, before map[string][]byte, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("the client accepted the attack")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not say %q", err, w)
		}
	}
	if after := state(t, dir); !sameState(before, after) {
		t.Fatalf("trusted state changed after a refused attack")
	}
}

// forgeTargets returns targets metadata of the given version listing an
// evil target, signed by a key the repository never trusted.
func forgeTargets(t *testing.T, version int64, extra map[string][]byte) []byte {
	t.Helper()
	doc := metadata.NewTargets(time.Now().Add(time.Hour))
	doc.Version = version
	for p, c := range extra {
		doc.Targets[p] = metadata.NewTargetFile(c, false)
	}
	md := metadata.New(doc)
	if _, err := md.Sign(context.Background(), repotest.NewSigner(t)); err != nil {
		t.Fatal(err)
	}
	data, err := md.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// An attacker who can answer for the repository tries to install a file of
// their choosing: forged metadata naming it, and its content in place of a
// genuine target.
func TestAttackArbitraryInstallation(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	repo.AddTarget("targets", "app", []byte("genuine app"))
	repo.Publish()
	c, dir, before := refreshed(t, repo)

	// Forged metadata: the snapshot lists targets at its current version,
	// and the attacker serves a targets file of that version of their own.
	repo.AddTarget("targets", "app", []byte("genuine app v2"))
	repo.Publish()
	v := repo.Targets["targets"].Signed.Version
	genuine := repo.File(fmt.Sprintf("metadata/%d.targets.json", v))
	repo.SetFile(fmt.Sprintf("metadata/%d.targets.json", v), forgeTargets(t, v, map[string][]byte{"app": []byte("evil")}))
	err := c.Refresh(ctx)
	if err == nil || !strings.Contains(err.Error(), "targets.json: signatures check failed") {
		t.Fatalf("forged targets: %v", err)
	}
	if after := state(t, dir); !bytes.Equal(after["targets.json"], before["targets.json"]) {
		t.Fatal("forged targets metadata was stored")
	}

	// Arbitrary content in place of a genuine target.
	repo.SetFile(fmt.Sprintf("metadata/%d.targets.json", v), genuine)
	info, err := c.Target(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	repo.SetFile("targets/"+info.ConsistentPath("app"), []byte("evil content!!"))
	dst := filepath.Join(t.TempDir(), "app")
	_, err = c.DownloadFile(ctx, info, dst)
	if err == nil || !strings.Contains(err.Error(), "sha256 hash mismatch") {
		t.Fatalf("arbitrary content: %v", err)
	}
	if _, statErr := os.Stat(dst); !os.IsNotExist(statErr) {
		t.Fatal("a file was left at the destination")
	}
}

// An attacker sends an endless stream instead of a file: for every file the
// client fetches, with or without a length listed in metadata, and with or
// without a Content-Length header, the download stops at its bound.
func TestAttackEndlessData(t *testing.T) {
	ctx := context.Background()
	endless := func(w http.ResponseWriter, declare bool) {
		if declare {
			w.Header().Set("Content-Length", fmt.Sprint(int64(1)<<40))
		}
		chunk := bytes.Repeat([]byte("A"), 32<<10)
		for range 1 << 10 { // 32 MiB at most, far beyond every bound used here
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
	tests := []struct {
		file string // the file the attacker replaces, below /
		want string
	}{
		{"metadata/2.root.json", "2.root.json"}, // no length known: Limits.RootBytes
		{"metadata/timestamp.json", "timestamp.json"},
		{"metadata/3.snapshot.json", "snapshot.json"}, // the length timestamp lists
		{"metadata/3.targets.json", "targets.json"},   // no length listed: Limits.TargetsBytes
		{"metadata/2.d.json", "d.json"},
		{"target", "target big"}, // the target's length
	}
	for _, tt := range tests {
		for _, declare := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s,Content-Length=%v", tt.want, declare), func(t *testing.T) {
				repo := repotest.New(t)
				repo.Delegate("targets", "d", []string{"d/*"}, false)
				repo.AddTarget("targets", "big", []byte("small file"))
				repo.Publish()
				limits := func(cfg *client.Config) {
					cfg.Limits.RootBytes = 64 << 10
					cfg.Limits.TimestampBytes = 64 << 10
					cfg.Limits.TargetsBytes = 256 << 10
				}
				c, dir, _ := refreshed(t, repo, limits)
				info, err := c.Target(ctx, "big")
				if err != nil {
					t.Fatal(err)
				}
				repo.MarkDirty("root")
				repo.MarkDirty("targets")
				repo.MarkDirty("d")
				repo.Publish()
				if tt.file == "metadata/2.root.json" {
					// The attacker answers for a root that does not exist.
					repo.SetFile("metadata/2.root.json", nil)
				}
				before := state(t, dir)
				path := "/" + tt.file
				if tt.file == "target" {
					path = "/targets/" + info.ConsistentPath("big")
				}
				requests := repo.RequestCount(path)
				repo.Hook = func(w http.ResponseWriter, r *http.Request) bool {
					if r.URL.Path == path {
						endless(w, declare)
						return true
					}
					return false
				}
				if tt.file == "target" {
					dst := filepath.Join(t.TempDir(), "big")
					_, err = c.DownloadFile(ctx, info, dst)
					if _, statErr := os.Stat(dst); !os.IsNotExist(statErr) {
						t.Fatal("a file was left at the destination")
					}
					if entries, _ := os.ReadDir(filepath.Dir(dst)); len(entries) != 0 {
						t.Fatalf("partial files left behind: %v", entries)
					}
				} else {
					err = c.Refresh(ctx)
					if err == nil {
						_, err = c.Target(ctx, "d/x")
					}
				}
				if !errors.Is(err, client.ErrTooLarge) {
					t.Fatalf("got %v, want ErrTooLarge", err)
				}
				if n := repo.RequestCount(path) - requests; n != 1 {
					t.Fatalf("%s requested %d times", path, n)
				}
				after := state(t, dir)
				for _, f := range []string{"snapshot.json", "targets.json", "d.json"} {
					// What the refused file would have replaced stays.
					if strings.HasSuffix(tt.want, f) && !bytes.Equal(before[f], after[f]) {
						t.Fatalf("%s changed", f)
					}
				}
				if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "exceeds the length bound") {
					t.Fatalf("error %q does not name %s and the bound", err, tt.want)
				}
				if tt.file == "metadata/2.root.json" || tt.file == "metadata/timestamp.json" || tt.file == "target" {
					if tt.file != "metadata/2.root.json" {
						delete(before, "root.json") // genuine root v2 came first
						delete(after, "root.json")
					}
					if !sameState(before, after) {
						t.Fatal("trusted state changed")
					}
				}
			})
		}
	}
}

// An attacker adds a dependency the maintainers never listed to genuine
// targets metadata.
func TestAttackExtraneousDependencies(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	repo.AddTarget("targets", "app", []byte("app"))
	repo.Publish()
	c, dir, before := refreshed(t, repo)
	repo.AddTarget("targets", "app", []byte("app v2"))
	repo.Publish()
	name := fmt.Sprintf("metadata/%d.targets.json", repo.Targets["targets"].Signed.Version)
	md, err := metadata.ParseTargets(repo.File(name))
	if err != nil {
		t.Fatal(err)
	}
	custom := []byte(`{"depends":["backdoor"]}`)
	tf := md.Signed.Targets["app"]
	tf.Custom = custom
	md.Signed.Targets["app"] = tf
	md.Signed.Targets["backdoor"] = metadata.NewTargetFile([]byte("evil"), false)
	sigs := md.Signatures
	md.ClearSignatures()
	data, err := md.Encode()
	if err != nil {
		t.Fatal(err)
	}
	// Keep the genuine signatures on the altered document.
	md2, _ := metadata.ParseTargets(data)
	for _, s := range sigs {
		md2.AddSignature(s)
	}
	tampered, err := md2.Encode()
	if err != nil {
		t.Fatal(err)
	}
	repo.SetFile(name, tampered)
	err = c.Refresh(ctx)
	if err == nil || !strings.Contains(err.Error(), "targets.json: signatures check failed") || !strings.Contains(err.Error(), "0 of the 1 required signatures") {
		t.Fatalf("extra dependency: %v", err)
	}
	if !bytes.Equal(state(t, dir)["targets.json"], before["targets.json"]) {
		t.Fatal("tampered targets metadata was stored")
	}
	if _, err := c.Target(ctx, "backdoor"); err == nil {
		t.Fatal("the extraneous target resolved")
	}
}

// An attacker tries to push the timestamp version far ahead so that later
// genuine updates look like rollbacks. Without the timestamp key they are
// refused; with it (a compromise), rotating the key recovers the client.
func TestAttackFastForward(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	c, dir, before := refreshed(t, repo)
	ts := metadata.New(metadata.NewTimestamp(time.Now().Add(time.Hour)))
	ts.Signed.Version = 1 << 40
	ts.Signed.Meta["snapshot.json"] = metadata.MetaFile{Version: 1 << 40}
	if _, err := ts.Sign(ctx, repotest.NewSigner(t)); err != nil {
		t.Fatal(err)
	}
	forged, _ := ts.Encode()
	repo.SetFile("metadata/timestamp.json", forged)
	expectRefused(t, c.Refresh(ctx), dir, before, "timestamp.json: signatures check failed")

	// With the real timestamp key the attacker succeeds in moving the
	// version ahead...
	repo.Timestamp.Signed.Version = 1 << 40
	repo.Publish()
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// ...until the maintainers rotate the key and start over at version 1.
	repo.RotateKeys("timestamp", 1, 1)
	repo.Timestamp.Signed.Version = 0
	repo.Publish()
	if err := c.Refresh(ctx); err != nil {
		t.Fatalf("no recovery from the fast-forward attack: %v", err)
	}
	if got := state(t, dir)["timestamp.json"]; !bytes.Equal(got, repo.File("metadata/timestamp.json")) {
		t.Fatal("the new timestamp was not stored")
	}
}

// An attacker keeps serving the same, genuine, metadata after it expired,
// so that the client never hears of updates. Whichever document expired,
// the client refuses it.
func TestAttackIndefiniteFreeze(t *testing.T) {
	ctx := context.Background()
	soon := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	for _, role := range []string{"root", "timestamp", "snapshot", "targets", "d"} {
		t.Run(role, func(t *testing.T) {
			repo := repotest.New(t)
			repo.Delegate("targets", "d", []string{"d/*"}, false)
			repo.AddTarget("d", "d/f", []byte("f"))
			switch role {
			case "root":
				repo.Root.Signed.Expires = soon
			case "timestamp":
				repo.Timestamp.Signed.Expires = soon
			case "snapshot":
				repo.Snapshot.Signed.Expires = soon
			default:
				repo.Targets[role].Signed.Expires = soon
			}
			repo.MarkDirty(role)
			repo.Publish()
			clock := time.Now()
			c, dir, _ := refreshed(t, repo, func(cfg *client.Config) { cfg.Now = func() time.Time { return clock } })
			if _, err := c.Target(ctx, "d/f"); err != nil {
				t.Fatal(err)
			}
			before := state(t, dir)
			// The repository is frozen: it serves the same files, and
			// time passes.
			clock = soon.Add(time.Second)
			err := c.Refresh(ctx)
			if role == "d" {
				if err != nil {
					t.Fatal(err)
				}
				_, err = c.Target(ctx, "d/f")
			}
			var ee *trust.ExpiredError
			if !errors.As(err, &ee) {
				t.Fatalf("got %v, want an ExpiredError", err)
			}
			expectRefused(t, err, dir, before, role+".json: expired at", "freeze attack")
		})
	}
}

// A mirror serves a snapshot other than the one the timestamp names.
func TestAttackMaliciousMirrors(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	repo.AddTarget("targets", "a", []byte("a"))
	repo.Publish()
	c, dir, before := refreshed(t, repo)
	stale := repo.File(fmt.Sprintf("metadata/%d.snapshot.json", repo.Snapshot.Signed.Version))
	repo.AddTarget("targets", "a", []byte("a2"))
	repo.Publish()
	repo.SetFile(fmt.Sprintf("metadata/%d.snapshot.json", repo.Snapshot.Signed.Version), stale)
	err := c.Refresh(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "snapshot.json: ") || !(strings.Contains(err.Error(), "length") || strings.Contains(err.Error(), "hash mismatch")) {
		t.Fatalf("stale snapshot from a mirror: %v", err)
	}
	if !bytes.Equal(state(t, dir)["snapshot.json"], before["snapshot.json"]) {
		t.Fatal("the mirror's snapshot was stored")
	}
}

// An attacker combines metadata from different repository states: an
// older targets file served under the name of the current one.
func TestAttackMixAndMatch(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	repo.AddTarget("targets", "lib", []byte("lib v1 (vulnerable)"))
	repo.Publish()
	c, dir, before := refreshed(t, repo)
	old := repo.File(fmt.Sprintf("metadata/%d.targets.json", repo.Targets["targets"].Signed.Version))
	repo.AddTarget("targets", "lib", []byte("lib v2 (fixed)"))
	repo.Publish()
	repo.SetFile(fmt.Sprintf("metadata/%d.targets.json", repo.Targets["targets"].Signed.Version), old)
	err := c.Refresh(ctx)
	if err == nil || !strings.Contains(err.Error(), "mix-and-match") {
		t.Fatalf("old targets with a new snapshot: %v", err)
	}
	if !bytes.Equal(state(t, dir)["targets.json"], before["targets.json"]) {
		t.Fatal("the old targets metadata replaced the trusted one")
	}
}

// An attacker replays older, genuinely signed, metadata: an old timestamp,
// an old root as the next one, or (holding the snapshot and timestamp keys)
// a snapshot listing an older targets version.
func TestAttackRollback(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		attack func(repo *repotest.Repo)
		want   []string
	}{
		{"timestamp", func(repo *repotest.Repo) {
			repo.SetFile("metadata/timestamp.json", repo.File("metadata/old-timestamp.json"))
		}, []string{"timestamp.json: version 2 is lower than the trusted version 3 (rollback attack?)"}},
		{"root", func(repo *repotest.Repo) {
			repo.SetFile("metadata/2.root.json", repo.RootBytes(1))
		}, []string{"2.root.json: version 1, want exactly 2 (rollback attack?)"}},
		{"targets listed in snapshot", func(repo *repotest.Repo) {
			repo.Snapshot.Signed.Meta["targets.json"] = metadata.MetaFile{Version: 1}
			repo.Publish()
		}, []string{"targets.json (as listed in snapshot.json): version 1 is lower than the trusted version 3 (rollback attack?)"}},
	}
	// With the timestamp key, the attacker's timestamp is genuine: it is
	// trusted and persisted (spec 5.4.5) before the snapshot is refused.
	mayChange := map[string]string{"targets listed in snapshot": "timestamp.json"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := repotest.New(t)
			repo.MarkDirty("targets")
			repo.Publish()
			repo.SetFile("metadata/old-timestamp.json", repo.File("metadata/timestamp.json"))
			repo.AddTarget("targets", "f", []byte("f"))
			repo.Publish()
			c, dir, before := refreshed(t, repo)
			tt.attack(repo)
			err := c.Refresh(ctx)
			var re *trust.RollbackError
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a RollbackError", err)
			}
			if f := mayChange[tt.name]; f != "" {
				before[f] = state(t, dir)[f]
			}
			expectRefused(t, err, dir, before, tt.want...)
		})
	}
}

// An attacker answers slowly, to hold the client forever: trickling a
// metadata file, sending a target quickly at first and then trickling the
// rest, stalling in the middle of a body, or never answering at all.
func TestAttackSlowRetrieval(t *testing.T) {
	ctx := context.Background()
	big := bytes.Repeat([]byte("0123456789abcdef"), 8<<10) // 128 KiB
	// trickle writes data[:fast] at once and the rest a byte every 20 ms
	// (50 bytes/s), or stalls after the fast part when stall is set.
	trickle := func(w http.ResponseWriter, r *http.Request, data []byte, fast int, stall bool) {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data[:fast])
		w.(http.Flusher).Flush()
		if stall {
			<-r.Context().Done()
			return
		}
		for _, b := range data[fast:] {
			if _, err := w.Write([]byte{b}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	tests := []struct {
		name  string
		path  func(repo *repotest.Repo, info client.TargetInfo) string
		serve func(w http.ResponseWriter, r *http.Request, repo *repotest.Repo)
		want  string
	}{
		{"trickled timestamp", func(*repotest.Repo, client.TargetInfo) string { return "/metadata/timestamp.json" },
			func(w http.ResponseWriter, r *http.Request, repo *repotest.Repo) {
				trickle(w, r, repo.File("metadata/timestamp.json"), 0, false)
			}, "timestamp.json"},
		{"fast, then trickled target", func(_ *repotest.Repo, info client.TargetInfo) string {
			return "/targets/" + info.ConsistentPath(info.Path)
		},
			func(w http.ResponseWriter, r *http.Request, repo *repotest.Repo) { trickle(w, r, big, 96<<10, false) }, "target big"},
		{"stalled target", func(_ *repotest.Repo, info client.TargetInfo) string {
			return "/targets/" + info.ConsistentPath(info.Path)
		},
			func(w http.ResponseWriter, r *http.Request, repo *repotest.Repo) { trickle(w, r, big, 1<<10, true) }, "target big"},
		{"no answer", func(*repotest.Repo, client.TargetInfo) string { return "/metadata/timestamp.json" },
			func(w http.ResponseWriter, r *http.Request, repo *repotest.Repo) { <-r.Context().Done() }, "no response within 300ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := repotest.New(t)
			repo.AddTarget("targets", "big", big)
			repo.Publish()
			c, dir, _ := refreshed(t, repo, func(cfg *client.Config) {
				cfg.Fetcher = &client.HTTPFetcher{MinRate: 4096, RateWindow: 100 * time.Millisecond, Timeout: 300 * time.Millisecond}
			})
			info, err := c.Target(ctx, "big")
			if err != nil {
				t.Fatal(err)
			}
			before := state(t, dir)
			path := tt.path(repo, info)
			repo.Hook = func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != path {
					return false
				}
				tt.serve(w, r, repo)
				return true
			}
			start := time.Now()
			if strings.HasPrefix(path, "/targets/") {
				dst := filepath.Join(t.TempDir(), "big")
				_, err = c.DownloadFile(ctx, info, dst)
				if _, statErr := os.Stat(dst); !os.IsNotExist(statErr) {
					t.Fatal("a file was left at the destination")
				}
			} else {
				err = c.Refresh(ctx)
			}
			// The fast part alone would keep a cumulative average above
			// the minimum rate for 24 s; each window counts on its own.
			if took := time.Since(start); took > time.Second {
				t.Fatalf("the client waited %v for a slow server", took)
			}
			if !errors.Is(err, client.ErrTooSlow) {
				t.Fatalf("got %v, want ErrTooSlow", err)
			}
			expectRefused(t, err, dir, before, tt.want, "too slow")
		})
	}
}

// An attacker holds one of the two keys a threshold of two requires.
func TestAttackKeyCompromiseBelowThreshold(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	signers := repo.RotateKeys("targets", 2, 2)
	repo.AddTarget("targets", "app", []byte("genuine"))
	repo.Publish()
	c, dir, before := refreshed(t, repo)
	repo.Signers["targets"] = signers[:1] // the attacker's key alone
	repo.AddTarget("targets", "app", []byte("evil"))
	repo.Publish()
	err := c.Refresh(ctx)
	if err == nil || !strings.Contains(err.Error(), "1 of the 2 required signatures") {
		t.Fatalf("targets signed by one of two keys: %v", err)
	}
	if !bytes.Equal(state(t, dir)["targets.json"], before["targets.json"]) {
		t.Fatal("under-signed targets metadata was stored")
	}
}

// A mirror serves another genuine target in place of the one asked for.
func TestAttackWrongSoftwareInstallation(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	repo.AddTarget("targets", "app-1.0.tgz", []byte("app one point oh"))
	repo.AddTarget("targets", "app-0.1.tgz", []byte("old app zero one"))
	repo.Publish()
	c, _, _ := refreshed(t, repo)
	want, err := c.Target(ctx, "app-1.0.tgz")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := c.Target(ctx, "app-0.1.tgz")
	repo.SetFile("targets/"+want.ConsistentPath(want.Path), repo.File("targets/"+other.ConsistentPath(other.Path)))
	dst := filepath.Join(t.TempDir(), "app.tgz")
	_, err = c.DownloadFile(ctx, want, dst)
	if err == nil || !strings.Contains(err.Error(), "target app-1.0.tgz: sha256 hash mismatch") {
		t.Fatalf("wrong software: %v", err)
	}
	if _, statErr := os.Stat(dst); !os.IsNotExist(statErr) {
		t.Fatal("the wrong software was left at the destination")
	}
}
