package repo

import "errors"

// ErrNotRepository is returned by Open for a directory that holds no
// repository configuration (repo.json).
var ErrNotRepository = errors.New("not a Rampart repository")

// ErrNotDelegated is returned for a delegated role's metadata made
// elsewhere (ImportSignature) when no role of the repository delegates to
// it yet.
var ErrNotDelegated = errors.New("not delegated by any role of this repository")
