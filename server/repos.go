package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// A repository exists from its creation (POST /api/v1/repositories/GUN,
// which makes its online keys) to its deletion (which destroys them).
// Nothing else creates one: reading its keys, uploading content or
// publishing to a GUN that was not created is a 404.

// created reports whether gun was created and not deleted since: whether
// the signer holds a timestamp key for it.
func (s *Server) created(ctx context.Context, gun string) (bool, error) {
	ks, err := s.signer.Keys(ctx, gun, metadata.TypeTimestamp)
	return len(ks) > 0, err
}

func notCreated(gun string) *Error {
	return errorf(http.StatusNotFound, "", checkNotFound, "no repository %s; create it first (POST /api/v1/repositories/%s)", gun, gun)
}

// cmpErr returns err if it is not nil, else e.
func cmpErr(err error, e *Error) error {
	if err != nil {
		return err
	}
	return e
}

// requireCreated writes a 404 and returns false unless gun was created.
func (s *Server) requireCreated(w http.ResponseWriter, r *http.Request, gun string) bool {
	ok, err := s.created(r.Context(), gun)
	if err != nil || !ok {
		s.fail(w, r, cmpErr(err, notCreated(gun)))
		return false
	}
	return true
}

// CreateResult describes a repository after POST /api/v1/repositories/GUN.
type CreateResult struct {
	GUN     string `json:"gun"`
	Created bool   `json:"created"` // false: it existed already
	// Keys are the online keys its root must list, by role.
	Keys map[string]any `json:"keys"`
}

// Create makes the online keys of a new repository, or returns those of an
// existing one. A GUN that was deleted before needs admin scope to be
// created again (and gets new keys: the old ones were destroyed).
func (s *Server) Create(ctx context.Context, gun string, scope auth.Scope) (*CreateResult, error) {
	if err := validateGUN(gun); err != nil {
		return nil, badRequest("", checkGUN, "%v", err)
	}
	unlock := s.lockGUN(gun)
	defer unlock()
	exists, err := s.created(ctx, gun)
	if err != nil {
		return nil, err
	}
	if !exists {
		deleted, err := s.store.Deleted(ctx, gun)
		if err != nil {
			return nil, err
		}
		if deleted && scope < auth.Admin {
			return nil, errorf(http.StatusForbidden, "", checkScope, "%s was deleted; creating it again needs an admin token", gun)
		}
	}
	res := &CreateResult{GUN: gun, Created: !exists, Keys: map[string]any{}}
	for _, role := range []string{metadata.TypeTimestamp, metadata.TypeSnapshot} {
		k, err := s.signer.Key(ctx, gun, role)
		if err != nil {
			return nil, err
		}
		res.Keys[role] = keyResponse(role, k)
	}
	if !exists {
		s.log.Info("repository created", "gun", gun)
	}
	return res, nil
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request, gun string) {
	tok, ok := s.authorize(w, r, gun, auth.Push)
	if !ok {
		return
	}
	scope, _ := auth.ParseScope(tok.Scope) // checked by authorize
	res, err := s.Create(r.Context(), gun, scope)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	writeJSON(w, status, res)
}

// Delete deletes a repository for good: its online keys are destroyed in
// the signer first (so that nothing can be signed for the GUN any more,
// even if the rest fails), then its metadata and target index are removed
// and the GUN is recorded as deleted. A GUN that has neither metadata nor
// keys is a 404.
func (s *Server) Delete(ctx context.Context, gun string) (store.Change, error) {
	unlock := s.lockGUN(gun)
	defer unlock()
	_, err := s.store.Repo(ctx, gun)
	published := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Change{}, err
	}
	hasKeys, err := s.created(ctx, gun)
	if err != nil {
		return store.Change{}, err
	}
	if !hasKeys {
		if ks, err := s.signer.Keys(ctx, gun, metadata.TypeSnapshot); err != nil {
			return store.Change{}, err
		} else {
			hasKeys = len(ks) > 0
		}
	}
	if !published && !hasKeys {
		return store.Change{}, errorf(http.StatusNotFound, "", checkNotFound, "no repository %s", gun)
	}
	n, err := s.signer.Retire(ctx, gun)
	if err != nil {
		return store.Change{}, err
	}
	ch, err := s.store.Delete(ctx, gun)
	if err != nil {
		return store.Change{}, err
	}
	s.invalidate(gun)
	s.log.Info("repository deleted", "gun", gun, "change", ch.ID, "online_keys_destroyed", n)
	return ch, nil
}

func (s *Server) handleRepoDelete(w http.ResponseWriter, r *http.Request) {
	rest := r.PathValue("rest")
	if gun, action, tail, err := splitRepoPath(rest); err == nil && action == "metadata" && isStagedPath(tail) {
		s.handleStaged(w, r, gun, tail)
		return
	}
	if err := validateGUN(rest); err != nil {
		s.fail(w, r, badRequest("", checkGUN, "%v", err))
		return
	}
	if _, ok := s.authorize(w, r, rest, auth.Admin); !ok {
		return
	}
	ch, err := s.Delete(r.Context(), rest)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"gun": rest, "change_id": ch.ID})
}
