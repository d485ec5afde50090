package server_test

import (
	"fmt"
	"testing"

	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// TestSuccinctEdgeMatches: the check trusts a bin for exactly the paths
// that the succinct delegation places in it (SuccinctRoles.RoleFor), and
// takes no other name for a bin.
func TestSuccinctEdgeMatches(t *testing.T) {
	for _, bits := range []int{1, 4, 5, 12} {
		s := &metadata.SuccinctRoles{BitLength: bits, NamePrefix: "bins", Threshold: 1}
		for i := range 300 {
			path := fmt.Sprintf("pkgs/file-%d.tar.gz", i)
			for _, role := range []string{s.RoleFor(path), s.BinName((s.BinFor(path) + 1) % s.NumBins())} {
				if got, want := server.SuccinctEdgeMatches(s, role, path), s.RoleFor(path) == role; got != want {
					t.Errorf("bits %d: %s trusted for %s: %v, want %v", bits, role, path, got, want)
				}
			}
		}
	}
	s := &metadata.SuccinctRoles{BitLength: 12, NamePrefix: "bins", Threshold: 1}
	for _, name := range []string{"bins-1000", "bins-0A1", "bins-a1", "bin-0a1", "other-0a1"} {
		for i := range 50 {
			if path := fmt.Sprintf("f%d", i); server.SuccinctEdgeMatches(s, name, path) {
				t.Errorf("%q, not a bin's name, trusted for %s", name, path)
			}
		}
	}
}
