// Package canonjson implements the canonical JSON form that TUF metadata is
// signed over: the OLPC canonical JSON dialect as the TUF specification uses it.
//
// In canonical form an object's members are sorted by the bytes of their
// names, there is no whitespace between tokens, numbers are integers written
// without leading zeros, and strings are written as their raw UTF-8 bytes
// with only the quotation mark and the reverse solidus escaped.
//
// The package has three parts:
//
//   - [Canonicalize] turns any JSON value into its canonical form. When its
//     input is already canonical it returns the input itself, without copying,
//     which makes checking metadata written by a canonical encoder nearly free.
//   - [Reader] decodes canonical bytes token by token, so that callers build
//     their data model in one pass without reflection.
//   - [Writer] encodes canonical bytes.
//
// Input is treated as hostile: nesting depth, number range and UTF-8 validity
// are checked, duplicate object names are rejected, and no input makes the
// package panic.
package canonjson

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
)

// MaxDepth is the deepest nesting of arrays and objects accepted.
const MaxDepth = 128

// SyntaxError reports malformed or non-canonicalizable JSON.
type SyntaxError struct {
	Offset int    // byte offset in the input where the problem was found
	Msg    string // what was wrong
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("json: %s at offset %d", e.Msg, e.Offset)
}

func syntaxErr(off int, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// Canonicalize returns the canonical form of the single JSON value in data.
// Leading and trailing whitespace is allowed; anything else after the value
// is an error. If data is already canonical, the returned slice is data
// itself (trimmed of surrounding whitespace), so the caller must not modify
// data while it uses the result.
func Canonicalize(data []byte) ([]byte, error) {
	start := skipSpace(data, 0)
	canon, end, err := CanonicalizeValue(data, start)
	if err != nil {
		return nil, err
	}
	if end = skipSpace(data, end); end != len(data) {
		return nil, syntaxErr(end, "unexpected data after top-level value")
	}
	return canon, nil
}

// CanonicalizeValue canonicalizes the JSON value that starts at data[start]
// and returns its canonical form and the offset just past the value. As with
// Canonicalize, canonical input is returned without copying.
func CanonicalizeValue(data []byte, start int) (canon []byte, end int, err error) {
	if end, ok := scanCanonical(data, start, false); ok {
		return data[start:end:end], end, nil
	}
	b := builder{in: data, pos: start, out: make([]byte, 0, estimateSize(data, start))}
	if err := b.value(0); err != nil {
		return nil, 0, err
	}
	return b.out, b.pos, nil
}

// estimateSize returns the size of the buffer for the canonical form of the
// value at data[start:]: the length of the value's text. The canonical form
// is never longer than its input, as every rewrite (dropping whitespace,
// decoding escapes, normalizing -0) only shortens it, so one allocation
// always suffices. The value's end is found by a quick structural skip that
// does not validate; the builder validates.
func estimateSize(data []byte, start int) int {
	depth := 0
	for i := start; i < len(data); i++ {
		switch data[i] {
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
			if depth == 0 {
				return min(i+1, len(data)) - start
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth <= 0 {
				return i + 1 - start
			}
		case ',':
			if depth == 0 {
				return i - start
			}
		}
	}
	return len(data) - start
}

// NewDecoder canonicalizes the single JSON value in data, as Canonicalize
// does, and returns a Reader of the canonical form. The Reader knows the
// sizes of the large objects and arrays seen while canonicalizing (see
// Reader.SizeHint), so that decoding does not scan the input again.
func NewDecoder(data []byte) (*Reader, error) {
	if len(data) > 1<<31-1 {
		return nil, syntaxErr(0, "input of %d bytes is too large", len(data))
	}
	r, end, err := decodeValue(data, skipSpace(data, 0))
	if err != nil {
		return nil, err
	}
	if end = skipSpace(data, end); end != len(data) {
		return nil, syntaxErr(end, "unexpected data after top-level value")
	}
	return r, nil
}

// decodeValue canonicalizes the value at data[start] and returns a hinted
// Reader of its canonical form and the offset after the value.
func decodeValue(data []byte, start int) (*Reader, int, error) {
	var hints []sizeHint
	var canon []byte
	end, ok := scanCanonicalHinted(data, start, &hints)
	if ok {
		canon = data[start:end:end]
		for i := range hints {
			hints[i].offset -= start
			hints[i].end -= start
			for j := range hints[i].members {
				hints[i].members[j] -= int32(start)
			}
		}
	} else {
		b := builder{in: data, pos: start, out: make([]byte, 0, estimateSize(data, start))}
		if err := b.value(0); err != nil {
			return nil, 0, err
		}
		canon, end, hints = b.out, b.pos, b.hints
	}
	slices.SortFunc(hints, func(a, b sizeHint) int { return a.offset - b.offset })
	return &Reader{data: canon, hints: hints}, end, nil
}

// DecodeObject reads the JSON object in data member by member, calling fn
// with each member's name and a Reader of the canonical form of its value.
// Unlike NewDecoder it canonicalizes each value on its own, so the members
// of the outer object may come in any order at no cost. Duplicate names are
// an error.
func DecodeObject(data []byte, fn func(name []byte, value *Reader) error) error {
	if len(data) > 1<<31-1 {
		return syntaxErr(0, "input of %d bytes is too large", len(data))
	}
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return syntaxErr(i, "want an object")
	}
	i = skipSpace(data, i+1)
	var names [][]byte
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			if i >= len(data) || data[i] != '"' {
				return syntaxErr(i, "want a quoted object member name")
			}
			name, end, err := unquote(data, i)
			if err != nil {
				return err
			}
			for _, n := range names {
				if string(n) == string(name) {
					return syntaxErr(i, "duplicate object member %q", name)
				}
			}
			names = append(names, name)
			i = skipSpace(data, end)
			if i >= len(data) || data[i] != ':' {
				return syntaxErr(i, "want ':' after object member name")
			}
			i = skipSpace(data, i+1)
			r, end, err := decodeValue(data, i)
			if err != nil {
				return err
			}
			if err := fn(name, r); err != nil {
				return err
			}
			i = skipSpace(data, end)
			if i >= len(data) {
				return syntaxErr(i, "unexpected end of input in object")
			}
			if data[i] == '}' {
				i++
				break
			}
			if data[i] != ',' {
				return syntaxErr(i, "want ',' or '}' in object")
			}
			i = skipSpace(data, i+1)
		}
	}
	if i = skipSpace(data, i); i != len(data) {
		return syntaxErr(i, "unexpected data after top-level value")
	}
	return nil
}

func scanCanonicalHinted(data []byte, start int, hints *[]sizeHint) (int, bool) {
	s := scanner{data: data, hints: hints}
	if !s.value(start, 0) {
		return 0, false
	}
	return s.pos, true
}

// Marshal returns the canonical JSON encoding of v, which is first encoded
// with encoding/json. Floating-point values that are not integers are an
// error, as canonical JSON has only integers.
func Marshal(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return Canonicalize(raw)
}

// ToJSON converts canonical bytes to standard JSON that any JSON parser
// accepts: control characters inside strings, which canonical form writes
// raw, are escaped. Canonical input without control characters is returned
// unchanged.
func ToJSON(canon []byte) []byte {
	i := 0
	// Eight bytes at a time while none is below 0x20.
	for i+8 <= len(canon) && (binary.LittleEndian.Uint64(canon[i:])-0x20*ones)&^binary.LittleEndian.Uint64(canon[i:])&highs == 0 {
		i += 8
	}
	for i < len(canon) && canon[i] >= 0x20 {
		i++
	}
	if i == len(canon) {
		return canon
	}
	out := make([]byte, 0, len(canon)+16)
	out = append(out, canon[:i]...)
	for ; i < len(canon); i++ {
		c := canon[i]
		if c >= 0x20 {
			out = append(out, c)
			continue
		}
		// Bytes below 0x20 only occur inside strings in canonical form.
		out = append(out, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
	}
	return out
}

// Unmarshal decodes canonical bytes into v with encoding/json.
func Unmarshal(canon []byte, v any) error {
	return json.Unmarshal(ToJSON(canon), v)
}

const hexDigits = "0123456789abcdef"

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// SplitEnvelope cheaply finds the members of a canonical TUF envelope,
// {"signatures":[...],"signed":{...}}, without reading "signed": it checks
// the prefix and the "signatures" value only. ok is false when data does
// not have that exact form; the spans are then meaningless. signed is the
// rest of data up to its closing brace, which is the canonical "signed"
// value only if the whole input turns out canonical: callers must confirm
// that by canonicalizing data in full.
func SplitEnvelope(data []byte) (signatures, signed []byte, ok bool) {
	const head, mid = `{"signatures":`, `,"signed":`
	if len(data) < len(head)+len(mid)+2 || string(data[:len(head)]) != head || data[len(data)-1] != '}' {
		return nil, nil, false
	}
	end, ok := scanCanonical(data, len(head), false)
	if !ok || data[len(head)] != '[' || len(data)-end < len(mid)+2 || string(data[end:end+len(mid)]) != mid {
		return nil, nil, false
	}
	return data[len(head):end], data[end+len(mid) : len(data)-1], true
}
