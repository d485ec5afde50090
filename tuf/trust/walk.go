package trust

import (
	"errors"
	"fmt"
	"slices"

	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// ErrUnknownTarget reports a target that no trusted role lists.
var ErrUnknownTarget = errors.New("no trusted metadata lists this target")

// RoleLimitError is a walk that reached its bound on the roles it visits.
type RoleLimitError struct{ Visited int }

func (e *RoleLimitError) Error() string {
	return fmt.Sprintf("gave up after visiting %d roles", e.Visited)
}

// LoadFunc returns the trusted metadata of role as delegated by parent
// ("root" for the top-level targets role), loading and checking it first
// when needed: a Set's UpdateTargets with the bytes the caller has, or nil
// when the Set already holds the role.
type LoadFunc func(role, parent string) (*metadata.Targets, error)

// Next is what a walk does after visiting a role.
type Next struct {
	// Roles are the roles the visited role delegates to, to visit next,
	// in order.
	Roles []string
	// Cut drops the roles still waiting to be visited, before Roles are
	// queued: a terminating delegation (spec 5.6.7.2.1).
	Cut bool
	// Stop ends the walk.
	Stop bool
}

// Walk visits targets roles from the top-level targets role down, in the
// order of the specification's search (5.6.7): pre-order, depth first, in
// delegation order, each role once (a role reached again, through a cycle
// or another delegator, is passed over). It loads each role with load
// before visiting it, and visits at most maxRoles roles (any number when
// maxRoles is 0): past that it fails with a *RoleLimitError. visit says
// what to do next. Walk does no I/O of its own.
func Walk(maxRoles int, load LoadFunc, visit func(role string, doc *metadata.Targets) (Next, error)) error {
	type step struct{ role, parent string }
	stack := []step{{metadata.TypeTargets, metadata.TypeRoot}}
	visited := map[string]bool{}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if visited[s.role] {
			continue
		}
		if maxRoles > 0 && len(visited) >= maxRoles {
			return &RoleLimitError{Visited: len(visited)}
		}
		doc, err := load(s.role, s.parent)
		if err != nil {
			return err
		}
		visited[s.role] = true
		next, err := visit(s.role, doc)
		if err != nil || next.Stop {
			return err
		}
		if next.Cut {
			stack = stack[:0]
		}
		for _, role := range slices.Backward(next.Roles) {
			stack = append(stack, step{role, s.role})
		}
	}
	return nil
}

// RolesFor says what a search for targetPath does after a role with
// delegations d (which may be nil): visit the delegations trusted for the
// path, in order, up to and including the first terminating one, which
// cuts the search.
func RolesFor(d *metadata.Delegations, targetPath string) Next {
	if d == nil {
		return Next{}
	}
	var n Next
	for _, r := range d.RolesFor(targetPath) {
		n.Roles = append(n.Roles, r.Name)
		if r.Terminating {
			n.Cut = true
			break
		}
	}
	return n
}

// AllRoles says what a walk over the whole delegation graph does after a
// role with delegations d (which may be nil): visit every role d delegates
// to, the hashed bins in the order of their numbers.
func AllRoles(d *metadata.Delegations) Next {
	if d == nil {
		return Next{}
	}
	if s := d.Succinct; s != nil {
		names := make([]string, s.NumBins())
		for i := range names {
			names[i] = s.BinName(i)
		}
		return Next{Roles: names}
	}
	names := make([]string, len(d.Roles))
	for i, r := range d.Roles {
		names[i] = r.Name
	}
	return Next{Roles: names}
}

// Found is a target file and the role whose metadata lists it.
type Found struct {
	Path string
	metadata.TargetFile
	Role string
}

// FindTarget looks targetPath up through the delegations (spec 5.6.7),
// loading roles with load and visiting at most maxRoles of them. A target
// no role lists, or that the search gave up on, is an error matching
// ErrUnknownTarget.
func FindTarget(targetPath string, maxRoles int, load LoadFunc) (Found, error) {
	var found Found
	err := Walk(maxRoles, load, func(role string, doc *metadata.Targets) (Next, error) {
		tf, ok, err := doc.Lookup(targetPath)
		if err != nil {
			return Next{}, fmt.Errorf("%s.json: %w", role, err)
		}
		if ok {
			found = Found{targetPath, tf, role}
			return Next{Stop: true}, nil
		}
		return RolesFor(doc.Delegations, targetPath), nil
	})
	var le *RoleLimitError
	switch {
	case errors.As(err, &le):
		return Found{}, fmt.Errorf("%s: %w (%v)", targetPath, ErrUnknownTarget, err)
	case err != nil:
		return Found{}, err
	case found.Role == "":
		return Found{}, fmt.Errorf("%s: %w", targetPath, ErrUnknownTarget)
	}
	return found, nil
}

var errNotLoaded = errors.New("role not loaded")

// ListTargets returns every target a lookup finds: each path listed by a
// role of the delegation graph, once, with what FindTarget(path,
// maxDelegations) returns for it, so that listing and lookup agree (a
// path that a terminating delegation or a delegation's path patterns keep
// from a role is not listed from it). Paths come in the order of the roles
// that list them, sorted within a role. It loads every role, at most
// maxRoles of them (all when maxRoles is 0); past that it returns what it
// found so far and a *RoleLimitError.
func ListTargets(maxRoles, maxDelegations int, load LoadFunc) ([]Found, error) {
	var order []string
	docs := map[string]*metadata.Targets{}
	walkErr := Walk(maxRoles, load, func(role string, doc *metadata.Targets) (Next, error) {
		if err := doc.DecodeTargets(); err != nil {
			return Next{}, fmt.Errorf("%s.json: %w", role, err)
		}
		order = append(order, role)
		docs[role] = doc
		return AllRoles(doc.Delegations), nil
	})
	var le *RoleLimitError
	if walkErr != nil && !errors.As(walkErr, &le) {
		return nil, walkErr
	}
	// The lookups load nothing new: the roles are there, and each is
	// checked again only against a delegator it was not yet checked for.
	loaded := func(role, parent string) (*metadata.Targets, error) {
		if docs[role] == nil {
			return nil, errNotLoaded
		}
		return load(role, parent)
	}
	var out []Found
	seen := map[string]bool{}
	for _, role := range order {
		doc := docs[role]
		paths := make([]string, 0, len(doc.Targets))
		for p := range doc.Targets {
			if !seen[p] {
				paths = append(paths, p)
			}
		}
		slices.Sort(paths)
		for _, p := range paths {
			seen[p] = true
			f, err := FindTarget(p, maxDelegations, loaded)
			if errors.Is(err, ErrUnknownTarget) || errors.Is(err, errNotLoaded) {
				continue // listed, but not where a lookup searches, or past the bound
			}
			if err != nil {
				return out, err
			}
			out = append(out, f)
		}
	}
	return out, walkErr
}
