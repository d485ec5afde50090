package metadata

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
)

// Delegations lists the keys and roles a targets role delegates to: either
// an ordered list of roles, or TAP 15 succinct hashed bins.
type Delegations struct {
	Keys     map[string]*Key
	Roles    []DelegatedRole // in order of priority; nil with succinct roles
	Succinct *SuccinctRoles  // nil with a list of roles
	Unknown  canonjson.Fields
}

// DelegatedRole is one delegation: a role name, its keys and threshold, and
// the target paths it is trusted for, as path patterns or hash prefixes.
type DelegatedRole struct {
	Name        string
	KeyIDs      []string
	Threshold   int
	Terminating bool
	// Exactly one of Paths and PathHashPrefixes is non-nil.
	Paths            []string
	PathHashPrefixes []string
	Unknown          canonjson.Fields
}

// SuccinctRoles delegates to 2^BitLength hashed bins named
// NamePrefix-HEX, all sharing one set of keys (TAP 15).
type SuccinctRoles struct {
	KeyIDs     []string
	Threshold  int
	BitLength  int
	NamePrefix string
	Unknown    canonjson.Fields
}

// MatchesPath reports whether the role is trusted for targetPath.
func (d *DelegatedRole) MatchesPath(targetPath string) bool {
	if d.Paths != nil {
		for _, p := range d.Paths {
			if matchPattern(p, targetPath) {
				return true
			}
		}
		return false
	}
	if len(d.PathHashPrefixes) == 0 {
		return false
	}
	h := pathHash(targetPath)
	for _, p := range d.PathHashPrefixes {
		if strings.HasPrefix(h, p) {
			return true
		}
	}
	return false
}

// NumBins returns the number of bins.
func (s *SuccinctRoles) NumBins() int { return 1 << s.BitLength }

// BinName returns the name of bin i.
func (s *SuccinctRoles) BinName(i int) string {
	width := (s.BitLength + 3) / 4
	return fmt.Sprintf("%s-%0*x", s.NamePrefix, width, i)
}

// BinFor returns the bin index for targetPath: the first BitLength bits of
// the SHA-256 of the path.
func (s *SuccinctRoles) BinFor(targetPath string) int {
	// Paths up to the buffer's size are hashed without an allocation:
	// placing a million targets calls this a million times.
	var buf [256]byte
	sum := sha256.Sum256(append(buf[:0], targetPath...))
	return int(binary.BigEndian.Uint32(sum[:4]) >> (32 - s.BitLength))
}

// RoleFor returns the name of the bin responsible for targetPath.
func (s *SuccinctRoles) RoleFor(targetPath string) string {
	return s.BinName(s.BinFor(targetPath))
}

// IsBin reports whether name is the name of one of the bins.
func (s *SuccinctRoles) IsBin(name string) bool {
	_, ok := s.BinIndex(name)
	return ok
}

// BinIndex returns the index of the bin named name, the inverse of
// BinName: ok is false for any other name (another prefix, upper-case or
// too few or too many hex digits, a bin past the last).
func (s *SuccinctRoles) BinIndex(name string) (i int, ok bool) {
	suffix, ok := strings.CutPrefix(name, s.NamePrefix+"-")
	if !ok || len(suffix) != (s.BitLength+3)/4 {
		return 0, false
	}
	var n uint64
	for _, c := range []byte(suffix) {
		switch {
		case '0' <= c && c <= '9':
			n = n<<4 | uint64(c-'0')
		case 'a' <= c && c <= 'f':
			n = n<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	if n >= uint64(s.NumBins()) {
		return 0, false
	}
	return int(n), true
}

// Role returns the delegation for the named bin.
func (s *SuccinctRoles) Role(name string) DelegatedRole {
	return DelegatedRole{Name: name, KeyIDs: s.KeyIDs, Threshold: s.Threshold}
}

// Role returns the delegation of the named role, or false.
func (d *Delegations) Role(name string) (DelegatedRole, bool) {
	if d.Succinct != nil {
		if d.Succinct.IsBin(name) {
			return d.Succinct.Role(name), true
		}
		return DelegatedRole{}, false
	}
	for _, r := range d.Roles {
		if r.Name == name {
			return r, true
		}
	}
	return DelegatedRole{}, false
}

// RolesFor returns, in priority order, the delegations trusted for
// targetPath.
func (d *Delegations) RolesFor(targetPath string) []DelegatedRole {
	if d.Succinct != nil {
		return []DelegatedRole{d.Succinct.Role(d.Succinct.RoleFor(targetPath))}
	}
	var out []DelegatedRole
	for _, r := range d.Roles {
		if r.MatchesPath(targetPath) {
			out = append(out, r)
		}
	}
	return out
}

// Validate checks the delegations.
func (d *Delegations) Validate() error {
	if (d.Roles == nil) == (d.Succinct == nil) {
		return invalid("exactly one of roles and succinct_roles must be given")
	}
	for id, k := range d.Keys {
		if err := validKeyID(id, k); err != nil {
			return in("keys", err)
		}
	}
	if err := checkKeyIDs(d.Keys, false); err != nil {
		return in("keys", err)
	}
	if d.Succinct != nil {
		return in("succinct_roles", d.Succinct.validate())
	}
	seen := make(map[string]bool, len(d.Roles))
	for i, r := range d.Roles {
		if err := r.validate(); err != nil {
			return in("roles", inIndex(i, err))
		}
		if seen[r.Name] {
			return in("roles", inIndex(i, invalid("duplicate role name %q", r.Name)))
		}
		seen[r.Name] = true
	}
	return nil
}

func (r *DelegatedRole) validate() error {
	switch {
	case r.Name == "":
		return in("name", invalid("empty role name"))
	case IsTopLevel(r.Name):
		return in("name", invalid("%q is a top-level role and cannot be delegated to", r.Name))
	case r.Threshold < 1:
		return in("threshold", invalid("threshold %d is less than 1", r.Threshold))
	case (r.Paths == nil) == (r.PathHashPrefixes == nil):
		return invalid("exactly one of paths and path_hash_prefixes must be given")
	}
	if err := checkUnique(r.KeyIDs, "key ID"); err != nil {
		return in("keyids", err)
	}
	for i, p := range r.PathHashPrefixes {
		if p == "" || len(p) > 64 || strings.Trim(p, "0123456789abcdef") != "" {
			return in("path_hash_prefixes", inIndex(i, invalid("%q is not a lowercase hex prefix", p)))
		}
	}
	return nil
}

func (s *SuccinctRoles) validate() error {
	switch {
	case s.BitLength < 1 || s.BitLength > 32:
		return in("bit_length", invalid("bit length %d is outside 1..32", s.BitLength))
	case s.NamePrefix == "":
		return in("name_prefix", invalid("empty name prefix"))
	case s.Threshold < 1:
		return in("threshold", invalid("threshold %d is less than 1", s.Threshold))
	}
	return in("keyids", checkUnique(s.KeyIDs, "key ID"))
}

func decodeDelegations(r *canonjson.Reader) (*Delegations, error) {
	d := &Delegations{}
	hasKeys := false
	err := r.Object(func(name []byte) error {
		var err error
		switch string(name) {
		case "keys":
			hasKeys = true
			d.Keys, err = decodeKeys(r)
			return in("keys", err)
		case "roles":
			d.Roles = []DelegatedRole{}
			return in("roles", r.Array(func() error {
				role, err := decodeDelegatedRole(r)
				if err != nil {
					return inIndex(len(d.Roles), err)
				}
				d.Roles = append(d.Roles, role)
				return nil
			}))
		case "succinct_roles":
			d.Succinct, err = decodeSuccinct(r)
			return in("succinct_roles", err)
		}
		v, err := r.Raw()
		d.Unknown.Add(string(name), v)
		return inKey(string(name), err)
	})
	if err != nil {
		return nil, err
	}
	if !hasKeys {
		return nil, invalid("missing keys")
	}
	return d, d.Validate()
}

func decodeDelegatedRole(r *canonjson.Reader) (DelegatedRole, error) {
	var d DelegatedRole
	var hasName, hasIDs, hasThreshold, hasTerminating bool
	err := r.Object(func(name []byte) error {
		var err error
		switch string(name) {
		case "name":
			hasName = true
			d.Name, err = r.String()
			return in("name", err)
		case "keyids":
			hasIDs = true
			d.KeyIDs, err = decodeStrings(r)
			return in("keyids", err)
		case "threshold":
			hasThreshold = true
			d.Threshold, err = decodeThreshold(r)
			return in("threshold", err)
		case "terminating":
			hasTerminating = true
			d.Terminating, err = r.Bool()
			return in("terminating", err)
		case "paths":
			d.Paths, err = decodeStrings(r)
			return in("paths", err)
		case "path_hash_prefixes":
			d.PathHashPrefixes, err = decodeStrings(r)
			return in("path_hash_prefixes", err)
		}
		v, err := r.Raw()
		d.Unknown.Add(string(name), v)
		return inKey(string(name), err)
	})
	switch {
	case err != nil:
		return d, err
	case !hasName:
		return d, invalid("missing name")
	case !hasIDs:
		return d, invalid("missing keyids")
	case !hasThreshold:
		return d, invalid("missing threshold")
	case !hasTerminating:
		return d, invalid("missing terminating")
	}
	return d, nil
}

func decodeSuccinct(r *canonjson.Reader) (*SuccinctRoles, error) {
	s := &SuccinctRoles{}
	var hasIDs, hasThreshold, hasBits, hasPrefix bool
	err := r.Object(func(name []byte) error {
		var err error
		var n int64
		switch string(name) {
		case "keyids":
			hasIDs = true
			s.KeyIDs, err = decodeStrings(r)
			return in("keyids", err)
		case "threshold":
			hasThreshold = true
			s.Threshold, err = decodeThreshold(r)
			return in("threshold", err)
		case "bit_length":
			hasBits = true
			n, err = r.Int()
			if err == nil && (n < 1 || n > 32) {
				err = invalid("bit length %d is outside 1..32", n)
			}
			s.BitLength = int(n)
			return in("bit_length", err)
		case "name_prefix":
			hasPrefix = true
			s.NamePrefix, err = r.String()
			return in("name_prefix", err)
		}
		v, err := r.Raw()
		s.Unknown.Add(string(name), v)
		return inKey(string(name), err)
	})
	switch {
	case err != nil:
		return nil, err
	case !hasIDs:
		return nil, invalid("missing keyids")
	case !hasThreshold:
		return nil, invalid("missing threshold")
	case !hasBits:
		return nil, invalid("missing bit_length")
	case !hasPrefix:
		return nil, invalid("missing name_prefix")
	}
	return s, nil
}

func (d *Delegations) encode(w *canonjson.Writer) {
	w.BeginObject()
	i := w.Fields(d.Unknown, 0, "keys")
	w.Name("keys")
	encodeKeys(w, d.Keys)
	if d.Roles != nil {
		i = w.Fields(d.Unknown, i, "roles")
		w.Name("roles")
		w.BeginArray()
		for j := range d.Roles {
			d.Roles[j].encode(w)
		}
		w.EndArray()
	}
	if d.Succinct != nil {
		i = w.Fields(d.Unknown, i, "succinct_roles")
		w.Name("succinct_roles")
		d.Succinct.encode(w)
	}
	w.FieldsRest(d.Unknown, i)
	w.EndObject()
}

func (r *DelegatedRole) encode(w *canonjson.Writer) {
	w.BeginObject()
	i := w.Fields(r.Unknown, 0, "keyids")
	w.Name("keyids")
	encodeStrings(w, r.KeyIDs)
	i = w.Fields(r.Unknown, i, "name")
	w.Name("name")
	w.String(r.Name)
	if r.PathHashPrefixes != nil {
		i = w.Fields(r.Unknown, i, "path_hash_prefixes")
		w.Name("path_hash_prefixes")
		encodeStrings(w, r.PathHashPrefixes)
	}
	if r.Paths != nil {
		i = w.Fields(r.Unknown, i, "paths")
		w.Name("paths")
		encodeStrings(w, r.Paths)
	}
	i = w.Fields(r.Unknown, i, "terminating")
	w.Name("terminating")
	w.Bool(r.Terminating)
	i = w.Fields(r.Unknown, i, "threshold")
	w.Name("threshold")
	w.Int(int64(r.Threshold))
	w.FieldsRest(r.Unknown, i)
	w.EndObject()
}

func (s *SuccinctRoles) encode(w *canonjson.Writer) {
	w.BeginObject()
	i := w.Fields(s.Unknown, 0, "bit_length")
	w.Name("bit_length")
	w.Int(int64(s.BitLength))
	i = w.Fields(s.Unknown, i, "keyids")
	w.Name("keyids")
	encodeStrings(w, s.KeyIDs)
	i = w.Fields(s.Unknown, i, "name_prefix")
	w.Name("name_prefix")
	w.String(s.NamePrefix)
	i = w.Fields(s.Unknown, i, "threshold")
	w.Name("threshold")
	w.Int(int64(s.Threshold))
	w.FieldsRest(s.Unknown, i)
	w.EndObject()
}
