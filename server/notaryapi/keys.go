package notaryapi

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"slices"

	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/notary"
)

// handleKey serves GET (the current key, created when the repository has
// none: push scope) and POST (a new key: admin scope) of
// {snapshot|timestamp}.key. A GET with push scope is how the notary client
// creates a repository on the server (`notary init`).
func (a *API) handleKey(w http.ResponseWriter, r *http.Request, gun, role string) {
	if role != notary.RoleTimestamp && role != notary.RoleSnapshot {
		a.fail(w, r, apiError(codeInvalidRole, "the server holds keys for snapshot and timestamp only, not "+role))
		return
	}
	var k *metadata.Key
	var err error
	switch r.Method {
	case http.MethodGet:
		tok, ok := a.authorize(w, r, gun, auth.Push)
		if !ok {
			return
		}
		scope, _ := auth.ParseScope(tok.Scope) // checked by authorize
		if err = a.cfg.Create(r.Context(), gun, scope); err == nil {
			k, err = a.cfg.Signer.Key(r.Context(), gun, role)
		}
	case http.MethodPost:
		if _, ok := a.authorize(w, r, gun, auth.Admin); !ok {
			return
		}
		if err = a.requireCreated(r.Context(), gun); err == nil {
			k, err = a.cfg.Signer.Rotate(r.Context(), gun, role)
		}
		if err == nil {
			a.log.Info("rotated online key (notary)", "gun", gun, "role", role, "keyid", k.ID())
		}
	default:
		a.fail(w, r, errMethod(r))
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	nk, err := notaryKey(k)
	if err != nil {
		a.fail(w, r, apiError(codeNoKeyAlgorithm, err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, keyJSON(nk))
}

// keyJSON is a Notary key object as notary-server returns it.
func keyJSON(k notary.Key) map[string]any {
	return map[string]any{"keytype": k.Type, "keyval": map[string]any{"public": k.Public, "private": nil}}
}

// notaryKey returns the Notary form of an online key.
func notaryKey(k *metadata.Key) (notary.Key, error) {
	v, err := keys.NewVerifier(k.PublicKey)
	if err != nil {
		return notary.Key{}, err
	}
	return notary.NewKey(v.Public())
}

// onlineSigners returns the server's keys for role that root lists for it.
func (a *API) onlineSigners(ctx context.Context, gun, role string, root *notary.Root) ([]notary.SigningKey, error) {
	all, err := a.cfg.Signer.Keys(ctx, gun, role)
	if err != nil {
		return nil, err
	}
	want := root.Roles[role]
	var out []notary.SigningKey
	for _, k := range all {
		nk, err := notaryKey(k)
		if err != nil {
			return nil, err
		}
		if slices.Contains(want.KeyIDs, nk.ID()) {
			out = append(out, notary.SigningKey{Key: nk, Signer: signer.For(a.cfg.Signer, gun, role, k)})
		}
	}
	if len(out) < want.Threshold {
		return nil, nil
	}
	return out, nil
}

// handleDelete deletes the repository for good, as the server's own
// deletion route does: its documents and its online keys. As with
// notary-server, deleting a repository that does not exist succeeds.
func (a *API) handleDelete(w http.ResponseWriter, r *http.Request, gun string) {
	err := a.cfg.Delete(r.Context(), gun)
	var se *StatusError
	if err != nil && !(errors.As(err, &se) && se.Status == http.StatusNotFound) {
		a.fail(w, r, err)
		return
	}
	a.changed(gun)
	w.WriteHeader(http.StatusOK)
}

// requireCreated returns METADATA_NOT_FOUND unless gun was created.
func (a *API) requireCreated(ctx context.Context, gun string) error {
	ok, err := a.cfg.Created(ctx, gun)
	if err != nil {
		return err
	}
	if !ok {
		return errNotFound("no repository " + gun + "; `notary init` creates it (GET .../_trust/tuf/timestamp.key with a push token)")
	}
	return nil
}

func certOf(v keys.Verifier) *x509.Certificate { return keys.Certificate(v) }
