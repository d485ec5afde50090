package canonjson

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCanonicalize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"sorted members", `{"b":1,"a":2}`, `{"a":2,"b":1}`},
		{"whitespace", " {\n \"a\" : [ 1 , 2 ] ,\t\"b\":{ } }\r\n", `{"a":[1,2],"b":{}}`},
		{"nested sort", `{"z":{"y":1,"x":[{"d":0,"c":-5}]},"a":null}`, `{"a":null,"z":{"x":[{"c":-5,"d":0}],"y":1}}`},
		{"escapes decoded", `"\u003c\u0026\u003e\/\n\t\u00e9"`, "\"<&>/\n\t\u00e9\""},
		{"quote and backslash escaped", `"a\"b\\c"`, `"a\"b\\c"`},
		{"surrogate pair", `"\ud83d\ude00"`, "\"\U0001F600\""},
		{"raw utf8", `"héllo"`, `"héllo"`},
		{"negative zero", `-0`, `0`},
		{"literals", `[true,false,null]`, `[true,false,null]`},
		{"empty containers", `[{},[],""]`, `[{},[],""]`},
		{"byte order of names", `{"é":1,"z":2,"Z":3,"_type":4}`, `{"Z":3,"_type":4,"z":2,"é":1}`},
		{"escaped names sort unescaped", `{"b":1,"\u0061":2}`, `{"a":2,"b":1}`},
		{"big ints", `[9223372036854775807,-9223372036854775808]`, `[9223372036854775807,-9223372036854775808]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonicalize([]byte(tt.in))
			if err != nil {
				t.Fatalf("Canonicalize(%q): %v", tt.in, err)
			}
			if string(got) != tt.want {
				t.Fatalf("Canonicalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if hasControl(got) {
				return // canonical form with raw control characters is not JSON
			}
			again, err := Canonicalize(got)
			if err != nil || !bytes.Equal(again, got) {
				t.Fatalf("not idempotent: %q -> %q, %v", got, again, err)
			}
		})
	}
}

func TestCanonicalInputIsNotCopied(t *testing.T) {
	in := []byte(`{"a":[1,"x"],"b":{"c":true}}`)
	got, err := Canonicalize(in)
	if err != nil {
		t.Fatal(err)
	}
	if &got[0] != &in[0] {
		t.Fatal("canonical input was copied")
	}
}

func TestCanonicalizeErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"float", `1.5`, "integers only"},
		{"exponent", `{"a":1e3}`, "integers only"},
		{"leading zero", `01`, "leading zero"},
		{"overflow", `9223372036854775808`, "out of range"},
		{"duplicate", `{"a":1,"a":2}`, `duplicate object member "a"`},
		{"duplicate unsorted", `{"b":1,"a":2,"b":3}`, `duplicate object member "b"`},
		{"duplicate after unescape", `{"a":1,"\u0061":2}`, `duplicate object member "a"`},
		{"control char", "\"a\nb\"", "control character"},
		{"bad utf8", "\"\xff\"", "invalid UTF-8"},
		{"lone surrogate", `"\ud800"`, "surrogate"},
		{"bad escape", `"\x"`, "invalid escape"},
		{"trailing data", `{} {}`, "after top-level value"},
		{"trailing comma", `[1,]`, "looking for a value"},
		{"unterminated", `{"a":`, "end of input"},
		{"empty", ``, "end of input"},
		{"deep", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), "nesting deeper"},
		{"bare word", `nul`, "invalid literal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Canonicalize([]byte(tt.in))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Canonicalize(%q) error = %v, want a SyntaxError", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Canonicalize(%q) error = %q, want it to mention %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestMarshal(t *testing.T) {
	got, err := Marshal(map[string]any{"b": "<x>", "a": []int{3, 1}, "c": struct {
		Z int `json:"z"`
		Y bool
	}{1, true}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":[3,1],"b":"<x>","c":{"Y":true,"z":1}}`; string(got) != want {
		t.Fatalf("Marshal = %s, want %s", got, want)
	}
	if _, err := Marshal(0.5); err == nil {
		t.Fatal("Marshal(0.5) succeeded")
	}
}

func TestToJSONAndUnmarshal(t *testing.T) {
	canon, err := Canonicalize([]byte(`{"s":"a\nb\u0001"}`))
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ S string }
	if err := Unmarshal(canon, &v); err != nil {
		t.Fatal(err)
	}
	if v.S != "a\nb\x01" {
		t.Fatalf("got %q", v.S)
	}
}

func TestReader(t *testing.T) {
	canon := []byte(`{"a":[1,-2,3],"b\"q":"x\\y","c":true,"d":null,"e":{"f":"g"},"z":"skipped"}`)
	r := NewReader(canon)
	var ints []int64
	var names []string
	var s string
	var raw []byte
	err := r.Object(func(name []byte) error {
		names = append(names, string(name))
		var err error
		switch string(name) {
		case "a":
			return r.Array(func() error {
				n, err := r.Int()
				ints = append(ints, n)
				return err
			})
		case "b\"q":
			s, err = r.String()
		case "c":
			var b bool
			b, err = r.Bool()
			if !b {
				t.Error("c: got false")
			}
		case "d":
			err = r.Null()
		case "e":
			raw, err = r.Raw()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.End(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ints, []int64{1, -2, 3}) || s != `x\y` || string(raw) != `{"f":"g"}` {
		t.Fatalf("ints=%v s=%q raw=%s", ints, s, raw)
	}
	if want := []string{"a", `b"q`, "c", "d", "e", "z"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("names = %q, want %q", names, want)
	}
}

func TestReaderTypeErrors(t *testing.T) {
	r := NewReader([]byte(`{"a":1}`))
	_, err := r.String()
	var te *TypeError
	if !errors.As(err, &te) || te.Want != String || te.Got != Object {
		t.Fatalf("got %v, want a TypeError string/object", err)
	}
	for _, in := range []string{`1.5`, `99999999999999999999`, `01`, `-`} {
		if _, err := NewReader([]byte(in)).Int(); err == nil {
			t.Errorf("Int(%s) succeeded", in)
		}
	}
}

func TestWriter(t *testing.T) {
	w := NewWriter(0)
	unknown := Fields{{"a", []byte(`1`)}, {"m", []byte(`"x"`)}, {"zz", []byte(`[]`)}}
	w.BeginObject()
	i := w.Fields(unknown, 0, "b")
	w.Name("b")
	w.BeginArray()
	w.String(`q"\`)
	w.Int(-7)
	w.Bool(false)
	w.Null()
	w.Hex([]byte{0xde, 0xad})
	w.EndArray()
	i = w.Fields(unknown, i, "n")
	w.Name("n")
	w.BeginObject()
	w.EndObject()
	w.FieldsRest(unknown, i)
	w.EndObject()
	want := `{"a":1,"b":["q\"\\",-7,false,null,"dead"],"m":"x","n":{},"zz":[]}`
	if got := string(w.Bytes()); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if _, err := Canonicalize(w.Bytes()); err != nil {
		t.Fatal(err)
	}
}

func TestFields(t *testing.T) {
	var f Fields
	if err := f.Set("b", []byte(` { "y":1, "x":2 } `)); err != nil {
		t.Fatal(err)
	}
	if err := f.Set("a", []byte(`true`)); err != nil {
		t.Fatal(err)
	}
	if err := f.Set("c", []byte(`1.5`)); err == nil {
		t.Fatal("Set accepted a float")
	}
	if got := string(f.Get("b")); got != `{"x":2,"y":1}` {
		t.Fatalf("Get(b) = %s", got)
	}
	if f[0].Name != "a" || len(f) != 2 {
		t.Fatalf("fields not sorted: %v", f)
	}
	f.Delete("a")
	if f.Get("a") != nil || len(f) != 1 {
		t.Fatal("Delete failed")
	}
}

// TestCorpusAgreesWithEncodingJSON checks every seed file: canonical form
// holds the same data as the input, and both code paths agree.
func TestCorpusAgreesWithEncodingJSON(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range files {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkProperties(t, in)
	}
}

// checkProperties asserts what must hold for any input.
func checkProperties(t *testing.T, in []byte) {
	t.Helper()
	canon, err := Canonicalize(in)
	if err != nil {
		return
	}
	// The canonical form is recognised as canonical by the fast scanner, and
	// the slow builder reproduces canonical input byte for byte.
	if end, ok := scanCanonical(canon, 0, true); !ok || end != len(canon) {
		t.Fatalf("builder output not accepted by scanner: %q", canon)
	}
	if r, err := NewReader(canon).Raw(); err != nil || len(r) != len(canon) {
		t.Fatalf("Reader.Raw rejects canonical %q: %v", canon, err)
	}
	// NewDecoder agrees, and its size hints point at containers of that size.
	r, err := NewDecoder(in)
	if err != nil || !bytes.Equal(r.Data(), canon) {
		t.Fatalf("NewDecoder disagrees with Canonicalize: %v", err)
	}
	for _, h := range r.hints {
		if c := canon[h.offset]; c != '{' && c != '[' {
			t.Fatalf("size hint at offset %d points at %q", h.offset, c)
		}
	}
	if !hasControl(canon) {
		b := builder{in: canon}
		if err := b.value(0); err != nil || !bytes.Equal(b.out, canon) {
			t.Fatalf("builder changed canonical input %q to %q (%v)", canon, b.out, err)
		}
	}
	// Same data as encoding/json sees it.
	var x, y any
	dx := json.NewDecoder(bytes.NewReader(in))
	dx.UseNumber()
	if err := dx.Decode(&x); err != nil {
		t.Fatalf("encoding/json rejects input that canonjson accepted: %v", err)
	}
	dy := json.NewDecoder(bytes.NewReader(ToJSON(canon)))
	dy.UseNumber()
	if err := dy.Decode(&y); err != nil {
		t.Fatalf("encoding/json rejects canonical output %q: %v", canon, err)
	}
	if !reflect.DeepEqual(normalize(x), normalize(y)) {
		t.Fatalf("canonical form changed the data:\n in  %s\n out %s", in, canon)
	}
}

// normalize makes "-0" and "0" compare equal.
func normalize(v any) any {
	switch v := v.(type) {
	case json.Number:
		if v == "-0" {
			return json.Number("0")
		}
	case []any:
		for i := range v {
			v[i] = normalize(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = normalize(v[k])
		}
	}
	return v
}

func FuzzCanonicalize(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"b":[1,{"d":"\u00e9","c":null}],"a":-0}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		checkProperties(t, in)
		// The Reader never panics on arbitrary bytes either.
		r := NewReader(in)
		_, _ = r.Raw()
		walk(NewReader(in), 0)
	})
}

// walk reads any value with the Reader's typed methods.
func walk(r *Reader, depth int) {
	if depth > 20 {
		return
	}
	switch r.Kind() {
	case Object:
		_ = r.Object(func([]byte) error { walk(r, depth+1); return nil })
	case Array:
		_ = r.Array(func() error { walk(r, depth+1); return nil })
	case String:
		_, _ = r.String()
	case Number:
		_, _ = r.Int()
	case Bool:
		_, _ = r.Bool()
	case Null:
		_ = r.Null()
	}
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

func TestSizeHints(t *testing.T) {
	var sb strings.Builder
	sb.WriteString(`{"z":1,"big":{`)
	for i := range 100 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `"k%03d":[%s0]`, 99-i, strings.Repeat("1,", 70))
	}
	sb.WriteString(`}}`)
	for _, in := range []string{sb.String(), strings.ReplaceAll(sb.String(), ",", ", ")} {
		r, err := NewDecoder([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		var bigHint int
		arrays := 0
		err = r.Object(func(name []byte) error {
			if string(name) != "big" {
				return nil
			}
			bigHint = r.SizeHint()
			return r.Object(func([]byte) error {
				if r.SizeHint() != 71 {
					t.Errorf("array hint = %d, want 71", r.SizeHint())
				}
				arrays++
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if bigHint != 100 || arrays != 100 {
			t.Fatalf("object hint = %d, arrays %d", bigHint, arrays)
		}
	}
}

func TestDecodeObject(t *testing.T) {
	in := " {\n \"signed\" : {\"b\":1, \"a\":[2]},\t\"signatures\":[ ] } "
	got := map[string]string{}
	err := DecodeObject([]byte(in), func(name []byte, r *Reader) error {
		got[string(name)] = string(r.Data())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got["signed"] != `{"a":[2],"b":1}` || got["signatures"] != `[]` || len(got) != 2 {
		t.Fatalf("got %v", got)
	}
	for in, want := range map[string]string{
		`{"a":1,"a":2}`: "duplicate",
		`[1]`:           "want an object",
		`{"a":1} x`:     "after top-level value",
		`{"a":1.5}`:     "integers only",
		`{"a" 1}`:       "want ':'",
		`{"a":1`:        "end of input",
	} {
		err := DecodeObject([]byte(in), func([]byte, *Reader) error { return nil })
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeObject(%s) = %v, want %q", in, err, want)
		}
	}
}

func TestEstimateSize(t *testing.T) {
	for in, want := range map[string]int{
		`{"a":[1,2]},"x"`:  11,
		`"a\"b",1`:         6,
		`12,3`:             2,
		`[{"}":"]"}] tail`: 11,
		`{"a":`:            5,
	} {
		if got := estimateSize([]byte(in), 0); got != want {
			t.Errorf("estimateSize(%s) = %d, want %d", in, got, want)
		}
	}
}

func TestSpecial8(t *testing.T) {
	plain := []byte("abcdefgh")
	for i := range 8 {
		for _, c := range []byte{'"', '\\', 0x00, 0x1f, 0x80, 0xff} {
			b := slices.Clone(plain)
			b[i] = c
			if !special8(binary.LittleEndian.Uint64(b)) {
				t.Errorf("special8 missed %#x at %d", c, i)
			}
		}
	}
	if special8(binary.LittleEndian.Uint64([]byte(" ~!#[]{}"))) {
		t.Error("special8 flagged plain ASCII")
	}
}

// TestRawSkipsKnownContainers: Raw returns a large container's bytes from
// the end the scan of canonical input recorded, the same bytes a scan
// finds; for input that had to be made canonical, where no end is
// recorded, it scans.
func TestRawSkipsKnownContainers(t *testing.T) {
	var obj, arr strings.Builder
	obj.WriteString("{")
	arr.WriteString("[")
	for i := range 100 {
		if i > 0 {
			obj.WriteString(",")
			arr.WriteString(",")
		}
		fmt.Fprintf(&obj, `"k%03d":{"n":%d,"s":"x\"}yé"}`, i, i)
		fmt.Fprintf(&arr, `[%d,"%d"]`, i, i)
	}
	obj.WriteString("}")
	arr.WriteString("]")
	canon := fmt.Sprintf(`{"a":{"big":%s,"z":1},"b":%s,"c":"end"}`, obj.String(), arr.String())
	spaced := strings.Replace(canon, `"z":1`, `"z" : 1`, 1) // not canonical: built again
	for _, tc := range []struct {
		name  string
		input string
		known bool
	}{{"canonical", canon, true}, {"made canonical", spaced, false}} {
		var got []string
		err := DecodeObject([]byte(tc.input), func(name []byte, r *Reader) error {
			switch string(name) {
			case "a":
				return r.Object(func(name []byte) error {
					if string(name) == "big" {
						if _, ok := r.knownEnd(); ok != tc.known {
							t.Errorf("%s: end known %v, want %v", tc.name, ok, tc.known)
						}
					}
					b, err := r.Raw()
					got = append(got, string(b))
					return err
				})
			case "b":
				// Each member is made canonical on its own: this one
				// was canonical in both inputs.
				if _, ok := r.knownEnd(); !ok {
					t.Errorf("%s: array's end not known", tc.name)
				}
				b, err := r.Raw()
				got = append(got, string(b))
				return err
			}
			s, err := r.String()
			got = append(got, s)
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want := []string{obj.String(), "1", arr.String(), "end"}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %q\nwant %q", tc.name, got, want)
		}
	}
}

// TestLongStrings: strings long enough for the eight-byte steps of the
// writer and of ToJSON, with each kind of byte that needs a closer look at
// every position, are written and converted as byte by byte.
func TestLongStrings(t *testing.T) {
	for _, special := range []string{`"`, `\`, "\x01", "\x1f", "é", "\u2028", "\xff"} {
		for pos := range 20 {
			s := strings.Repeat("a", pos) + special + strings.Repeat("b", 19-pos)
			w := NewWriter(0)
			w.String(s)
			want := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
			if got := string(w.Bytes()); got != want {
				t.Errorf("String(%q) wrote %q, want %q", s, got, want)
			}
			if w.Unchecked() != !utf8.ValidString(s) {
				t.Errorf("String(%q): unchecked %v", s, w.Unchecked())
			}
			wantJSON := strings.NewReplacer("\x01", `\u0001`, "\x1f", `\u001f`).Replace(want)
			if got := string(ToJSON(w.Bytes())); got != wantJSON {
				t.Errorf("ToJSON(%q) = %q, want %q", w.Bytes(), got, wantJSON)
			}
		}
	}
}
