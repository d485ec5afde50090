package canonjson

import (
	"bytes"
	"encoding/binary"
	"slices"
	"unicode/utf8"
)

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// hasZero reports whether any byte of x is zero.
func hasZero(x uint64) bool { return (x-ones)&^x&highs != 0 }

// special8 reports whether any of the eight bytes in x needs a closer look
// inside a string: a quote, a backslash, a control character or a byte of a
// multi-byte UTF-8 sequence.
func special8(x uint64) bool {
	return x&highs != 0 || // non-ASCII
		(x-0x20*ones)&^x&highs != 0 || // a byte below 0x20
		hasZero(x^('"'*ones)) || hasZero(x^('\\'*ones))
}

// scanCanonical reports whether the value starting at data[start] is valid
// JSON already in canonical form, and where it ends. It never allocates. Any
// irregularity, valid JSON or not, makes it report false; the builder then
// produces the canonical form or a precise error.
//
// Canonical form writes control characters inside strings raw, which JSON
// does not allow. rawControl says the input is known to be canonical, as
// when a Reader skips a value: then raw control characters are accepted and
// member order is not checked again.
func scanCanonical(data []byte, start int, rawControl bool) (end int, ok bool) {
	s := scanner{data: data, rawControl: rawControl}
	if !s.value(start, 0) {
		return 0, false
	}
	return s.pos, true
}

type scanner struct {
	data       []byte
	pos        int
	rawControl bool
	hints      *[]sizeHint // where to record the sizes of large containers, or nil
	offs       []int32     // stack of member offsets of the objects being scanned
}

// sizeHint records the number of members or elements of a large object or
// array, so that decoders can allocate for it once.
type sizeHint struct {
	offset, n int
	members   []int32 // for objects of at least minIndex members: where each member starts
	// end is the offset after the container when the scanner found it in
	// input that was canonical as it came, so that a Reader skips it
	// without scanning it again (Raw); 0 when not known.
	end int
}

// minIndex is the smallest object whose member offsets are recorded, so
// that a member can be found by binary search (members are sorted).
const minIndex = 1024

// minHint is the smallest container size worth a hint.
const minHint = 64

// hint records the container at offset, of n members or elements, which
// ends at s.pos.
func (s *scanner) hint(offset, n int) {
	if s.hints != nil && n >= minHint {
		*s.hints = append(*s.hints, sizeHint{offset: offset, n: n, end: s.pos})
	}
}

func (s *scanner) value(i, depth int) bool {
	if i >= len(s.data) {
		return false
	}
	switch c := s.data[i]; {
	case c == '"':
		end, ok := s.str(i)
		s.pos = end
		return ok
	case c == '{':
		return s.object(i, depth+1)
	case c == '[':
		return s.array(i, depth+1)
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number(i)
	case c == 't':
		return s.literal(i, "true")
	case c == 'f':
		return s.literal(i, "false")
	case c == 'n':
		return s.literal(i, "null")
	}
	return false
}

func (s *scanner) literal(i int, lit string) bool {
	if len(s.data)-i < len(lit) || string(s.data[i:i+len(lit)]) != lit {
		return false
	}
	s.pos = i + len(lit)
	return true
}

func (s *scanner) number(i int) bool {
	d := s.data
	limit := "9223372036854775807"
	if d[i] == '-' {
		limit = "9223372036854775808"
		i++
		if i >= len(d) || d[i] < '1' || d[i] > '9' { // "-0" is not canonical
			return false
		}
	}
	if i < len(d) && d[i] == '0' {
		i++
	} else {
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j || i-j > len(limit) || (i-j == len(limit) && string(d[j:i]) > limit) {
			return false // not a number, or out of the int64 range
		}
	}
	if i < len(d) && (d[i] == '.' || d[i] == 'e' || d[i] == 'E' || (d[i] >= '0' && d[i] <= '9')) {
		return false
	}
	s.pos = i
	return true
}

// str scans the string at data[i] (the opening quote) and returns the offset
// after the closing quote.
func (s *scanner) str(i int) (int, bool) {
	d := s.data
	i++
	for i < len(d) {
		// Skip eight plain ASCII bytes at a time.
		for i+8 <= len(d) && !special8(binary.LittleEndian.Uint64(d[i:])) {
			i += 8
		}
		if i >= len(d) {
			break
		}
		c := d[i]
		switch {
		case c == '"':
			return i + 1, true
		case c == '\\':
			if i+1 >= len(d) || (d[i+1] != '"' && d[i+1] != '\\') {
				return 0, false
			}
			i += 2
		case c < 0x20:
			if !s.rawControl {
				return 0, false
			}
			i++
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && n <= 1 {
				return 0, false
			}
			i += n
		}
	}
	return 0, false
}

func (s *scanner) object(i, depth int) bool {
	if depth > MaxDepth {
		return false
	}
	d := s.data
	i++ // '{'
	if i < len(d) && d[i] == '}' {
		s.pos = i + 1
		return true
	}
	var prev []byte
	start := i - 1
	base := len(s.offs)
	defer func() { s.offs = s.offs[:base] }()
	for n, first := 1, true; ; n, first = n+1, false {
		if i >= len(d) || d[i] != '"' {
			return false
		}
		if s.hints != nil {
			s.offs = append(s.offs, int32(i))
		}
		end, ok := s.str(i)
		if !ok {
			return false
		}
		key := d[i+1 : end-1]
		if s.rawControl {
			// Skipping input known to be canonical: member order was checked
			// when it was made.
		} else if bytes.IndexByte(key, '\\') >= 0 {
			return false // escaped names sort by their unescaped bytes: leave it to the builder
		} else if !first && bytes.Compare(prev, key) >= 0 {
			return false
		}
		prev = key
		if end >= len(d) || d[end] != ':' {
			return false
		}
		if !s.value(end+1, depth) {
			return false
		}
		i = s.pos
		if i >= len(d) {
			return false
		}
		if d[i] == '}' {
			s.pos = i + 1
			if s.hints != nil && n >= minIndex {
				*s.hints = append(*s.hints, sizeHint{offset: start, n: n, members: slices.Clone(s.offs[base:]), end: s.pos})
			} else {
				s.hint(start, n)
			}
			return true
		}
		if d[i] != ',' {
			return false
		}
		i++
	}
}

func (s *scanner) array(i, depth int) bool {
	if depth > MaxDepth {
		return false
	}
	d := s.data
	i++ // '['
	if i < len(d) && d[i] == ']' {
		s.pos = i + 1
		return true
	}
	start := i - 1
	for n := 1; ; n++ {
		if !s.value(i, depth) {
			return false
		}
		i = s.pos
		if i >= len(d) {
			return false
		}
		if d[i] == ']' {
			s.pos = i + 1
			s.hint(start, n)
			return true
		}
		if d[i] != ',' {
			return false
		}
		i++
	}
}
