package metadata

import (
	"fmt"
	"strings"
)

// Role names as paths. TUF 1.0 lets a delegated role's name be any string,
// and the role's metadata is fetched as NAME.json (VERSION.NAME.json with
// consistent snapshots). Rampart gives files and URLs only to the names that
// are safe as relative paths, and to all of them under one rule:
//
//   - a name is 1 to MaxRoleNameLength bytes of '/'-separated segments;
//   - each segment is 1 to 128 letters, digits, '.', '_' and '-', starting
//     with a letter or digit, so no segment is empty, "." or "..";
//   - a name of several segments does not start with a top-level role
//     name other than targets ("root/1" would read as a file of root's,
//     and a server's staged update names its roots "root/001");
//   - no segment but the last ends in ".json" (the directory 3.x.json/ of
//     "x.json/y" would be where 3.x.json, version 3 of "x", is a file).
//
// Notary's "targets/releases" is such a name. Published trees (and URLs)
// hold a role's metadata at the name as a relative path,
// "targets/releases.json" and "3.targets/releases.json" (the version prefix
// goes on the first segment, as it does when a client prefixes the escaped
// name); private single-file stores use [RoleFileName].

// MaxRoleNameLength bounds the length of a role name given a file.
const MaxRoleNameLength = 255

// maxRoleSegment bounds one '/'-separated segment of a role name.
const maxRoleSegment = 128

// CheckRoleName reports why name cannot name a delegated role whose
// metadata becomes a file and a URL path, or nil if it can (see the rule
// above).
func CheckRoleName(name string) error {
	if name == "" {
		return fmt.Errorf("empty role name")
	}
	if len(name) > MaxRoleNameLength {
		return fmt.Errorf("role name of %d bytes: at most %d", len(name), MaxRoleNameLength)
	}
	for seg := range strings.SplitSeq(name, "/") {
		if !validRoleSegment(seg) {
			return fmt.Errorf("role name %q: each '/'-separated part must be 1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit", name, maxRoleSegment)
		}
	}
	if i := strings.LastIndexByte(name, '/'); i >= 0 && strings.Contains(name[:i+1], ".json/") {
		return fmt.Errorf("role name %q: only its last '/'-separated part may end in .json", name)
	}
	if first, _, ok := strings.Cut(name, "/"); ok && IsTopLevel(first) && first != TypeTargets {
		return fmt.Errorf("role name %q: a name with '/' may begin with targets/ but not with %s/, a top-level role", name, first)
	}
	return nil
}

func validRoleSegment(seg string) bool {
	if len(seg) == 0 || len(seg) > maxRoleSegment || !isAlnum(seg[0]) {
		return false
	}
	for i := 1; i < len(seg); i++ {
		if c := seg[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// RoleFileName returns the name of the one file in which a private store
// (a client's trusted metadata, a repository's working copy, a bundle)
// keeps role's metadata: the role name, every byte but letters, digits,
// '-', '_' and a '.' that does not come first percent-encoded, then ".json".
// It is a single path element for any role name, so "targets/releases"
// is kept as "targets%2Freleases.json"; [RoleFromFileName] reverses it.
func RoleFileName(role string) string {
	var b strings.Builder
	for i := 0; i < len(role); i++ {
		c := role[i]
		if isAlnum(c) || c == '-' || c == '_' || (c == '.' && i > 0) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String() + ".json"
}

// RoleFromFileName returns the role whose metadata RoleFileName keeps in
// name, and false when name is not such a file name.
func RoleFromFileName(name string) (string, bool) {
	base, ok := strings.CutSuffix(name, ".json")
	if !ok || base == "" {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(base); i++ {
		c := base[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(base) || unhex(base[i+1]) < 0 || unhex(base[i+2]) < 0 {
			return "", false
		}
		b.WriteByte(byte(unhex(base[i+1])<<4 | unhex(base[i+2])))
		i += 2
	}
	role := b.String()
	if RoleFileName(role) != name { // one spelling per role
		return "", false
	}
	return role, true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}
