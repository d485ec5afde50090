package canonjson

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
)

// Kind is the kind of a JSON value.
type Kind uint8

// The kinds of JSON values.
const (
	Invalid Kind = iota
	Null
	Bool
	Number
	String
	Array
	Object
)

var kindNames = [...]string{"invalid value", "null", "boolean", "number", "string", "array", "object"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// TypeError reports a value of the wrong kind.
type TypeError struct {
	Offset int
	Want   Kind
	Got    Kind
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("want %s, found %s", e.Want, e.Got)
}

// A Reader decodes a canonical JSON document value by value. It is built for
// decoders that walk a known schema: call Object, Array or a scalar method
// for each value in document order. Reader checks the syntax of what it
// reads, but it relies on its input being canonical (as returned by
// Canonicalize) for member order and uniqueness.
type Reader struct {
	data  []byte
	pos   int
	value int        // offset of the value of the member NextMember returned last
	buf   []byte     // scratch space for unescaped strings
	hints []sizeHint // sorted by offset
}

// MemberOffsets returns, for the large object at the current position, the
// offset of each member's name in the Reader's input, in order (and so
// sorted by name, the input being canonical), or nil when the Reader does
// not know them. Only objects of many members read through NewDecoder or
// DecodeObject have them.
func (r *Reader) MemberOffsets() []int32 {
	i, ok := slices.BinarySearchFunc(r.hints, r.pos, func(h sizeHint, off int) int { return h.offset - off })
	if !ok {
		return nil
	}
	return r.hints[i].members
}

// Seek moves the Reader to offset off of its input.
func (r *Reader) Seek(off int) { r.pos = off }

// Name reads an object member's name and the colon after it, as found at
// an offset from MemberOffsets.
func (r *Reader) Name() ([]byte, error) {
	if r.Kind() != String {
		return nil, syntaxErr(r.pos, "want a quoted object member name")
	}
	name, err := r.stringBytes()
	if err != nil {
		return nil, err
	}
	if r.pos >= len(r.data) || r.data[r.pos] != ':' {
		return nil, syntaxErr(r.pos, "want ':' after object member name")
	}
	r.pos++
	return name, nil
}

// Data returns the whole canonical input of the Reader.
func (r *Reader) Data() []byte { return r.data }

// knownEnd returns the end of the container at the current position when
// a hint records it.
func (r *Reader) knownEnd() (int, bool) {
	i, ok := slices.BinarySearchFunc(r.hints, r.pos, func(h sizeHint, off int) int { return h.offset - off })
	if !ok || r.hints[i].end <= r.pos || r.hints[i].end > len(r.data) {
		return 0, false
	}
	return r.hints[i].end, true
}

// SizeHint returns the number of members or elements of the object or
// array at the current position when the Reader knows it (for large ones
// read through NewDecoder), and 0 otherwise.
func (r *Reader) SizeHint() int {
	i, ok := slices.BinarySearchFunc(r.hints, r.pos, func(h sizeHint, off int) int { return h.offset - off })
	if !ok {
		return 0
	}
	return r.hints[i].n
}

// NewReader returns a Reader of the canonical JSON in data.
func NewReader(canon []byte) *Reader { return &Reader{data: canon} }

// Offset returns the offset of the next value.
func (r *Reader) Offset() int { return r.pos }

// Kind reports the kind of the next value without consuming it.
func (r *Reader) Kind() Kind {
	if r.pos >= len(r.data) {
		return Invalid
	}
	switch c := r.data[r.pos]; {
	case c == '"':
		return String
	case c == '{':
		return Object
	case c == '[':
		return Array
	case c == '-' || (c >= '0' && c <= '9'):
		return Number
	case c == 't' || c == 'f':
		return Bool
	case c == 'n':
		return Null
	}
	return Invalid
}

func (r *Reader) want(k Kind) error {
	if got := r.Kind(); got != k {
		return &TypeError{Offset: r.pos, Want: k, Got: got}
	}
	return nil
}

// End reports an error unless the whole input has been read.
func (r *Reader) End() error {
	if r.pos != len(r.data) {
		return syntaxErr(r.pos, "unexpected data after value")
	}
	return nil
}

// Object reads an object, calling fn for each member with the member's
// unescaped name, which is valid only during the call. fn should read the
// member's value; a value it leaves unread is skipped.
func (r *Reader) Object(fn func(name []byte) error) error {
	if err := r.want(Object); err != nil {
		return err
	}
	r.pos++
	if r.pos < len(r.data) && r.data[r.pos] == '}' {
		r.pos++
		return nil
	}
	for {
		if r.Kind() != String {
			return syntaxErr(r.pos, "want a quoted object member name")
		}
		name, err := r.stringBytes()
		if err != nil {
			return err
		}
		if r.pos >= len(r.data) || r.data[r.pos] != ':' {
			return syntaxErr(r.pos, "want ':' after object member name")
		}
		r.pos++
		valueStart := r.pos
		if err := fn(name); err != nil {
			return err
		}
		if r.pos == valueStart {
			if _, err := r.Raw(); err != nil {
				return err
			}
		}
		if r.pos >= len(r.data) {
			return syntaxErr(r.pos, "unexpected end of input in object")
		}
		switch r.data[r.pos] {
		case ',':
			r.pos++
		case '}':
			r.pos++
			return nil
		default:
			return syntaxErr(r.pos, "want ',' or '}' in object")
		}
	}
}

// EnterObject starts reading an object member by member with NextMember,
// which, unlike Object, needs no callback (and so no allocation) per object.
func (r *Reader) EnterObject() error {
	if err := r.want(Object); err != nil {
		return err
	}
	r.pos++
	r.value = -1
	return nil
}

// NextMember returns the name of the next member of the object entered with
// EnterObject, or ok == false after its last member. The caller reads the
// member's value next; a value left unread is skipped. The name is valid
// until the next call.
func (r *Reader) NextMember() (name []byte, ok bool, err error) {
	if r.pos == r.value {
		if _, err := r.Raw(); err != nil {
			return nil, false, err
		}
	}
	if r.pos >= len(r.data) {
		return nil, false, syntaxErr(r.pos, "unexpected end of input in object")
	}
	switch r.data[r.pos] {
	case '}':
		r.pos++
		return nil, false, nil
	case ',':
		if r.data[r.pos-1] == '{' {
			return nil, false, syntaxErr(r.pos, "want a quoted object member name")
		}
		r.pos++
	default:
		if r.data[r.pos-1] != '{' {
			return nil, false, syntaxErr(r.pos, "want ',' or '}' in object")
		}
	}
	if r.Kind() != String {
		return nil, false, syntaxErr(r.pos, "want a quoted object member name")
	}
	name, err = r.stringBytes()
	if err != nil {
		return nil, false, err
	}
	if r.pos >= len(r.data) || r.data[r.pos] != ':' {
		return nil, false, syntaxErr(r.pos, "want ':' after object member name")
	}
	r.pos++
	r.value = r.pos
	return name, true, nil
}

// Array reads an array, calling fn once for each element. fn should read the
// element; an element it leaves unread is skipped.
func (r *Reader) Array(fn func() error) error {
	if err := r.want(Array); err != nil {
		return err
	}
	r.pos++
	if r.pos < len(r.data) && r.data[r.pos] == ']' {
		r.pos++
		return nil
	}
	for {
		valueStart := r.pos
		if err := fn(); err != nil {
			return err
		}
		if r.pos == valueStart {
			if _, err := r.Raw(); err != nil {
				return err
			}
		}
		if r.pos >= len(r.data) {
			return syntaxErr(r.pos, "unexpected end of input in array")
		}
		switch r.data[r.pos] {
		case ',':
			r.pos++
		case ']':
			r.pos++
			return nil
		default:
			return syntaxErr(r.pos, "want ',' or ']' in array")
		}
	}
}

// Bytes reads a string and returns its unescaped bytes. The result aliases
// the input or the Reader's scratch space: it is valid until the next call.
func (r *Reader) Bytes() ([]byte, error) {
	if err := r.want(String); err != nil {
		return nil, err
	}
	return r.stringBytes()
}

// String reads a string.
func (r *Reader) String() (string, error) {
	b, err := r.Bytes()
	return string(b), err
}

func (r *Reader) stringBytes() ([]byte, error) {
	d := r.data
	start := r.pos + 1
	if start > len(d) {
		return nil, syntaxErr(r.pos, "unterminated string")
	}
	end := bytes.IndexByte(d[start:], '"')
	if end < 0 {
		return nil, syntaxErr(r.pos, "unterminated string")
	}
	end += start
	if i := bytes.IndexByte(d[start:end], '\\'); i >= 0 {
		return r.unescape(start, start+i)
	}
	r.pos = end + 1
	return d[start:end], nil
}

// unescape handles a canonical string with escapes; d[i] is the first '\'.
func (r *Reader) unescape(start, i int) ([]byte, error) {
	d := r.data
	r.buf = append(r.buf[:0], d[start:i]...)
	for i < len(d) {
		switch c := d[i]; c {
		case '"':
			r.pos = i + 1
			return r.buf, nil
		case '\\':
			if i+1 >= len(d) || (d[i+1] != '"' && d[i+1] != '\\') {
				return nil, syntaxErr(i, "non-canonical escape in string")
			}
			r.buf = append(r.buf, d[i+1])
			i += 2
		default:
			r.buf = append(r.buf, c)
			i++
		}
	}
	return nil, syntaxErr(start-1, "unterminated string")
}

// Int reads an integer.
func (r *Reader) Int() (int64, error) {
	if err := r.want(Number); err != nil {
		return 0, err
	}
	d := r.data
	i := r.pos
	neg := d[i] == '-'
	if neg {
		i++
	}
	start := i
	var n uint64
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		if i-start >= 19 {
			return 0, syntaxErr(r.pos, "integer out of range")
		}
		n = n*10 + uint64(d[i]-'0')
		i++
	}
	if i == start || (d[start] == '0' && i-start > 1) {
		return 0, syntaxErr(r.pos, "invalid number")
	}
	if i < len(d) && (d[i] == '.' || d[i] == 'e' || d[i] == 'E') {
		return 0, syntaxErr(r.pos, "non-integer number")
	}
	if n > 1<<63-1 && !(neg && n == 1<<63) {
		return 0, syntaxErr(r.pos, "integer out of range")
	}
	r.pos = i
	if neg {
		return -int64(n), nil
	}
	return int64(n), nil
}

// Bool reads a boolean.
func (r *Reader) Bool() (bool, error) {
	if err := r.want(Bool); err != nil {
		return false, err
	}
	if lit, ok := r.literal("true"); ok {
		return lit, nil
	}
	if _, ok := r.literal("false"); ok {
		return false, nil
	}
	return false, syntaxErr(r.pos, "invalid literal")
}

func (r *Reader) literal(lit string) (bool, bool) {
	if len(r.data)-r.pos < len(lit) || string(r.data[r.pos:r.pos+len(lit)]) != lit {
		return false, false
	}
	r.pos += len(lit)
	return lit == "true", true
}

// Null reads a null.
func (r *Reader) Null() error {
	if err := r.want(Null); err != nil {
		return err
	}
	if _, ok := r.literal("null"); !ok {
		return syntaxErr(r.pos, "invalid literal")
	}
	return nil
}

// Raw reads the next value of any kind and returns its canonical bytes,
// which alias the input. A large object or array whose end the Reader
// knows (from the scan that found its input canonical, see DecodeObject)
// is not scanned again.
func (r *Reader) Raw() ([]byte, error) {
	end, ok := r.knownEnd()
	if !ok {
		end, ok = scanCanonical(r.data, r.pos, true)
	}
	if !ok {
		return nil, syntaxErr(r.pos, "malformed or non-canonical value")
	}
	v := r.data[r.pos:end:end]
	r.pos = end
	return v, nil
}
