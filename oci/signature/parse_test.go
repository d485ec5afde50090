package signature_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/oci/signature"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

const sig0 = `{"keyid":"00","sig":"00"`

func doc(targets, sigExtra string) string {
	return `{"signatures":[` + sig0 + sigExtra + `}],"signed":{"_type":"targets","expires":"2030-01-01T00:00:00Z","spec_version":"1.0.34","targets":{` + targets + `},"version":1}}`
}

const target = `"registry.acme-rockets.io/hello-world:v1":{"custom":{"mediaType":"m"},"hashes":{"sha256":"` +
	"0000000000000000000000000000000000000000000000000000000000000000" + `"},"length":3}`

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"not JSON", "{", "malformed JSON"},
		{"root metadata", strings.Replace(doc(target, ""), `"_type":"targets"`, `"_type":"root"`, 1), `_type`},
		{"no media type", doc(strings.Replace(target, `"custom":{"mediaType":"m"},`, "", 1), ""), "no custom.mediaType"},
		{"empty media type", doc(strings.Replace(target, `"m"`, `""`, 1), ""), "no custom.mediaType"},
		{"bad accessedAt", doc(strings.Replace(target, `{"mediaType"`, `{"accessedAt":"yesterday","mediaType"`, 1), ""), "accessedAt"},
		{"not a reference", doc(strings.Replace(target, "registry.acme-rockets.io/", "", 1), ""), "not a fully qualified reference"},
		{"no sha256", doc(strings.Replace(target, `"sha256":"0000000000000000000000000000000000000000000000000000000000000000"`, `"sha512":"`+strings.Repeat("0", 128)+`"`, 1), ""), "no sha256"},
		{"x5c not an array", doc(target, `,"x5c":"abc"`), "x5c: want an array"},
		{"x5c empty", doc(target, `,"x5c":[]`), "0 certificates"},
		{"x5c not base64", doc(target, `,"x5c":["!!"]`), "x5c[0]: not standard base64"},
		{"x5c not a certificate", doc(target, `,"x5c":["`+b64([]byte("hello"))+`"]`), "x5c[0]"},
		{"x5c too long", doc(target, `,"x5c":[`+strings.Repeat(`"AA==",`, 8)+`"AA=="]`), "9 certificates"},
		{"delegates", strings.Replace(doc(target, ""), `"expires"`, `"delegations":{"keys":{},"roles":[{"name":"x","keyids":[],"threshold":1,"terminating":false,"paths":["*"]}]},"expires"`, 1), "delegates to no role"},
		{"too large", doc(target, `,"pad":"`+strings.Repeat("x", signature.MaxSize)+`"`), "more than the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := signature.Parse([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := signature.Parse([]byte(doc(target, ""))); err != nil {
		t.Fatalf("well-formed document: %v", err)
	}
}

// FuzzParse checks that Parse never panics, and that what it accepts
// encodes and parses again to the same signed bytes.
func FuzzParse(f *testing.F) {
	f.Add([]byte(doc(target, "")))
	f.Add([]byte(doc(target, `,"x5c":["AA=="]`)))
	f.Add([]byte(`{"signatures":[],"signed":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := signature.Parse(data)
		if err != nil {
			return
		}
		for _, r := range d.References() {
			if _, err := d.Target(r); err != nil {
				t.Fatalf("accepted document has an invalid target %q: %v", r, err)
			}
		}
		out, err := d.Encode()
		if err != nil {
			t.Fatalf("accepted document does not encode: %v", err)
		}
		d2, err := signature.Parse(out)
		if err != nil {
			t.Fatalf("encoded document does not parse: %v", err)
		}
		if string(d2.Meta.SignedBytes()) != string(d.Meta.SignedBytes()) {
			t.Fatal("signed bytes changed through encoding")
		}
	})
}
