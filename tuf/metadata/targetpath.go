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
	if plainPath(p) {
		return ""
	}
	return pathProblem(p)
}

// pathProblem is targetPathProblem for a path that is not plain.
func pathProblem(p string) string {
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

// plainPath reports, in one pass over the bytes, whether p is a
// relative path of printable ASCII without backslashes, empty, "." or ".."
// segments: the target paths of most repositories, which need none of the
// closer checks of targetPathProblem. A path it does not call plain may
// still be valid.
func plainPath(p string) bool {
	seg := 0 // start of the current segment
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			if c := p[i]; c < 0x20 || c >= 0x7f || c == '\\' {
				return false
			}
			continue
		}
		switch p[seg:i] {
		case "", ".", "..":
			return false
		}
		seg = i + 1
	}
	return true
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
