package client_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/repotest"
)

// delegateTwo makes targets delegate role, for role/*, to two new keys
// with a threshold of two; signers of them sign the role.
func delegateTwo(t *testing.T, repo *repotest.Repo, role string, signers int) {
	t.Helper()
	a, b := repotest.NewSigner(t), repotest.NewSigner(t)
	repo.DelegateWith("targets", role, []string{role + "/*"}, false, a)
	d := repo.Targets["targets"].Signed.Delegations
	kb := repotest.KeyOf(b)
	d.Keys[kb.ID()] = kb
	last := &d.Roles[len(d.Roles)-1]
	last.KeyIDs = append(last.KeyIDs, kb.ID())
	last.Threshold = 2
	if signers == 2 {
		repo.Signers[role] = append(repo.Signers[role], b)
	}
}

func TestListTargets(t *testing.T) {
	tests := []struct {
		name  string
		build func(t *testing.T, repo *repotest.Repo)
		want  map[string]string // path: role
		err   string
	}{
		{
			name: "top-level only",
			build: func(t *testing.T, repo *repotest.Repo) {
				repo.AddTarget("targets", "b", []byte("b"))
				repo.AddTarget("targets", "a/1", []byte("a"))
			},
			want: map[string]string{"a/1": "targets", "b": "targets"},
		},
		{
			name: "a terminating delegation ahead of another for the same paths",
			build: func(t *testing.T, repo *repotest.Repo) {
				repo.Delegate("targets", "a", []string{"x/*"}, true)
				repo.Delegate("a", "a1", []string{"x/1"}, false)
				repo.Delegate("targets", "b", []string{"x/*", "y/*"}, false)
				repo.AddTarget("a1", "x/1", []byte("from a1"))
				repo.AddTarget("b", "x/1", []byte("from b"))
				repo.AddTarget("b", "x/2", []byte("b2")) // get refuses it: a is terminating
				repo.AddTarget("b", "y/1", []byte("y from b"))
			},
			want: map[string]string{"x/1": "a1", "y/1": "b"},
		},
		{
			name: "the first role in delegation order wins",
			build: func(t *testing.T, repo *repotest.Repo) {
				repo.Delegate("targets", "first", []string{"p/*"}, false)
				repo.Delegate("targets", "second", []string{"p/*"}, false)
				repo.AddTarget("first", "p/1", []byte("1"))
				repo.AddTarget("second", "p/1", []byte("other"))
				repo.AddTarget("second", "p/2", []byte("2"))
			},
			want: map[string]string{"p/1": "first", "p/2": "second"},
		},
		{
			name: "path patterns of the whole delegation chain",
			build: func(t *testing.T, repo *repotest.Repo) {
				repo.Delegate("targets", "d", []string{"d/*"}, false)
				repo.Delegate("d", "dd", []string{"d/*", "e/*"}, false)
				repo.AddTarget("d", "d/x", []byte("x"))
				repo.AddTarget("d", "e/y", []byte("outside d's paths"))
				repo.AddTarget("dd", "d/z", []byte("z"))
				repo.AddTarget("dd", "e/z", []byte("outside d's paths"))
				repo.AddTarget("d", "d/sub/deep", []byte("* does not match /"))
			},
			want: map[string]string{"d/x": "d", "d/z": "dd"},
		},
		{
			name: "hashed bins",
			build: func(t *testing.T, repo *repotest.Repo) {
				repo.DelegateSuccinct("targets", "bin", 3)
				for i := range 20 {
					p := fmt.Sprintf("f/%d", i)
					repo.AddTarget(repo.BinFor("targets", p), p, []byte(p))
				}
				// A bin listing a path of another bin: a lookup never finds it there.
				stray := "f/stray"
				other := repo.BinFor("targets", "f/0")
				if other == repo.BinFor("targets", stray) {
					other = repo.BinFor("targets", "f/1")
				}
				repo.AddTarget(other, stray, []byte("stray"))
			},
			want: func() map[string]string {
				m := map[string]string{}
				for i := range 20 {
					m[fmt.Sprintf("f/%d", i)] = "bin-"
				}
				return m
			}(),
		},
		{
			name: "a threshold of two, met",
			build: func(t *testing.T, repo *repotest.Repo) {
				delegateTwo(t, repo, "t", 2)
				repo.AddTarget("t", "t/1", []byte("1"))
			},
			want: map[string]string{"t/1": "t"},
		},
		{
			name: "a threshold of two, one signature",
			build: func(t *testing.T, repo *repotest.Repo) {
				delegateTwo(t, repo, "t", 1)
				repo.AddTarget("t", "t/1", []byte("1"))
			},
			err: "t.json: signatures check failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			repo := repotest.New(t)
			tt.build(t, repo)
			repo.Publish()
			c, _, _ := setup(t, repo)
			list, err := c.ListTargets(ctx, 0)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ListTargets: %v, want an error saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, ti := range list {
				if _, dup := got[ti.Path]; dup {
					t.Fatalf("%s listed twice", ti.Path)
				}
				got[ti.Path] = ti.Role
				if want := tt.want[ti.Path]; want == "bin-" && strings.HasPrefix(ti.Role, "bin-") {
					got[ti.Path] = want
				}
				if want := repo.Targets[ti.Role].Signed.Targets[ti.Path]; ti.Length != want.Length || !slices.Equal(ti.Hashes.SHA256, want.Hashes.SHA256) {
					t.Errorf("%s: length %d, not as %s lists it", ti.Path, ti.Length, ti.Role)
				}
			}
			if !maps.Equal(got, tt.want) {
				t.Fatalf("listed %v, want %v", got, tt.want)
			}
			// Listing agrees with lookup for every path any role lists.
			for role, md := range repo.Targets {
				for p := range md.Signed.Targets {
					ti, err := c.Target(ctx, p)
					listed, ok := findListed(list, p)
					switch {
					case ok && (err != nil || ti.Role != listed.Role || ti.Length != listed.Length):
						t.Errorf("%s (in %s): listed from %s, but Target gives %q, %v", p, role, listed.Role, ti.Role, err)
					case !ok && !errors.Is(err, client.ErrUnknownTarget):
						t.Errorf("%s (in %s): not listed, but Target gives %q, %v", p, role, ti.Role, err)
					}
				}
			}
		})
	}
}

func findListed(list []client.TargetInfo, p string) (client.TargetInfo, bool) {
	for _, ti := range list {
		if ti.Path == p {
			return ti, true
		}
	}
	return client.TargetInfo{}, false
}

// TestListTargetsBound stops after maxRoles roles, with what it found.
func TestListTargetsBound(t *testing.T) {
	repo := repotest.New(t)
	repo.AddTarget("targets", "top", []byte("t"))
	for i := range 4 {
		role := fmt.Sprintf("r%d", i)
		repo.Delegate("targets", role, []string{"*"}, false)
		repo.AddTarget(role, role, []byte(role))
	}
	repo.Publish()
	c, _, _ := setup(t, repo)
	list, err := c.ListTargets(context.Background(), 3)
	if err == nil || !strings.Contains(err.Error(), "listing stopped after 3 roles") {
		t.Fatalf("got %v", err)
	}
	var paths []string
	for _, ti := range list {
		paths = append(paths, ti.Path)
	}
	if want := []string{"top", "r0", "r1"}; !slices.Equal(paths, want) {
		t.Fatalf("listed %v, want %v", paths, want)
	}
}
