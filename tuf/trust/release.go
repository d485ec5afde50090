package trust

// Release drops the trusted targets metadata of role from the Set, for a
// caller that has used it and will not load a role it delegates to: a
// maintainer's pull of thousands of hashed bins checks each, writes it and
// releases it, so that memory holds a bounded number of roles. A role
// released and loaded again is checked again from its bytes.
func (s *Set) Release(role string) { delete(s.targets, role) }

// TargetsHeld returns how many targets roles the Set holds.
func (s *Set) TargetsHeld() int { return len(s.targets) }
