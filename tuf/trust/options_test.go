package trust_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/trust"
)

// TestExpiryPolicy loads a repository whose every role has expired, once
// as a client (ExpiryFail) and once as a maintainer's tool (ExpiryReport).
func TestExpiryPolicy(t *testing.T) {
	repo := fixture(t)
	late := repo.Expires.Add(time.Hour)
	steps := func(s *trust.Set) error {
		if err := s.CheckRootExpiry(); err != nil {
			return err
		}
		if err := s.UpdateTimestamp(repo.Meta("timestamp")); err != nil {
			return err
		}
		if err := s.UpdateSnapshot(repo.Meta("snapshot")); err != nil {
			return err
		}
		if err := s.UpdateTargets("targets", "root", repo.Meta("targets")); err != nil {
			return err
		}
		return s.UpdateTargets("d", "targets", repo.Meta("d"))
	}

	s, err := trust.New(repo.Meta("root"), trust.Options{Time: late})
	if err != nil {
		t.Fatal(err)
	}
	var ee *trust.ExpiredError
	checkErr(t, steps(s), &ee, "root.json: expired")
	if len(s.Expired()) != 0 {
		t.Fatalf("ExpiryFail listed %v", s.Expired())
	}

	s, err = trust.New(repo.Meta("root"), trust.Options{Time: late, Expiry: trust.ExpiryReport})
	if err != nil {
		t.Fatal(err)
	}
	if err := steps(s); err != nil {
		t.Fatalf("ExpiryReport refused: %v", err)
	}
	if err := s.CheckSnapshot(); err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range s.Expired() {
		if !e.Ref.Equal(late) || !e.Expires.Before(late) {
			t.Errorf("%s: expires %s, reference %s", e.File, e.Expires, e.Ref)
		}
		files = append(files, e.File)
	}
	want := []string{"root.json", "timestamp.json", "snapshot.json", "targets.json", "d.json"}
	if !slices.Equal(files, want) {
		t.Fatalf("Expired lists %v, want %v (each once, in order)", files, want)
	}
	if s.Targets("d") == nil {
		t.Fatal("d not trusted")
	}

	// Other checks still fail under ExpiryReport.
	s, _ = trust.New(repo.Meta("root"), trust.Options{Time: late, Expiry: trust.ExpiryReport})
	forged := repotest.Forge[*metadata.Timestamp](t, repo.Meta("timestamp"), nil, signer(t))
	var ce *trust.CheckError
	checkErr(t, s.UpdateTimestamp(forged), &ce, "timestamp.json: signatures check failed")
	if s.Timestamp() != nil {
		t.Fatal("a refused timestamp is trusted")
	}
}

// TestDefaultTime: a zero Options.Time is the time New was called.
func TestDefaultTime(t *testing.T) {
	repo := fixture(t)
	before := time.Now()
	s, err := trust.New(repo.Meta("root"), trust.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ref := s.Reference(); ref.Before(before) || ref.After(time.Now()) {
		t.Fatalf("reference time %s, not the time of New", ref)
	}
}

// TestUpdateRootChain takes a chain of root versions whole or not at all.
func TestUpdateRootChain(t *testing.T) {
	repo := fixture(t)
	v1 := repo.Meta("root")
	old := repo.Signers["root"][0]
	fresh := signer(t)
	v2 := repotest.Forge(t, v1, func(r *metadata.Root) {
		r.Version = 2
		r.AddKey("root", repotest.KeyOf(fresh))
		r.AddKey("timestamp", repotest.KeyOf(fresh)) // a timestamp key rotation
	}, old, fresh)
	v3 := repotest.Forge(t, v2, func(r *metadata.Root) { r.Version = 3 }, old, fresh)
	v3bad := repotest.Forge(t, v2, func(r *metadata.Root) { r.Version = 3 }, signer(t)) // signed by no key of v2
	v4 := repotest.Forge(t, v3, func(r *metadata.Root) { r.Version = 4 }, old, fresh)

	tests := []struct {
		name  string
		chain [][]byte
		want  int64  // the trusted version after
		err   string // empty: accepted
	}{
		{"empty", nil, 1, ""},
		{"one", [][]byte{v2}, 2, ""},
		{"three", [][]byte{v2, v3, v4}, 4, ""},
		{"a gap", [][]byte{v2, v4}, 1, "3.root.json: version 4, want exactly 3"},
		{"the last fails", [][]byte{v2, v3bad}, 1, "3.root.json: signatures by the trusted root's keys"},
		{"not the next", [][]byte{v3}, 1, "2.root.json: version 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := load(t, repo, "root")
			err := s.UpdateRootChain(tt.chain)
			if tt.err == "" && err != nil {
				t.Fatal(err)
			}
			if tt.err != "" {
				checkErr(t, err, nil, tt.err)
			}
			if got := s.Root().Signed.Version; got != tt.want {
				t.Fatalf("trusting root version %d, want %d", got, tt.want)
			}
			if tt.want == 1 && (!bytes.Equal(s.Root().Raw, v1) || s.RotatedKeys()) {
				t.Fatal("a refused chain left state behind")
			}
			if tt.want > 1 && !s.RotatedKeys() {
				t.Fatal("the timestamp key rotation in version 2 was not noticed")
			}
		})
	}
}
