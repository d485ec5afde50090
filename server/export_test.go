package server

import "github.com/rampart-tuf/rampart/tuf/metadata"

// LockedGUNs returns the number of GUNs s holds a lock for.
func LockedGUNs(s *Server) int { return s.gunLocks.len() }

// SuccinctEdgeMatches reports whether the check takes a delegation by s
// to role as trusting role for path.
func SuccinctEdgeMatches(s *metadata.SuccinctRoles, role, path string) bool {
	e := edge{succinct: s, bin: -1}
	if i, ok := s.BinIndex(role); ok {
		e.bin = i
	}
	return e.matches(role, path)
}
