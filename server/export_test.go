package server

// LockedGUNs returns the number of GUNs s holds a lock for.
func LockedGUNs(s *Server) int { return s.gunLocks.len() }
