package metadata

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
)

// MaxVersion is the largest version a repository should give a document:
// 2^53-1, the largest integer that every JSON reader (JavaScript's
// numbers, for one) reads exactly. Versions are valid above it, but a
// server refuses them, since a repository at a version some clients cannot
// represent, or one step from the end of int64, can never move on.
const MaxVersion = 1<<53 - 1

// Common holds the members every role document has.
type Common struct {
	Type        string // "_type"
	SpecVersion string
	Version     int64
	Expires     time.Time
	// Unknown holds the members of "signed" this version does not know.
	Unknown canonjson.Fields

	expiresText string // "expires" as read, written back while Expires is unchanged
}

func newCommon(typ string, expires time.Time) Common {
	return Common{Type: typ, SpecVersion: SpecVersion, Version: 1, Expires: expires.UTC().Truncate(time.Second)}
}

// common returns c; it makes every role type satisfy Role.
func (c *Common) common() *Common { return c }

// IsExpired reports whether the document has expired at time ref: the
// specification requires the expiry to be later than the reference time.
func (c *Common) IsExpired(ref time.Time) bool { return !c.Expires.After(ref) }

// ExpiresText returns "expires" as it will be written.
func (c *Common) ExpiresText() string {
	if c.expiresText != "" {
		if t, err := parseTime(c.expiresText); err == nil && t.Equal(c.Expires) {
			return c.expiresText
		}
	}
	return c.Expires.UTC().Format(timeFormat)
}

const timeFormat = "2006-01-02T15:04:05Z"

// maxTimeLen bounds a time string: "YYYY-MM-DDTHH:MM:SS", nine digits of
// fraction and an offset fit.
const maxTimeLen = 35

// parseTime reads any RFC 3339 time: "YYYY-MM-DDTHH:MM:SSZ", which the
// specification requires and Rampart writes, and also times with fractional
// seconds or a numeric offset, which other implementations have written
// into deployed metadata. The result is the instant; expiry compares
// instants.
func parseTime(s string) (time.Time, error) {
	if len(s) < len(timeFormat) || len(s) > maxTimeLen {
		return time.Time{}, invalid("time %q is not an RFC 3339 time such as YYYY-MM-DDTHH:MM:SSZ", s)
	}
	layout := timeFormat
	if len(s) > len(timeFormat) || s[len(s)-1] != 'Z' {
		layout = time.RFC3339Nano
	}
	t, err := time.Parse(layout, s)
	if _, off := t.Zone(); err == nil && (off <= -24*3600 || off >= 24*3600) {
		err = errors.New("offset out of range")
	}
	if err != nil {
		return time.Time{}, invalid("time %q is not an RFC 3339 time such as YYYY-MM-DDTHH:MM:SSZ", s)
	}
	if t.IsZero() {
		// Go's zero time stands for "not set" in documents built in
		// memory; a document that names it would not encode again.
		return time.Time{}, invalid("time %q is the zero time", s)
	}
	return t, nil
}

// checkSpecVersion accepts "1.N" and "1.N.M".
func checkSpecVersion(v string) error {
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return invalid("spec version %q is not of the form 1.x.y", v)
	}
	for _, p := range parts {
		if p == "" || len(p) > 9 || strings.Trim(p, "0123456789") != "" {
			return invalid("spec version %q is not of the form 1.x.y", v)
		}
	}
	if parts[0] != "1" {
		return invalid("unsupported spec version %q: this implementation reads major version 1", v)
	}
	return nil
}

// decodeCommon handles a member common to all roles; it reports false for
// other members.
func (c *Common) decodeMember(r *canonjson.Reader, name []byte, seen *uint32) (bool, error) {
	var err error
	switch string(name) {
	case "_type":
		*seen |= seenType
		c.Type, err = r.String()
		return true, in("_type", err)
	case "spec_version":
		*seen |= seenSpec
		c.SpecVersion, err = r.String()
		if err == nil {
			err = checkSpecVersion(c.SpecVersion)
		}
		return true, in("spec_version", err)
	case "version":
		*seen |= seenVersion
		c.Version, err = r.Int()
		if err == nil && c.Version < 1 {
			err = invalid("version %d is less than 1", c.Version)
		}
		return true, in("version", err)
	case "expires":
		*seen |= seenExpires
		c.expiresText, err = r.String()
		if err == nil {
			c.Expires, err = parseTime(c.expiresText)
		}
		return true, in("expires", err)
	}
	return false, nil
}

const (
	seenType uint32 = 1 << iota
	seenSpec
	seenVersion
	seenExpires
	seenOther // first bit free for the role types
)

func (c *Common) checkCommon(want string, seen uint32) error {
	for _, f := range []struct {
		bit  uint32
		name string
	}{{seenType, "_type"}, {seenSpec, "spec_version"}, {seenVersion, "version"}, {seenExpires, "expires"}} {
		if seen&f.bit == 0 {
			return invalid("missing %s", f.name)
		}
	}
	if c.Type != want {
		return in("_type", invalid("is %q, want %q", c.Type, want))
	}
	return nil
}

// validateCommon checks the common members of a document built in memory.
func (c *Common) validateCommon(want string) error {
	if c.Type != want {
		return in("_type", invalid("is %q, want %q", c.Type, want))
	}
	if err := checkSpecVersion(c.SpecVersion); err != nil {
		return in("spec_version", err)
	}
	if c.Version < 1 {
		return in("version", invalid("version %d is less than 1", c.Version))
	}
	if c.Expires.IsZero() {
		return in("expires", invalid("not set"))
	}
	return nil
}

// encodeCommonBefore writes the unknown members and common members that sort
// before name; encoders of the role types interleave their members with it.
type commonEncoder struct {
	c *Common
	w *canonjson.Writer
	i int // next unknown member to write
}

func (e *commonEncoder) before(name string) {
	e.i = e.w.Fields(e.c.Unknown, e.i, name)
}

// encode writes the whole "signed" object: the common members, the
// role-specific ones given as name-ordered writers, and unknown members.
func (c *Common) encode(w *canonjson.Writer, members []member) {
	all := append([]member{
		{"_type", func() { w.String(c.Type) }},
		{"expires", func() { w.String(c.ExpiresText()) }},
		{"spec_version", func() { w.String(c.SpecVersion) }},
		{"version", func() { w.Int(c.Version) }},
	}, members...)
	slices.SortFunc(all, func(a, b member) int { return strings.Compare(a.name, b.name) })
	e := commonEncoder{c: c, w: w}
	w.BeginObject()
	for _, m := range all {
		e.before(m.name)
		w.Name(m.name)
		m.write()
	}
	w.FieldsRest(c.Unknown, e.i)
	w.EndObject()
}

type member struct {
	name  string
	write func()
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
