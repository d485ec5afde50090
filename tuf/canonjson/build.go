package canonjson

import (
	"bytes"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// builder parses arbitrary JSON and appends its canonical form to out.
type builder struct {
	in    []byte
	pos   int
	out   []byte
	hints []sizeHint
}

// member is one object member written to out[start:end] as "name":value.
type member struct {
	name       []byte // unescaped name
	start, end int
	offset     int // where the object starts in the input, for errors
}

func (b *builder) skipSpace() { b.pos = skipSpace(b.in, b.pos) }

func (b *builder) value(depth int) error {
	b.skipSpace()
	if b.pos >= len(b.in) {
		return syntaxErr(b.pos, "unexpected end of input, want a value")
	}
	switch c := b.in[b.pos]; {
	case c == '"':
		s, err := b.parseString()
		if err != nil {
			return err
		}
		b.out = appendString(b.out, s)
		return nil
	case c == '{':
		return b.object(depth + 1)
	case c == '[':
		return b.array(depth + 1)
	case c == '-' || (c >= '0' && c <= '9'):
		return b.number()
	case c == 't':
		return b.literal("true")
	case c == 'f':
		return b.literal("false")
	case c == 'n':
		return b.literal("null")
	default:
		return syntaxErr(b.pos, "invalid character %q looking for a value", c)
	}
}

func (b *builder) literal(lit string) error {
	if len(b.in)-b.pos < len(lit) || string(b.in[b.pos:b.pos+len(lit)]) != lit {
		return syntaxErr(b.pos, "invalid literal, want %s", lit)
	}
	b.pos += len(lit)
	b.out = append(b.out, lit...)
	return nil
}

func (b *builder) number() error {
	start := b.pos
	d := b.in
	i := b.pos
	if d[i] == '-' {
		i++
	}
	digits := i
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	if i == digits {
		return syntaxErr(start, "invalid number")
	}
	if d[digits] == '0' && i-digits > 1 {
		return syntaxErr(start, "invalid number %q: leading zero", d[start:i])
	}
	if i < len(d) && (d[i] == '.' || d[i] == 'e' || d[i] == 'E') {
		return syntaxErr(start, "non-integer number: canonical JSON allows integers only")
	}
	n, err := strconv.ParseInt(string(d[start:i]), 10, 64)
	if err != nil {
		return syntaxErr(start, "integer %s out of range", d[start:i])
	}
	b.pos = i
	b.out = strconv.AppendInt(b.out, n, 10)
	return nil
}

// parseString parses the string at b.in[b.pos] and returns its unescaped
// bytes: a subslice of the input when it has no escapes.
func (b *builder) parseString() ([]byte, error) {
	s, end, err := unquote(b.in, b.pos)
	if err != nil {
		return nil, err
	}
	b.pos = end
	return s, nil
}

// unquote decodes the JSON string that starts with the quote at d[i]. It
// returns the unescaped bytes and the offset after the closing quote.
func unquote(d []byte, i int) ([]byte, int, error) {
	start := i
	i++
	// Fast path: no escapes.
	for i < len(d) {
		c := d[i]
		if c == '"' {
			return d[start+1 : i], i + 1, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return nil, 0, syntaxErr(i, "control character 0x%02x in string", c)
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(d[i:])
		if r == utf8.RuneError && n <= 1 {
			return nil, 0, syntaxErr(i, "invalid UTF-8 in string")
		}
		i += n
	}
	if i >= len(d) {
		return nil, 0, syntaxErr(start, "unterminated string")
	}
	out := make([]byte, 0, i-start+16)
	out = append(out, d[start+1:i]...)
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			return out, i + 1, nil
		case c == '\\':
			if i+1 >= len(d) {
				return nil, 0, syntaxErr(i, "unterminated escape")
			}
			switch e := d[i+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
				i += 2
			case 'b':
				out = append(out, '\b')
				i += 2
			case 'f':
				out = append(out, '\f')
				i += 2
			case 'n':
				out = append(out, '\n')
				i += 2
			case 'r':
				out = append(out, '\r')
				i += 2
			case 't':
				out = append(out, '\t')
				i += 2
			case 'u':
				r, n, err := unicodeEscape(d, i)
				if err != nil {
					return nil, 0, err
				}
				out = utf8.AppendRune(out, r)
				i += n
			default:
				return nil, 0, syntaxErr(i, "invalid escape \\%c", e)
			}
		case c < 0x20:
			return nil, 0, syntaxErr(i, "control character 0x%02x in string", c)
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, n := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && n <= 1 {
				return nil, 0, syntaxErr(i, "invalid UTF-8 in string")
			}
			out = append(out, d[i:i+n]...)
			i += n
		}
	}
	return nil, 0, syntaxErr(start, "unterminated string")
}

// unicodeEscape decodes \uXXXX (and a following low surrogate) at d[i].
func unicodeEscape(d []byte, i int) (rune, int, error) {
	r1, ok := hex4(d, i+2)
	if !ok {
		return 0, 0, syntaxErr(i, "invalid \\u escape")
	}
	if !utf16.IsSurrogate(r1) {
		return r1, 6, nil
	}
	if r1 < 0xdc00 && i+12 <= len(d) && d[i+6] == '\\' && d[i+7] == 'u' {
		if r2, ok := hex4(d, i+8); ok {
			if r := utf16.DecodeRune(r1, r2); r != utf8.RuneError {
				return r, 12, nil
			}
		}
	}
	return 0, 0, syntaxErr(i, "unpaired UTF-16 surrogate in \\u escape")
}

func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, c := range d[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendString appends s as a canonical JSON string.
func appendString(out, s []byte) []byte {
	out = append(out, '"')
	for {
		i := bytes.IndexAny(s, `"\`)
		if i < 0 {
			break
		}
		out = append(out, s[:i]...)
		out = append(out, '\\', s[i])
		s = s[i+1:]
	}
	out = append(out, s...)
	return append(out, '"')
}

func (b *builder) object(depth int) error {
	if depth > MaxDepth {
		return syntaxErr(b.pos, "nesting deeper than %d", MaxDepth)
	}
	inStart := b.pos
	b.pos++ // '{'
	objStart := len(b.out)
	b.out = append(b.out, '{')
	b.skipSpace()
	if b.pos < len(b.in) && b.in[b.pos] == '}' {
		b.pos++
		b.out = append(b.out, '}')
		return nil
	}
	// While the members come in order, only the previous name is kept; the
	// first member out of order makes the object be re-read and sorted at
	// its end.
	var prev []byte
	sorted := true
	n := 0
	for {
		b.skipSpace()
		if b.pos >= len(b.in) || b.in[b.pos] != '"' {
			return syntaxErr(b.pos, "want a quoted object member name")
		}
		offset := b.pos
		name, err := b.parseString()
		if err != nil {
			return err
		}
		if sorted && n > 0 {
			switch c := bytes.Compare(prev, name); {
			case c == 0:
				return syntaxErr(offset, "duplicate object member %q", name)
			case c > 0:
				sorted = false
			}
		}
		prev = name
		n++
		b.skipSpace()
		if b.pos >= len(b.in) || b.in[b.pos] != ':' {
			return syntaxErr(b.pos, "want ':' after object member name")
		}
		b.pos++
		if n > 1 {
			b.out = append(b.out, ',')
		}
		b.out = appendString(b.out, name)
		b.out = append(b.out, ':')
		if err := b.value(depth); err != nil {
			return err
		}
		b.skipSpace()
		if b.pos >= len(b.in) {
			return syntaxErr(b.pos, "unexpected end of input in object")
		}
		if b.in[b.pos] == ',' {
			b.pos++
			continue
		}
		if b.in[b.pos] != '}' {
			return syntaxErr(b.pos, "want ',' or '}' in object")
		}
		b.pos++
		break
	}
	if !sorted {
		if err := b.sortObject(objStart, inStart); err != nil {
			return err
		}
	}
	b.out = append(b.out, '}')
	if n >= minHint {
		b.hints = append(b.hints, sizeHint{offset: objStart, n: n})
	}
	return nil
}

// sortObject sorts the members of the object written to out from objStart
// (its '{') to the end of out, which is canonical but for member order.
// inStart is where the object starts in the input, for errors.
func (b *builder) sortObject(objStart, inStart int) error {
	r := Reader{data: b.out[:len(b.out):len(b.out)], pos: objStart + 1}
	var ms []member
	for {
		start := r.pos
		name, err := r.stringBytes()
		if err != nil {
			return err
		}
		name = bytes.Clone(name)
		r.pos++ // ':'
		if _, err := r.Raw(); err != nil {
			return err
		}
		ms = append(ms, member{name: name, start: start, end: r.pos, offset: inStart})
		if r.pos >= len(r.data) {
			break
		}
		r.pos++ // ','
	}
	return b.sortMembers(ms)
}

// sortMembers rewrites the members just written to out in name order and
// rejects duplicate names.
func (b *builder) sortMembers(ms []member) error {
	sorted := true
	for i := 1; i < len(ms); i++ {
		switch c := bytes.Compare(ms[i-1].name, ms[i].name); {
		case c == 0:
			return syntaxErr(ms[i].offset, "duplicate object member %q", ms[i].name)
		case c > 0:
			sorted = false
		}
	}
	if sorted {
		return nil
	}
	ordered := slices.Clone(ms)
	slices.SortStableFunc(ordered, func(x, y member) int { return bytes.Compare(x.name, y.name) })
	for i := 1; i < len(ordered); i++ {
		if bytes.Equal(ordered[i-1].name, ordered[i].name) {
			return syntaxErr(ordered[i].offset, "duplicate object member %q in the object", ordered[i].name)
		}
	}
	base := ms[0].start
	tmp := slices.Clone(b.out[base:])
	b.out = b.out[:base]
	newStart := make(map[int]int, len(ordered)) // old start of a member -> new start
	for i, m := range ordered {
		if i > 0 {
			b.out = append(b.out, ',')
		}
		newStart[m.start] = len(b.out)
		b.out = append(b.out, tmp[m.start-base:m.end-base]...)
	}
	// Size hints inside a member move with it. ms is in input order, so
	// sorted by start.
	for j := range b.hints {
		h := &b.hints[j]
		if h.offset < base {
			continue
		}
		k, _ := slices.BinarySearchFunc(ms, h.offset, func(m member, off int) int { return m.start - off })
		if k == len(ms) || ms[k].start > h.offset {
			k--
		}
		h.offset += newStart[ms[k].start] - ms[k].start
	}
	return nil
}

func (b *builder) array(depth int) error {
	if depth > MaxDepth {
		return syntaxErr(b.pos, "nesting deeper than %d", MaxDepth)
	}
	b.pos++ // '['
	arrStart := len(b.out)
	b.out = append(b.out, '[')
	b.skipSpace()
	if b.pos < len(b.in) && b.in[b.pos] == ']' {
		b.pos++
		b.out = append(b.out, ']')
		return nil
	}
	for n := 1; ; n++ {
		if err := b.value(depth); err != nil {
			return err
		}
		b.skipSpace()
		if b.pos >= len(b.in) {
			return syntaxErr(b.pos, "unexpected end of input in array")
		}
		if b.in[b.pos] == ',' {
			b.pos++
			b.out = append(b.out, ',')
			continue
		}
		if b.in[b.pos] != ']' {
			return syntaxErr(b.pos, "want ',' or ']' in array")
		}
		b.pos++
		b.out = append(b.out, ']')
		if n >= minHint {
			b.hints = append(b.hints, sizeHint{offset: arrStart, n: n})
		}
		return nil
	}
}
