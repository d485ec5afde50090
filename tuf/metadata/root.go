package metadata

import (
	"slices"
	"time"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
)

// Root is the root role's document: the keys and thresholds of the top-level
// roles.
type Root struct {
	Common
	ConsistentSnapshot bool
	Keys               map[string]*Key
	Roles              map[string]*RoleKeys

	consistentSet bool // "consistent_snapshot" was present
}

// RoleKeys lists the keys trusted for a role and how many must sign.
type RoleKeys struct {
	KeyIDs    []string
	Threshold int
	Unknown   canonjson.Fields
}

// NewRoot returns a root document, version 1, with empty roles for the
// top-level roles, each with threshold 1.
func NewRoot(expires time.Time) *Root {
	r := &Root{Common: newCommon(TypeRoot, expires), Keys: map[string]*Key{}, Roles: map[string]*RoleKeys{}, ConsistentSnapshot: true, consistentSet: true}
	for _, name := range TopLevelRoles {
		r.Roles[name] = &RoleKeys{Threshold: 1}
	}
	return r
}

// AddKey trusts key for role.
func (r *Root) AddKey(role string, key *Key) error {
	rk, ok := r.Roles[role]
	if !ok {
		return invalid("no role %q in root", role)
	}
	id := key.ID()
	if _, ok := r.Keys[id]; !ok {
		r.Keys[id] = key
	}
	if !slices.Contains(rk.KeyIDs, id) {
		rk.KeyIDs = append(rk.KeyIDs, id)
	}
	return nil
}

// RevokeKey stops trusting the key keyID for role, and drops the key when no
// role uses it any more.
func (r *Root) RevokeKey(role, keyID string) error {
	rk, ok := r.Roles[role]
	if !ok {
		return invalid("no role %q in root", role)
	}
	i := slices.Index(rk.KeyIDs, keyID)
	if i < 0 {
		return invalid("key %s is not a key of role %q", keyID, role)
	}
	rk.KeyIDs = slices.Delete(rk.KeyIDs, i, i+1)
	for _, other := range r.Roles {
		if slices.Contains(other.KeyIDs, keyID) {
			return nil
		}
	}
	delete(r.Keys, keyID)
	return nil
}

func (r *Root) encode(w *canonjson.Writer) {
	var members []member
	if r.ConsistentSnapshot || r.consistentSet {
		members = append(members, member{"consistent_snapshot", func() { w.Bool(r.ConsistentSnapshot) }})
	}
	members = append(members,
		member{"keys", func() { encodeKeys(w, r.Keys) }},
		member{"roles", func() {
			w.BeginObject()
			for _, name := range sortedKeys(r.Roles) {
				w.Name(name)
				r.Roles[name].encode(w)
			}
			w.EndObject()
		}},
	)
	r.Common.encode(w, members)
}

func (rk *RoleKeys) encode(w *canonjson.Writer) {
	w.BeginObject()
	i := w.Fields(rk.Unknown, 0, "keyids")
	w.Name("keyids")
	encodeStrings(w, rk.KeyIDs)
	i = w.Fields(rk.Unknown, i, "threshold")
	w.Name("threshold")
	w.Int(int64(rk.Threshold))
	w.FieldsRest(rk.Unknown, i)
	w.EndObject()
}

const (
	seenConsistent = seenOther << iota
	seenKeys
	seenRoles
)

func (r *Root) decode(rd *canonjson.Reader) error {
	var seen uint32
	err := rd.Object(func(name []byte) error {
		if ok, err := r.Common.decodeMember(rd, name, &seen); ok {
			return err
		}
		var err error
		switch string(name) {
		case "consistent_snapshot":
			seen |= seenConsistent
			r.consistentSet = true
			r.ConsistentSnapshot, err = rd.Bool()
			return in("consistent_snapshot", err)
		case "keys":
			seen |= seenKeys
			r.Keys, err = decodeKeys(rd)
			return in("keys", err)
		case "roles":
			seen |= seenRoles
			r.Roles = map[string]*RoleKeys{}
			return in("roles", rd.Object(func(name []byte) error {
				rk, err := decodeRoleKeys(rd)
				r.Roles[string(name)] = rk
				return inKey(string(name), err)
			}))
		}
		v, err := rd.Raw()
		r.Unknown.Add(string(name), v)
		return inKey(string(name), err)
	})
	if err != nil {
		return err
	}
	if err := r.checkCommon(TypeRoot, seen); err != nil {
		return err
	}
	if seen&seenKeys == 0 {
		return invalid("missing keys")
	}
	if seen&seenRoles == 0 {
		return invalid("missing roles")
	}
	return r.validateRoles()
}

// Validate checks a root document built in memory.
func (r *Root) Validate() error {
	if err := r.validateCommon(TypeRoot); err != nil {
		return err
	}
	for id, k := range r.Keys {
		if err := validKeyID(id, k); err != nil {
			return in("keys", err)
		}
	}
	if err := checkKeyIDs(r.Keys, false); err != nil {
		return in("keys", err)
	}
	for name, rk := range r.Roles {
		if err := rk.validate(); err != nil {
			return in("roles", inKey(name, err))
		}
	}
	return r.validateRoles()
}

func (r *Root) validateRoles() error {
	for _, name := range TopLevelRoles {
		if _, ok := r.Roles[name]; !ok {
			return in("roles", invalid("missing role %q", name))
		}
	}
	for name := range r.Roles {
		if !IsTopLevel(name) {
			return in("roles", invalid("%q is not a top-level role", name))
		}
	}
	return nil
}

func decodeRoleKeys(r *canonjson.Reader) (*RoleKeys, error) {
	rk := &RoleKeys{}
	hasIDs, hasThreshold := false, false
	err := r.Object(func(name []byte) error {
		var err error
		switch string(name) {
		case "keyids":
			hasIDs = true
			rk.KeyIDs, err = decodeStrings(r)
			return in("keyids", err)
		case "threshold":
			hasThreshold = true
			rk.Threshold, err = decodeThreshold(r)
			return in("threshold", err)
		}
		v, err := r.Raw()
		rk.Unknown.Add(string(name), v)
		return inKey(string(name), err)
	})
	switch {
	case err != nil:
		return nil, err
	case !hasIDs:
		return nil, invalid("missing keyids")
	case !hasThreshold:
		return nil, invalid("missing threshold")
	}
	return rk, rk.validate()
}

// maxThreshold bounds a role's threshold when it is decoded: no role has
// a million keys, and an int64 beyond int's range must not wrap.
const maxThreshold = 1 << 20

// decodeThreshold reads a threshold: an integer from 1 to maxThreshold.
func decodeThreshold(r *canonjson.Reader) (int, error) {
	t, err := r.Int()
	if err == nil && (t < 1 || t > maxThreshold) {
		err = invalid("threshold %d is out of range (1 to %d)", t, maxThreshold)
	}
	return int(t), err
}

func (rk *RoleKeys) validate() error {
	if rk.Threshold < 1 {
		return in("threshold", invalid("threshold %d is less than 1", rk.Threshold))
	}
	return in("keyids", checkUnique(rk.KeyIDs, "key ID"))
}

func checkUnique(list []string, what string) error {
	if len(list) < 2 {
		return nil
	}
	seen := make(map[string]bool, len(list))
	for i, s := range list {
		if seen[s] {
			return inIndex(i, invalid("duplicate %s %q", what, s))
		}
		seen[s] = true
	}
	return nil
}

func decodeStrings(r *canonjson.Reader) ([]string, error) {
	list := []string{}
	err := r.Array(func() error {
		s, err := r.String()
		if err != nil {
			return inIndex(len(list), err)
		}
		list = append(list, s)
		return nil
	})
	return list, err
}

func encodeStrings(w *canonjson.Writer, list []string) {
	w.BeginArray()
	for _, s := range list {
		w.String(s)
	}
	w.EndArray()
}
