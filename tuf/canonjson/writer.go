package canonjson

import (
	"bytes"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A Writer appends canonical JSON to a buffer. The caller is responsible for
// writing object members in name order (Fields helps merge members a decoder
// did not know with those it did); Writer inserts the separators.
type Writer struct {
	buf   []byte
	first []bool // for each open object or array: no element written yet
	key   bool   // a member name was just written
	// unchecked is set once the writer wrote something whose canonical
	// form it cannot vouch for: a raw value or fields given by the
	// caller, or a string that is not valid UTF-8.
	unchecked bool
}

// Unchecked reports whether the output holds anything the Writer did not
// write itself from typed values: fields (Fields, FieldsRest), raw values
// that are not plainly canonical (such as values with raw control
// characters, which canonical form allows), or strings that are not valid
// UTF-8. When it reports false, the output is
// canonical as long as the caller wrote members in name order and without
// repeating a name; when it reports true, a caller that must be sure
// checks the output with Canonicalize.
func (w *Writer) Unchecked() bool { return w.unchecked }

// NewWriter returns a Writer whose buffer starts with capacity size.
func NewWriter(size int) *Writer { return &Writer{buf: make([]byte, 0, size)} }

// AppendWriter returns a Writer that appends to buf: what it writes
// follows buf's bytes, which it leaves as they are (Bytes returns them
// too).
func AppendWriter(buf []byte) *Writer { return &Writer{buf: buf} }

// Bytes returns the bytes written so far.
func (w *Writer) Bytes() []byte { return w.buf }

// Len returns the number of bytes written so far.
func (w *Writer) Len() int { return len(w.buf) }

// sep writes the separator that precedes a value.
func (w *Writer) sep() {
	if w.key {
		w.key = false
		return
	}
	if n := len(w.first); n > 0 {
		if w.first[n-1] {
			w.first[n-1] = false
		} else {
			w.buf = append(w.buf, ',')
		}
	}
}

// BeginObject starts an object.
func (w *Writer) BeginObject() {
	w.sep()
	w.buf = append(w.buf, '{')
	w.first = append(w.first, true)
}

// EndObject ends an object.
func (w *Writer) EndObject() {
	w.first = w.first[:len(w.first)-1]
	w.buf = append(w.buf, '}')
}

// BeginArray starts an array.
func (w *Writer) BeginArray() {
	w.sep()
	w.buf = append(w.buf, '[')
	w.first = append(w.first, true)
}

// EndArray ends an array.
func (w *Writer) EndArray() {
	w.first = w.first[:len(w.first)-1]
	w.buf = append(w.buf, ']')
}

// Name writes an object member name; the member's value comes next.
func (w *Writer) Name(name string) {
	w.sep()
	w.appendString(name)
	w.buf = append(w.buf, ':')
	w.key = true
}

// String writes a string.
func (w *Writer) String(s string) {
	w.sep()
	w.appendString(s)
}

// Int writes an integer.
func (w *Writer) Int(n int64) {
	w.sep()
	w.buf = strconv.AppendInt(w.buf, n, 10)
}

// Bool writes a boolean.
func (w *Writer) Bool(b bool) {
	w.sep()
	w.buf = strconv.AppendBool(w.buf, b)
}

// Null writes null.
func (w *Writer) Null() {
	w.sep()
	w.buf = append(w.buf, "null"...)
}

// Hex writes b as a lowercase hexadecimal string.
func (w *Writer) Hex(b []byte) {
	w.sep()
	w.buf = append(w.buf, '"')
	w.buf = hex.AppendEncode(w.buf, b)
	w.buf = append(w.buf, '"')
}

// Raw writes a value that is already canonical JSON.
func (w *Writer) Raw(canon []byte) {
	w.sep()
	if !w.unchecked {
		if end, ok := scanCanonical(canon, 0, false); !ok || end != len(canon) {
			w.unchecked = true
		}
	}
	w.buf = append(w.buf, canon...)
}

// RawCanonical writes a value the caller knows to be canonical, such as
// bytes a Reader returned or that an earlier encoding produced; Unchecked
// does not look at it.
func (w *Writer) RawCanonical(canon []byte) {
	w.sep()
	w.buf = append(w.buf, canon...)
}

// Fields writes the members of f whose names sort before name, starting at
// index i, and returns the index of the first member not written. Encoders
// call it before each known member and then FieldsRest, so that members they
// do not know keep their place in name order.
func (w *Writer) Fields(f Fields, i int, name string) int {
	for ; i < len(f) && f[i].Name < name; i++ {
		w.unchecked = true
		w.Name(f[i].Name)
		w.Raw(f[i].Value)
	}
	return i
}

// FieldsRest writes the members of f from index i on.
func (w *Writer) FieldsRest(f Fields, i int) {
	for ; i < len(f); i++ {
		w.unchecked = true
		w.Name(f[i].Name)
		w.Raw(f[i].Value)
	}
}

// appendString writes s as a JSON string, escaping only '"' and '\\' as
// canonical form does, and notes a string that is not valid UTF-8.
func (w *Writer) appendString(s string) {
	out := append(w.buf, '"')
	ascii := true
	last := 0
	for i := 0; i < len(s); i++ {
		// Skip eight plain ASCII bytes at a time.
		for i+8 <= len(s) && !special8(load64(s, i)) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		switch c := s[i]; {
		case c == '"' || c == '\\':
			out = append(out, s[last:i]...)
			out = append(out, '\\', c)
			last = i + 1
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	out = append(out, s[last:]...)
	w.buf = append(out, '"')
	if !ascii && !utf8.ValidString(s) {
		w.unchecked = true
	}
}

// load64 returns the eight bytes of s from i, little-endian (one load).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// Field is an object member kept as canonical bytes.
type Field struct {
	Name  string
	Value []byte // canonical JSON
}

// Fields is a set of object members sorted by name. Decoders keep the
// members they do not know in a Fields, so that they are written back
// unchanged.
type Fields []Field

// Get returns the canonical value of the member name, or nil.
func (f Fields) Get(name string) []byte {
	i, ok := slices.BinarySearchFunc(f, name, func(x Field, n string) int { return strings.Compare(x.Name, n) })
	if !ok {
		return nil
	}
	return f[i].Value
}

// Set canonicalizes value and sets the member name to it, keeping the set
// sorted. The value is copied.
func (f *Fields) Set(name string, value []byte) error {
	canon, err := Canonicalize(value)
	if err != nil {
		return err
	}
	canon = bytes.Clone(canon)
	i, ok := slices.BinarySearchFunc(*f, name, func(x Field, n string) int { return strings.Compare(x.Name, n) })
	if ok {
		(*f)[i].Value = canon
		return nil
	}
	*f = slices.Insert(*f, i, Field{Name: name, Value: canon})
	return nil
}

// Delete removes the member name.
func (f *Fields) Delete(name string) {
	i, ok := slices.BinarySearchFunc(*f, name, func(x Field, n string) int { return strings.Compare(x.Name, n) })
	if ok {
		*f = slices.Delete(*f, i, i+1)
	}
}

// Clone returns a deep copy of f.
func (f Fields) Clone() Fields {
	if f == nil {
		return nil
	}
	c := make(Fields, len(f))
	for i, x := range f {
		c[i] = Field{Name: x.Name, Value: bytes.Clone(x.Value)}
	}
	return c
}

// Add appends a member read by a decoder, which reads members in name order.
// The value is copied so that the Fields does not keep the input alive.
func (f *Fields) Add(name string, canon []byte) {
	*f = append(*f, Field{Name: name, Value: bytes.Clone(canon)})
}
