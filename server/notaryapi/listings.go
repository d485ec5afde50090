package notaryapi

import (
	"context"
	"encoding/hex"
	"errors"
	"time"

	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/notary"
)

// digests maps each target a targets document lists to its hex SHA-256
// and SHA-512 digests, for Config.ListingChanges.
func digests(d *notary.Document) map[string][]string {
	out := make(map[string][]string, len(d.Targets.Targets))
	for name, fm := range d.Targets.Targets {
		for _, alg := range []string{"sha256", "sha512"} {
			if h, ok := fm.Hashes[alg]; ok {
				out[name] = append(out[name], hex.EncodeToString(h))
			}
		}
	}
	return out
}

// listings returns the listings the publish changes: for each targets role
// sent, what it lists against the version it replaces, which stays served
// until the current snapshot expires.
func (u *update) listings() ([]store.Listing, error) {
	if u.a.cfg.ListingChanges == nil {
		return nil, nil
	}
	var out []store.Listing
	var until time.Time
	if u.cur == nil {
		out = append(out, store.ListingsIndexed)
	} else {
		until = u.cur.repo.SnapshotExpires
	}
	for role, t := range u.targets {
		if t == nil || !t.sent {
			continue
		}
		var old map[string][]string
		if u.cur != nil {
			if r, ok := u.cur.idx.Roles[role]; ok {
				d, _, err := u.a.doc(u.ctx, u.gun, role, r.Version, notary.TypeTargets)
				if err != nil {
					return nil, err
				}
				old = digests(d)
			}
		}
		out = append(out, u.a.cfg.ListingChanges(role, old, digests(t.doc), until)...)
	}
	return out, nil
}

// Listings returns every listing of a Notary repository's current targets
// roles, and store.ListingsIndexed, for a repository published before
// publishes recorded them. It reports false, and nothing else, for a
// repository that is not a Notary repository.
func (a *API) Listings(ctx context.Context, gun string) ([]store.Listing, bool, error) {
	cur, err := a.load(ctx, gun)
	if errors.Is(err, errNotNotary) || errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	out := []store.Listing{store.ListingsIndexed}
	for role, r := range cur.idx.Roles {
		if role != notary.RoleTargets && !notary.IsDelegation(role) {
			continue
		}
		d, _, err := a.doc(ctx, gun, role, r.Version, notary.TypeTargets)
		if err != nil {
			return nil, true, err
		}
		if a.cfg.ListingChanges != nil {
			out = append(out, a.cfg.ListingChanges(role, nil, digests(d), time.Time{})...)
		}
	}
	return out, true, nil
}
