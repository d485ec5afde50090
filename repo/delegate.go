package repo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// DelegateOptions describe a delegation from one targets role to another.
type DelegateOptions struct {
	// Role is the delegated role; it is created when new, and its
	// delegation replaced when it exists.
	Role string
	// From is the delegating role; empty means "targets".
	From string
	// Keys are the public key files of the role's keys (private key files
	// work too, and are then used for signing).
	Keys []string
	// KeyObjects are keys given as TUF key objects rather than files, such
	// as a signer's certificate (CertKeys); no private key is ever at hand
	// for them, so the role's metadata comes signed from elsewhere
	// (ImportSignature).
	KeyObjects []*metadata.Key
	// Exactly one of Paths (glob patterns) and HashPrefixes (lowercase hex
	// prefixes of the SHA-256 of target paths) is set.
	Paths        []string
	HashPrefixes []string
	// Threshold defaults to 1.
	Threshold   int
	Terminating bool
	// Expires, when set, is the role's expiry policy (default: that of
	// targets).
	Expires time.Duration
}

// Delegate delegates trust for target paths to a role, creating it (empty,
// version 1) if it is new.
func (r *Repo) Delegate(ctx context.Context, o DelegateOptions) error {
	if err := checkRoleName(o.Role); err != nil {
		return err
	}
	if r.cfg.isBin(o.Role) {
		return fmt.Errorf("%q is the name of a hashed bin", o.Role)
	}
	if o.From == "" {
		o.From = metadata.TypeTargets
	}
	if o.Threshold == 0 {
		o.Threshold = 1
	}
	if (o.Paths == nil) == (o.HashPrefixes == nil) {
		return fmt.Errorf("give either path patterns (--paths) or hash prefixes (--hash-prefixes) for %s", o.Role)
	}
	for _, p := range o.HashPrefixes {
		if p == "" || len(p) > 64 || strings.Trim(p, "0123456789abcdef") != "" {
			return fmt.Errorf("hash prefix %q is not lowercase hex", p)
		}
	}
	nkeys := len(o.Keys) + len(o.KeyObjects)
	if nkeys == 0 {
		return fmt.Errorf("role %s needs at least one key (--key PUBFILE)", o.Role)
	}
	if o.Threshold < 1 || o.Threshold > nkeys {
		return fmt.Errorf("threshold %d for %s is impossible with %d keys", o.Threshold, o.Role, nkeys)
	}
	return r.Update(ctx, func(tx *Tx) error {
		if o.From != metadata.TypeTargets {
			if _, ok := tx.cfg.Delegations[o.From]; !ok {
				return fmt.Errorf("no delegated role %q to delegate from", o.From)
			}
		}
		for a := o.From; a != metadata.TypeTargets; a = tx.cfg.Delegations[a] {
			if a == o.Role {
				return fmt.Errorf("role %s cannot delegate to %s: %s already delegates to %s", o.From, o.Role, o.Role, o.From)
			}
		}
		if p, ok := tx.cfg.Delegations[o.Role]; ok && p != o.From {
			return fmt.Errorf("role %s is already delegated by %s", o.Role, p)
		}
		parent, err := tx.Targets(o.From)
		if err != nil {
			return err
		}
		if parent.Delegations != nil && parent.Delegations.Succinct != nil {
			return fmt.Errorf("role %s delegates to hashed bins and cannot delegate to other roles as well", o.From)
		}
		if parent.Delegations == nil {
			parent.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{}, Roles: []metadata.DelegatedRole{}}
		}
		d := metadata.DelegatedRole{Name: o.Role, Threshold: o.Threshold, Terminating: o.Terminating,
			Paths: o.Paths, PathHashPrefixes: o.HashPrefixes}
		cfg := tx.Config()
		for _, f := range o.Keys {
			pk, ref, err := tx.r.importKey(f)
			if err != nil {
				return err
			}
			k := metadata.NewKey(pk)
			id := k.ID()
			if slices.Contains(d.KeyIDs, id) {
				return fmt.Errorf("key %s is given twice", f)
			}
			d.KeyIDs = append(d.KeyIDs, id)
			parent.Delegations.Keys[id] = k
			if old, ok := cfg.Keys[id]; !ok || old.Private == "" {
				cfg.Keys[id] = ref
			}
		}
		for _, k := range o.KeyObjects {
			id := k.ID()
			if slices.Contains(d.KeyIDs, id) {
				return fmt.Errorf("key %s is given twice", id)
			}
			d.KeyIDs = append(d.KeyIDs, id)
			parent.Delegations.Keys[id] = k
		}
		i := slices.IndexFunc(parent.Delegations.Roles, func(x metadata.DelegatedRole) bool { return x.Name == o.Role })
		if i >= 0 {
			d.Unknown = parent.Delegations.Roles[i].Unknown
			parent.Delegations.Roles[i] = d
			if err := tx.Resign(o.Role); err != nil {
				return err
			}
		} else {
			parent.Delegations.Roles = append(parent.Delegations.Roles, d)
			tx.Create(o.Role)
			cfg.Delegations[o.Role] = o.From
		}
		if o.Expires > 0 {
			cfg.Expires[o.Role] = Duration(o.Expires)
		}
		pruneKeys(parent.Delegations)
		return nil
	})
}

// pruneKeys drops delegation keys no role uses.
func pruneKeys(d *metadata.Delegations) {
	used := map[string]bool{}
	if d.Succinct != nil {
		for _, id := range d.Succinct.KeyIDs {
			used[id] = true
		}
	}
	for _, r := range d.Roles {
		for _, id := range r.KeyIDs {
			used[id] = true
		}
	}
	for id := range d.Keys {
		if !used[id] {
			delete(d.Keys, id)
		}
	}
}

// RotateOptions change the keys of a role.
type RotateOptions struct {
	// Role is a top-level role, a delegated role, or "bins" for all the
	// hashed bins.
	Role string
	// AddKeys are key files of keys to trust.
	AddKeys []string
	// RemoveKeys are key IDs, or unique prefixes of them, to stop
	// trusting.
	RemoveKeys []string
	// Threshold, when not zero, is the role's new threshold.
	Threshold int
	// ServerKeys are online keys of the repository's metadata server to
	// trust for timestamp or snapshot (see apiclient's OnlineKey and
	// RotateOnlineKey); the server signs with them.
	ServerKeys []keys.PublicKey
}

// Rotate changes the keys or threshold of a role. Changing a top-level
// role's keys makes a new root version, signed by the keys of the old and
// the new root that are at hand; the role itself is signed again with its
// new keys.
func (r *Repo) Rotate(ctx context.Context, o RotateOptions) error {
	if len(o.AddKeys) == 0 && len(o.RemoveKeys) == 0 && o.Threshold == 0 && len(o.ServerKeys) == 0 {
		return fmt.Errorf("nothing to rotate: give keys to add or remove, or a threshold")
	}
	if len(o.ServerKeys) > 0 {
		if r.cfg.Server == nil {
			return fmt.Errorf("%s does not publish to a metadata server, so no server can hold its keys", r.dir)
		}
		if o.Role != metadata.TypeTimestamp && o.Role != metadata.TypeSnapshot {
			return fmt.Errorf("the server holds only timestamp and snapshot keys, not %s keys", o.Role)
		}
	}
	return r.Update(ctx, func(tx *Tx) error {
		k, err := tx.rotatedKeysOf(o.Role)
		if err != nil {
			return err
		}
		if err := k.change(tx, o); err != nil {
			return err
		}
		for _, role := range k.after {
			if err := tx.Resign(role); err != nil {
				return err
			}
		}
		return nil
	})
}

// rotatedKeys are the keys of a role being rotated, in the document of tx
// that lists them.
type rotatedKeys struct {
	ids       []string                 // the role's key IDs, to edit
	keyMap    map[string]*metadata.Key // the keys of the document
	setIDs    func([]string)           // sets the edited IDs in the document
	threshold *int                     // the role's threshold in the document
	after     []string                 // roles to sign again
}

// rotatedKeysOf finds the keys of role: in root for a top-level role, in
// targets for the hashed bins ("bins" or their prefix), in its delegator
// otherwise.
func (tx *Tx) rotatedKeysOf(role string) (*rotatedKeys, error) {
	var k rotatedKeys
	switch {
	case metadata.IsTopLevel(role):
		root, err := tx.Root()
		if err != nil {
			return nil, err
		}
		rk := root.Roles[role]
		if rk == nil {
			return nil, fmt.Errorf("root has no role %q", role)
		}
		k.ids, k.keyMap, k.threshold = slices.Clone(rk.KeyIDs), root.Keys, &rk.Threshold
		k.setIDs = func(n []string) {
			rk.KeyIDs = n
			// Keys no role uses any more are dropped from root.
			used := map[string]bool{}
			for _, x := range root.Roles {
				for _, id := range x.KeyIDs {
					used[id] = true
				}
			}
			for id := range root.Keys {
				if !used[id] {
					delete(root.Keys, id)
				}
			}
		}
	case role == binsPolicy || (tx.cfg.Bins != nil && role == tx.cfg.Bins.Prefix):
		if tx.cfg.Bins == nil {
			return nil, fmt.Errorf("this repository has no hashed bins")
		}
		t, err := tx.Targets(metadata.TypeTargets)
		if err != nil {
			return nil, err
		}
		sr := t.Delegations.Succinct
		k.ids, k.keyMap, k.threshold = slices.Clone(sr.KeyIDs), t.Delegations.Keys, &sr.Threshold
		k.setIDs = func(n []string) { sr.KeyIDs = n; pruneKeys(t.Delegations) }
		s := tx.cfg.succinct()
		for i := range s.NumBins() {
			k.after = append(k.after, s.BinName(i))
		}
	default:
		parentName, ok := tx.cfg.Delegations[role]
		if !ok {
			return nil, fmt.Errorf("no role %q in this repository", role)
		}
		parent, err := tx.Targets(parentName)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(parent.Delegations.Roles, func(x metadata.DelegatedRole) bool { return x.Name == role })
		if i < 0 {
			return nil, fmt.Errorf("role %s does not delegate %s", parentName, role)
		}
		d := &parent.Delegations.Roles[i]
		k.ids, k.keyMap, k.threshold = slices.Clone(d.KeyIDs), parent.Delegations.Keys, &d.Threshold
		k.setIDs = func(n []string) { d.KeyIDs = n; pruneKeys(parent.Delegations) }
		k.after = append(k.after, role)
	}
	return &k, nil
}

// change adds and removes the keys of o, sets its threshold, checks the
// result and sets it in the document.
func (k *rotatedKeys) change(tx *Tx, o RotateOptions) error {
	cfg := tx.Config()
	ids := k.ids
	for _, f := range o.AddKeys {
		pk, ref, err := tx.r.importKey(f)
		if err != nil {
			return err
		}
		key := metadata.NewKey(pk)
		id := key.ID()
		if slices.Contains(ids, id) {
			return fmt.Errorf("key %s (%s) is already a key of %s", shortID(id), f, o.Role)
		}
		ids = append(ids, id)
		if _, ok := k.keyMap[id]; !ok {
			k.keyMap[id] = key
		}
		if old, ok := cfg.Keys[id]; !ok || old.Private == "" {
			cfg.Keys[id] = ref
		}
	}
	for _, pk := range o.ServerKeys {
		key := metadata.NewKey(pk)
		id := key.ID()
		if slices.Contains(ids, id) {
			return fmt.Errorf("the server's key %s is already a key of %s", shortID(id), o.Role)
		}
		ids = append(ids, id)
		if _, ok := k.keyMap[id]; !ok {
			k.keyMap[id] = key
		}
		cfg.Keys[id] = KeyRef{Server: true}
	}
	for _, prefix := range o.RemoveKeys {
		var match []string
		for _, id := range ids {
			if strings.HasPrefix(id, strings.ToLower(prefix)) {
				match = append(match, id)
			}
		}
		switch len(match) {
		case 0:
			return fmt.Errorf("no key %s among the keys of %s (%s)", prefix, o.Role, shortList(ids))
		case 1:
			ids = slices.DeleteFunc(ids, func(s string) bool { return s == match[0] })
		default:
			return fmt.Errorf("key ID prefix %s matches %d keys of %s: give more digits", prefix, len(match), o.Role)
		}
	}
	if o.Threshold != 0 {
		*k.threshold = o.Threshold
	}
	if *k.threshold < 1 {
		return fmt.Errorf("threshold %d is less than 1", *k.threshold)
	}
	if len(ids) < *k.threshold {
		return fmt.Errorf("role %s would have %d keys for a threshold of %d: add keys or lower the threshold", o.Role, len(ids), *k.threshold)
	}
	k.setIDs(ids)
	return nil
}

func shortList(ids []string) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = shortID(id)
	}
	return strings.Join(s, ", ")
}

// SetExpiry sets the expiry policy of role ("bins" for all hashed bins)
// and signs the role again so that its expiry follows the new policy.
func (r *Repo) SetExpiry(ctx context.Context, role string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("expiry of %s must be positive", role)
	}
	return r.Update(ctx, func(tx *Tx) error {
		name := role
		if tx.cfg.Bins != nil && role == tx.cfg.Bins.Prefix {
			name = binsPolicy
		}
		if name != binsPolicy && !metadata.IsTopLevel(name) {
			if _, ok := tx.cfg.Delegations[name]; !ok {
				return fmt.Errorf("no role %q in this repository", role)
			}
		}
		tx.Config().Expires[name] = Duration(d)
		return tx.refresh([]string{name})
	})
}

// Refresh signs roles again with a new version and an expiry that follows
// the policy, without changing them: for metadata about to expire. With
// no roles it refreshes every role that has less than half of its expiry
// period left. "bins" means every hashed bin.
func (r *Repo) Refresh(ctx context.Context, roles ...string) ([]string, error) {
	var done []string
	err := r.Update(ctx, func(tx *Tx) error {
		if len(roles) == 0 {
			st, err := r.Status(ctx)
			if err != nil {
				return err
			}
			now := r.opts.Now()
			for _, rs := range st.Roles {
				_, imported := r.cfg.Imported[rs.Name]
				if !rs.SignedByServer && !imported && rs.Expires.Sub(now) < r.cfg.ExpiryFor(rs.Name)/2 {
					roles = append(roles, rs.Name)
				}
			}
			if st.Bins != nil && st.Bins.EarliestExpiry.Sub(now) < r.cfg.ExpiryFor(binsPolicy)/2 && !st.Bins.EarliestExpiry.IsZero() {
				roles = append(roles, binsPolicy)
			}
		}
		done = roles
		return tx.refresh(roles)
	})
	return done, err
}

func (tx *Tx) refresh(roles []string) error {
	for _, role := range roles {
		if role == binsPolicy || (tx.cfg.Bins != nil && role == tx.cfg.Bins.Prefix) {
			s := tx.cfg.succinct()
			if s == nil {
				return fmt.Errorf("this repository has no hashed bins")
			}
			for i := range s.NumBins() {
				if err := tx.Resign(s.BinName(i)); err != nil {
					return err
				}
			}
			continue
		}
		if !tx.exists(role) {
			return fmt.Errorf("no role %q in this repository", role)
		}
		if err := tx.Resign(role); err != nil {
			return err
		}
	}
	return nil
}
