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
// sent, what it lists against the version it replaces, and for each
// targets role the current snapshot lists and the new one (meta) does not
// (a delegation removed), everything it listed. What is no longer listed
// stays served until the current snapshot expires.
func (u *update) listings(meta map[string]notary.FileMeta) ([]store.Listing, error) {
	if u.a.cfg.ListingChanges == nil {
		return nil, nil
	}
	if u.cur == nil {
		out := []store.Listing{store.ListingsIndexed}
		for role, t := range u.targets {
			if t != nil && t.sent {
				out = append(out, u.a.cfg.ListingChanges(role, nil, digests(t.doc), time.Time{})...)
			}
		}
		return out, nil
	}
	was, err := u.a.snapshotRoles(u.ctx, u.gun, u.cur)
	if err != nil {
		return nil, err
	}
	var out []store.Listing
	for role := range was {
		t := u.targets[role]
		_, kept := meta[role]
		if !isTargetsRole(role) || (kept && (t == nil || !t.sent)) {
			continue // not a targets role, or unchanged
		}
		old, err := u.a.roleDigests(u.ctx, u.gun, u.cur, role)
		if err != nil {
			return nil, err
		}
		var cur map[string][]string
		if kept {
			cur = digests(t.doc)
		}
		out = append(out, u.a.cfg.ListingChanges(role, old, cur, u.cur.repo.SnapshotExpires)...)
	}
	for role := range meta {
		// A new role, or one delegated again whose document was kept.
		_, listed := was[role]
		if t := u.targets[role]; !listed && t != nil && isTargetsRole(role) {
			out = append(out, u.a.cfg.ListingChanges(role, nil, digests(t.doc), time.Time{})...)
		}
	}
	return out, nil
}

func isTargetsRole(role string) bool {
	return role == notary.RoleTargets || notary.IsDelegation(role)
}

// snapshotRoles returns the meta of cur's snapshot: the roles of the
// repository's current state. A removed delegation's document stays in the
// index (and served, as notary-server does), but not in the snapshot.
func (a *API) snapshotRoles(ctx context.Context, gun string, cur *current) (map[string]notary.FileMeta, error) {
	d, _, err := a.doc(ctx, gun, notary.RoleSnapshot, cur.idx.Roles[notary.RoleSnapshot].Version, notary.TypeSnapshot)
	if err != nil {
		return nil, err
	}
	return d.Snapshot.Meta, nil
}

// roleDigests returns digests of the current version of a targets role.
func (a *API) roleDigests(ctx context.Context, gun string, cur *current, role string) (map[string][]string, error) {
	r, ok := cur.idx.Roles[role]
	if !ok {
		return nil, nil
	}
	d, _, err := a.doc(ctx, gun, role, r.Version, notary.TypeTargets)
	if err != nil {
		return nil, err
	}
	return digests(d), nil
}

// Listings returns every listing of a Notary repository's current targets
// roles (those its snapshot lists), and store.ListingsIndexed, for a repository published before
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
	roles, err := a.snapshotRoles(ctx, gun, cur)
	if err != nil {
		return nil, true, err
	}
	out := []store.Listing{store.ListingsIndexed}
	for role := range roles {
		if !isTargetsRole(role) || a.cfg.ListingChanges == nil {
			continue
		}
		ds, err := a.roleDigests(ctx, gun, cur, role)
		if err != nil {
			return nil, true, err
		}
		out = append(out, a.cfg.ListingChanges(role, nil, ds, time.Time{})...)
	}
	return out, true, nil
}
