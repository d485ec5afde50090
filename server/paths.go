package server

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/rampart-tuf/rampart/api"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// MaxGUNLength bounds a GUN.
const MaxGUNLength = 255

// validSegment reports whether seg can be one "/"-separated part of a GUN:
// 1 to 128 letters, digits, ".", "_", "-" and ":" (for host:port),
// starting with a letter or digit, so that "." and ".." never pass.
func validSegment(seg string) bool {
	if len(seg) == 0 || len(seg) > 128 || !isAlnum(seg[0]) {
		return false
	}
	for i := 1; i < len(seg); i++ {
		if c := seg[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' && c != ':' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// checkGUN validates a GUN.
func validateGUN(gun string) error {
	if gun == "" {
		return fmt.Errorf("empty GUN")
	}
	if len(gun) > MaxGUNLength {
		return fmt.Errorf("GUN longer than %d bytes", MaxGUNLength)
	}
	for seg := range strings.SplitSeq(gun, "/") {
		if !validSegment(seg) {
			return fmt.Errorf("invalid GUN %q: each /-separated part must be 1 to 128 letters, digits, '.', '_', '-' or ':', starting with a letter or digit", gun)
		}
		if api.IsReserved(seg) {
			return fmt.Errorf("invalid GUN %q: %q is reserved", gun, seg)
		}
	}
	return nil
}

// validateRoleName applies the role name rule (api.ValidRoleName, whose
// reasons metadata.CheckRoleName gives).
func validateRoleName(name string) error {
	if err := metadata.CheckRoleName(name); err != nil {
		return fmt.Errorf("invalid %w", err)
	}
	return nil
}

// splitRepoPath splits the part of a URL path after a fixed prefix into a
// GUN, the first reserved segment after it (the action), and the rest.
// Without a reserved segment the whole path is the GUN.
func splitRepoPath(rest string) (gun, action, tail string, err error) {
	segs := strings.Split(rest, "/")
	i := 0
	for i < len(segs) && !api.IsReserved(segs[i]) {
		i++
	}
	gun = strings.Join(segs[:i], "/")
	if err := validateGUN(gun); err != nil {
		return "", "", "", err
	}
	if i < len(segs) {
		action = segs[i]
		tail = strings.Join(segs[i+1:], "/")
	}
	return gun, action, tail, nil
}

// checkRawPath rejects request paths that are not clean: "." and ".."
// segments, empty segments, encoded slashes, NUL and other control
// characters. ServeMux would otherwise redirect some of them.
func checkRawPath(r *http.Request) error {
	p := r.URL.Path
	raw := r.URL.RawPath
	if raw == "" {
		raw = r.URL.EscapedPath()
	}
	if strings.Contains(strings.ToLower(raw), "%5c") || strings.Contains(strings.ToLower(escapedSlashAllowed(raw)), "%2f") {
		return fmt.Errorf("encoded slashes are not allowed in paths")
	}
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("path must start with /")
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return fmt.Errorf("control characters and backslashes are not allowed in paths")
		}
	}
	if p == "/" {
		return nil
	}
	if strings.HasPrefix(p, "/v2/") { // Notary's routes end in "/"
		p = strings.TrimSuffix(p, "/")
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		switch seg {
		case "":
			return fmt.Errorf("empty path segment")
		case ".", "..":
			return fmt.Errorf("path segment %q is not allowed", seg)
		}
	}
	return nil
}

// escapedSlashAllowed returns raw, an escaped request path, without the
// one part in which "%2F" may stand for '/': the file name after
// /tuf/{gun}/metadata/, where clients (python-tuf, go-tuf and Rampart's
// own) escape the '/' of a role name such as "targets/releases" (requesting
// "3.targets%2Freleases.json"). The decoded path is checked like any other,
// so "targets%2F..%2Fx.json" is still refused for its ".." segment.
func escapedSlashAllowed(raw string) string {
	if !strings.HasPrefix(raw, "/tuf/") {
		return raw
	}
	i := strings.LastIndexByte(raw, '/')
	if before := raw[:i]; strings.HasSuffix(before, "/metadata") {
		return before
	}
	return raw
}

// parseMetadataFile parses "timestamp.json", "root.json" and
// "VERSION.ROLE.json", in which ROLE may have '/'-separated segments
// ("3.targets/releases.json"). version is 0 for the unversioned names.
func parseMetadataFile(name string) (role string, version int64, err error) {
	base, ok := strings.CutSuffix(name, ".json")
	if !ok || base == "" {
		return "", 0, fmt.Errorf("metadata file %q: want ROLE.json or VERSION.ROLE.json", name)
	}
	if base == "timestamp" || base == "root" {
		return base, 0, nil
	}
	num, role, ok := strings.Cut(base, ".")
	if !ok {
		return "", 0, fmt.Errorf("metadata file %q: only timestamp.json and root.json are served without a version", name)
	}
	version, err = strconv.ParseInt(num, 10, 64)
	if err != nil || version < 1 || num[0] == '0' {
		return "", 0, fmt.Errorf("metadata file %q: bad version %q", name, num)
	}
	if err := validateRoleName(role); err != nil {
		return "", 0, err
	}
	if role == "timestamp" {
		return "", 0, fmt.Errorf("metadata file %q: timestamp metadata is served only as timestamp.json", name)
	}
	return role, version, nil
}
