package repo

import "errors"

// Errors a command-line front end can recognise (with errors.Is) to tell
// the user what to run next. The library's messages state what happened;
// the hint about which command to run is the caller's to add.
var (
	// ErrNotRepository is returned by Open for a directory that holds no
	// repository configuration (repo.json).
	ErrNotRepository = errors.New("not a Rampart repository")
	// ErrNotDelegated is returned for a delegated role's metadata made
	// elsewhere (ImportSignature) when no role of the repository delegates
	// to it yet.
	ErrNotDelegated = errors.New("not delegated by any role of this repository")
	// ErrServerNewer: the server holds a newer version of a role than this
	// copy of the repository, which was changed from another copy.
	ErrServerNewer = errors.New("the repository on the server was changed from another copy")
	// ErrDiverged: this copy and the server hold different documents of
	// the same version of a role; they were changed apart.
	ErrDiverged = errors.New("this copy and the server were changed apart")
	// ErrNoServer: the repository publishes to no metadata server.
	ErrNoServer = errors.New("the repository publishes to no metadata server (its repo.json names none)")
	// ErrNotOnServer: the server has no repository of this name yet.
	ErrNotOnServer = errors.New("the server has no such repository yet")
	// ErrServerSignsTimestamp: the repository's timestamp is signed by its
	// metadata server, so it cannot be published anywhere else.
	ErrServerSignsTimestamp = errors.New("the metadata server signs this repository's timestamp")
	// ErrStaleTimestamp: the staged timestamp does not describe the staged
	// snapshot and its key is not at hand to sign a new one.
	ErrStaleTimestamp = errors.New("the staged timestamp is not for the staged snapshot")
	// ErrNoRole: a role named by the caller is not in the repository.
	ErrNoRole = errors.New("no such role in this repository")
	// ErrImportedRole: the role is imported from another repository and
	// signed there, so it cannot be changed or signed here.
	ErrImportedRole = errors.New("the role is imported from another repository and signed there")
)

// Note is something a change left to do: a role staged below its
// threshold because the keys it needs were not at hand.
type Note struct {
	// Role is the role to sign ("bins" for the hashed bins).
	Role string
	// Text says what is missing, without naming a command.
	Text string
}

func (n Note) String() string { return n.Text }
