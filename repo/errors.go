package repo

import "errors"

// ErrNotRepository is returned by Open for a directory that holds no
// repository configuration (repo.json).
var ErrNotRepository = errors.New("not a Rampart repository")
