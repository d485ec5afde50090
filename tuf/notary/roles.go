package notary

import (
	"path"
	"slices"
	"strconv"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// Root is the "signed" value of a root document.
type Root struct {
	Keys               map[string]Key      // by key ID
	Roles              map[string]RoleKeys // by top-level role name
	ConsistentSnapshot bool
}

// RoleKeys names the keys of a role and how many of them must sign.
type RoleKeys struct {
	KeyIDs    []string
	Threshold int
}

// Targets is the "signed" value of a targets document, top-level or
// delegated.
type Targets struct {
	Targets     map[string]FileMeta // by target name
	Delegations Delegations
}

// Delegations are the roles a targets role delegates to, and their keys.
type Delegations struct {
	Keys  map[string]Key // by key ID
	Roles []Delegation
}

// Delegation is one delegated role: a "targets/..." name, its keys and the
// path prefixes of the targets it may sign ("" matches every path).
type Delegation struct {
	Name string
	RoleKeys
	Paths []string
}

// FileMeta describes a target or a metadata file: its length, its hashes
// by algorithm name ("sha256", "sha512") and, for targets, an optional
// custom JSON value in canonical form.
type FileMeta struct {
	Length int64
	Hashes map[string][]byte
	Custom []byte
}

// Snapshot is the "signed" value of a snapshot document: the length and
// hashes of root, targets and every delegated role, by role name.
type Snapshot struct {
	Meta map[string]FileMeta
}

// Timestamp is the "signed" value of a timestamp document: the length and
// hashes of the snapshot, under "snapshot".
type Timestamp struct {
	Meta map[string]FileMeta
}

// Limits on what a document may hold.
const (
	maxNameLength = 255 // delegation names, as Notary allows
	maxHashSize   = 64  // bytes, SHA-512
	maxCustomSize = 1 << 20
)

// Role members

func (t *Root) member(r *canonjson.Reader, name string) error {
	var err error
	switch name {
	case "keys":
		t.Keys, err = readKeys(r, "signed.keys")
	case "roles":
		t.Roles = map[string]RoleKeys{}
		err = r.Object(func(n []byte) error {
			role := string(n)
			p := "signed.roles." + role
			switch role {
			case RoleRoot, RoleTargets, RoleSnapshot, RoleTimestamp:
			default:
				return malformed("signed.roles", "unknown role %q", short(role))
			}
			rk, err := readRoleKeys(r, p, nil)
			t.Roles[role] = rk
			return err
		})
	case "consistent_snapshot":
		t.ConsistentSnapshot, err = r.Bool()
	}
	return err
}

func (t *Targets) member(r *canonjson.Reader, name string) error {
	var err error
	switch name {
	case "targets":
		t.Targets, err = readMetaMap(r, "signed.targets", true)
	case "delegations":
		err = r.Object(func(n []byte) error {
			switch string(n) {
			case "keys":
				return orNull(r, func() error {
					var err error
					t.Delegations.Keys, err = readKeys(r, "signed.delegations.keys")
					return err
				})
			case "roles":
				return orNull(r, func() error {
					return r.Array(func() error {
						p := "signed.delegations.roles[" + strconv.Itoa(len(t.Delegations.Roles)) + "]"
						var d Delegation
						d.RoleKeys, err = readRoleKeys(r, p, &d)
						t.Delegations.Roles = append(t.Delegations.Roles, d)
						return err
					})
				})
			}
			return nil
		})
	}
	return err
}

func (t *Snapshot) member(r *canonjson.Reader, name string) (err error) {
	if name == "meta" {
		t.Meta, err = readMetaMap(r, "signed.meta", false)
	}
	return err
}

func (t *Timestamp) member(r *canonjson.Reader, name string) (err error) {
	if name == "meta" {
		t.Meta, err = readMetaMap(r, "signed.meta", false)
	}
	return err
}

// Values

// orNull reads a null as an empty value, or else the value with read:
// Notary's Go client writes an empty list or map as null (an empty
// "roles" once the last delegation is removed).
func orNull(r *canonjson.Reader, read func() error) error {
	if r.Kind() == canonjson.Null {
		return r.Null()
	}
	return read()
}

func readKeys(r *canonjson.Reader, p string) (map[string]Key, error) {
	out := map[string]Key{}
	err := r.Object(func(n []byte) error {
		id := string(n)
		kp := p + "[" + strconv.Quote(short(id)) + "]"
		var k Key
		var sawPublic, sawPrivate bool
		err := r.Object(func(n []byte) error {
			switch string(n) {
			case "keytype":
				var err error
				k.Type, err = r.String()
				return err
			case "keyval":
				return r.Object(func(n []byte) error {
					switch string(n) {
					case "public":
						sawPublic = true
						var err error
						k.Public, err = readBase64(r, keys.MaxPublicValueSize)
						return err
					case "private":
						sawPrivate = true
						if err := r.Null(); err != nil {
							return malformed(kp+".keyval.private", "must be null in published metadata")
						}
					}
					return nil
				})
			}
			return nil
		})
		if err != nil {
			return wrap(kp, err)
		}
		switch {
		case k.Type == "":
			return malformed(kp+".keytype", "missing")
		case !sawPublic:
			return malformed(kp+".keyval.public", "missing")
		case !sawPrivate:
			return malformed(kp+".keyval.private", "missing; Notary's key ID covers \"private\":null")
		}
		if got := k.ID(); got != id {
			return malformed(kp, "key ID is %s, not the ID it is listed under", got)
		}
		out[id] = k
		return nil
	})
	return out, wrap(p, err)
}

// readRoleKeys reads keyids and threshold, and for a delegation also name and
// paths.
func readRoleKeys(r *canonjson.Reader, p string, d *Delegation) (RoleKeys, error) {
	var rk RoleKeys
	sawT := false
	err := r.Object(func(n []byte) error {
		switch string(n) {
		case "keyids":
			return r.Array(func() error {
				id, err := r.String()
				if err != nil {
					return err
				}
				if !isKeyID(id) {
					return malformed(p+".keyids", "%q is not 64 lower case hex digits", short(id))
				}
				if slices.Contains(rk.KeyIDs, id) {
					return malformed(p+".keyids", "%s is listed twice", id)
				}
				rk.KeyIDs = append(rk.KeyIDs, id)
				return nil
			})
		case "threshold":
			sawT = true
			t, err := r.Int()
			if err != nil {
				return err
			}
			if t < 1 || t > 1<<20 {
				return malformed(p+".threshold", "%d is out of range", t)
			}
			rk.Threshold = int(t)
		case "name":
			if d != nil {
				var err error
				d.Name, err = r.String()
				return err
			}
		case "paths":
			if d != nil {
				d.Paths = []string{}
				return orNull(r, func() error {
					return r.Array(func() error {
						s, err := r.String()
						d.Paths = append(d.Paths, s)
						return err
					})
				})
			}
		}
		return nil
	})
	if err != nil {
		return rk, wrap(p, err)
	}
	if !sawT {
		return rk, malformed(p+".threshold", "missing")
	}
	if rk.Threshold > len(rk.KeyIDs) {
		return rk, malformed(p+".threshold", "%d is more than the %d keys listed", rk.Threshold, len(rk.KeyIDs))
	}
	return rk, nil
}

func readMetaMap(r *canonjson.Reader, p string, custom bool) (map[string]FileMeta, error) {
	out := map[string]FileMeta{}
	err := r.Object(func(n []byte) error {
		name := string(n)
		mp := p + "[" + strconv.Quote(short(name)) + "]"
		m, err := readFileMeta(r, mp, custom)
		if err != nil {
			return err
		}
		out[name] = m
		return nil
	})
	return out, wrap(p, err)
}

func readFileMeta(r *canonjson.Reader, p string, custom bool) (FileMeta, error) {
	var m FileMeta
	sawL := false
	err := r.Object(func(n []byte) error {
		switch string(n) {
		case "length":
			sawL = true
			l, err := r.Int()
			if err != nil {
				return err
			}
			if l < 0 {
				return malformed(p+".length", "%d is negative", l)
			}
			m.Length = l
		case "hashes":
			m.Hashes = map[string][]byte{}
			return r.Object(func(n []byte) error {
				h, err := readBase64(r, maxHashSize)
				if err != nil {
					return wrap(p+".hashes."+short(string(n)), err)
				}
				m.Hashes[string(n)] = h
				return nil
			})
		case "custom":
			if !custom {
				return nil
			}
			if r.Kind() == canonjson.Null {
				return r.Null()
			}
			raw, err := r.Raw()
			if err != nil {
				return err
			}
			if len(raw) > maxCustomSize {
				return malformed(p+".custom", "%d bytes, more than the limit of %d", len(raw), maxCustomSize)
			}
			m.Custom = raw
		}
		return nil
	})
	if err != nil {
		return m, wrap(p, err)
	}
	if !sawL {
		return m, malformed(p+".length", "missing")
	}
	return m, checkHashes(p+".hashes", m.Hashes)
}

// checkHashes requires a SHA-256 or SHA-512 hash, each of its length.
func checkHashes(p string, h map[string][]byte) error {
	known := 0
	for alg, size := range map[string]int{"sha256": 32, "sha512": 64} {
		if v, ok := h[alg]; ok {
			known++
			if len(v) != size {
				return malformed(p+"."+alg, "%d bytes, want %d", len(v), size)
			}
		}
	}
	if known == 0 {
		return malformed(p, "no sha256 or sha512 hash")
	}
	return nil
}

func wrap(p string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*Error); ok {
		return err
	}
	return malformed(p, "%v", err)
}

// Checks across members

func (d *Document) check() error {
	switch {
	case d.Root != nil:
		return d.Root.check()
	case d.Targets != nil:
		return d.Targets.check()
	case d.Snapshot != nil:
		for _, role := range []string{RoleRoot, RoleTargets} {
			if _, ok := d.Snapshot.Meta[role]; !ok {
				return malformed("signed.meta", "no entry for %s", role)
			}
		}
		for name := range d.Snapshot.Meta {
			if name != RoleRoot && name != RoleTargets && !IsDelegation(name) {
				return malformed("signed.meta", "%q is not root, targets or a delegated role", short(name))
			}
		}
	case d.Timestamp != nil:
		if _, ok := d.Timestamp.Meta[RoleSnapshot]; !ok {
			return malformed("signed.meta", "no entry for snapshot")
		}
	}
	return nil
}

func (t *Root) check() error {
	for _, role := range []string{RoleRoot, RoleTargets, RoleSnapshot, RoleTimestamp} {
		rk, ok := t.Roles[role]
		if !ok {
			return malformed("signed.roles", "no entry for %s", role)
		}
		if err := keysListed("signed.roles."+role, rk.KeyIDs, t.Keys); err != nil {
			return err
		}
	}
	return nil
}

func (t *Targets) check() error {
	seen := map[string]bool{}
	for i, d := range t.Delegations.Roles {
		p := "signed.delegations.roles[" + strconv.Itoa(i) + "]"
		if !IsDelegation(d.Name) {
			return malformed(p+".name", "%q is not a delegated role name (targets/..., lower case letters, digits, -, _ and /)", short(d.Name))
		}
		if seen[d.Name] {
			return malformed(p+".name", "%s is delegated twice", d.Name)
		}
		seen[d.Name] = true
		if d.Paths == nil {
			return malformed(p+".paths", "missing")
		}
		if err := keysListed(p, d.KeyIDs, t.Delegations.Keys); err != nil {
			return err
		}
	}
	return nil
}

func keysListed(p string, ids []string, ks map[string]Key) error {
	for _, id := range ids {
		if _, ok := ks[id]; !ok {
			return malformed(p+".keyids", "key %s is not in keys", id)
		}
	}
	return nil
}

// IsDelegation reports whether name is a valid Notary delegated role name:
// "targets/" followed by a clean path of lower case letters, digits, "-",
// "_" and "/", at most 255 characters in all.
func IsDelegation(name string) bool {
	const prefix = RoleTargets + "/"
	if len(name) <= len(prefix) || len(name) > maxNameLength || name[:len(prefix)] != prefix {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '/') {
			return false
		}
	}
	return path.Clean(name) == name
}

// Parent returns the role that delegates to a delegated role: "targets" for
// "targets/releases", "targets/releases" for "targets/releases/beta".
func Parent(name string) string { return path.Dir(name) }

// IsRole reports whether name is a top-level role or a delegated role.
func IsRole(name string) bool {
	switch name {
	case RoleRoot, RoleTargets, RoleSnapshot, RoleTimestamp:
		return true
	}
	return IsDelegation(name)
}

// PathsWithin reports whether every path prefix of a delegation lies within
// the prefixes its parent may sign: each must start with one of parent's
// ("" in parent matches everything). A top-level targets role has no
// prefixes and allows everything: pass nil.
func PathsWithin(paths, parent []string) bool {
	if parent == nil {
		return true
	}
	for _, p := range paths {
		if !slices.ContainsFunc(parent, func(q string) bool { return len(p) >= len(q) && p[:len(q)] == q }) {
			return false
		}
	}
	return true
}

// Allows reports whether a delegation may sign the target name.
func (d Delegation) Allows(name string) bool {
	return slices.ContainsFunc(d.Paths, func(q string) bool { return len(name) >= len(q) && name[:len(q)] == q })
}
