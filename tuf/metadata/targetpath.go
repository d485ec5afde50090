package metadata

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// CheckTargetPath reports whether p is a target path a repository may
// list: a clean, relative, '/'-separated path of valid UTF-8, without
// empty, "." or ".." segments, control characters, backslashes or Unicode
// bidirectional controls. Such a path names the same file on every
// client's disk and reads the same on every terminal.
//
// Metadata signed elsewhere may list other paths, and clients still read
// it; the rule is for what a repository accepts into its metadata.
func CheckTargetPath(p string) error {
	if why := targetPathProblem(p); why != "" {
		return fmt.Errorf("invalid target path %q: %s", p, why)
	}
	return nil
}

// targetPathProblem says what is wrong with p, or "".
func targetPathProblem(p string) string {
	if p == "" {
		return "empty"
	}
	if !utf8.ValidString(p) {
		return "not valid UTF-8"
	}
	for _, r := range p {
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			return fmt.Sprintf("control character %U", r)
		case r == '\\':
			return "backslash; separate segments with '/'"
		case isBidiControl(r):
			return fmt.Sprintf("Unicode bidirectional control %U", r)
		}
	}
	if strings.HasPrefix(p, "/") {
		return "absolute; want a relative path"
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
			return "empty segment"
		case ".", "..":
			return fmt.Sprintf("%q segment", seg)
		}
	}
	return ""
}

// isBidiControl reports whether r is one of the Unicode characters that
// change the direction of the text around them (Bidi_Control), which can
// make a name display as another.
func isBidiControl(r rune) bool {
	switch {
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}
