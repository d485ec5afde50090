package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/server/servertest"
)

// chainBody builds a publish body with a chain of roots and roles.
func chainBody(roots [][]byte, docs map[string][]byte) []byte {
	rs := make([]json.RawMessage, len(roots))
	for i, r := range roots {
		rs[i] = r
	}
	roles := map[string]json.RawMessage{}
	for k, v := range docs {
		roles[k] = v
	}
	b, _ := json.Marshal(map[string]any{"roots": rs, "roles": roles})
	return b
}

// TestPublishRootChain sends several root versions in one publish: every
// version is stored for clients to walk, the roles are checked against
// the last one (here with targets keys that only the last root trusts),
// and a broken chain is refused whole.
func TestPublishRootChain(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts := newServer(t, openStore(t, kind))

		// A new repository whose root changed keys twice before its first
		// publish, the second time with new targets keys.
		m := newMaintainer(t, ts, "example.com/acme/chain")
		root1 := servertest.Sign(t, m.RootDoc(1), m.Root)
		root1Key := m.Root
		m.Root = repotest.NewSigner(t)
		root2 := servertest.Sign(t, m.RootDoc(2), root1Key, m.Root)
		root2Key := m.Root
		m.Root, m.Targets = repotest.NewSigner(t), repotest.NewSigner(t)
		root3 := servertest.Sign(t, m.RootDoc(3), root2Key, m.Root)
		m.Upload("a.txt", "A")
		targets := servertest.Sign(t, m.TargetsDoc(1, map[string]string{"a.txt": "A"}), m.Targets)

		for _, tc := range []struct {
			name  string
			roots [][]byte
			check string
		}{
			{"a gap", [][]byte{root1, root3}, "version"},
			{"out of order", [][]byte{root2, root1}, "version"},
			{"targets signed for another root", [][]byte{root1, root2}, "signature"},
		} {
			code, e, _ := publishTo(t, ts.URL, m.Token, m.GUN, chainBody(tc.roots, map[string][]byte{"targets": targets}))
			if code != 400 || e.Role == "" || e.Check != tc.check {
				t.Errorf("%s: %d %+v, want 400 naming a role and check %q", tc.name, code, e, tc.check)
			}
		}
		code, e, _ := publishTo(t, ts.URL, m.Token, m.GUN, chainBody([][]byte{root1}, map[string][]byte{"root": root2, "targets": targets}))
		if code != 400 || !strings.Contains(e.Error, "both") {
			t.Errorf("root in the chain and as a role: %d %+v", code, e)
		}
		if got, err := newClient(t, ts.URL, m.GUN, root1).fetch("a.txt"); err == nil {
			t.Fatalf("a refused publish made the repository: %q", got)
		}

		code, e, res := publishTo(t, ts.URL, m.Token, m.GUN, chainBody([][]byte{root1, root2, root3}, map[string][]byte{"targets": targets}))
		if code != 200 || res.RootVersion != 3 || res.TimestampVersion != 1 {
			t.Fatalf("chain publish: %d %+v %+v", code, e, res)
		}
		// A client that trusts root 1 walks 2 and 3.
		if got, err := newClient(t, ts.URL, m.GUN, root1).fetch("a.txt"); err != nil || got != "A" {
			t.Fatalf("client from root 1: %q, %v", got, err)
		}

		// An existing repository: two more versions at once.
		root3Key := m.Root
		m.Root = repotest.NewSigner(t)
		root4 := servertest.Sign(t, m.RootDoc(4), root3Key, m.Root)
		root4Key := m.Root
		m.Root = repotest.NewSigner(t)
		root5 := servertest.Sign(t, m.RootDoc(5), root4Key, m.Root)
		if code, e, _ := publishTo(t, ts.URL, m.Token, m.GUN, chainBody([][]byte{root5}, nil)); code != 400 || e.Check != "version" {
			t.Errorf("a chain that skips the next version: %d %+v", code, e)
		}
		code, e, res = publishTo(t, ts.URL, m.Token, m.GUN, chainBody([][]byte{root4, root5}, nil))
		if code != 200 || res.RootVersion != 5 {
			t.Fatalf("chain update: %d %+v %+v", code, e, res)
		}
		if got, err := newClient(t, ts.URL, m.GUN, root1).fetch("a.txt"); err != nil || got != "A" {
			t.Fatalf("client from root 1 after the update: %q, %v", got, err)
		}
	})
}
