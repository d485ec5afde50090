package intoto_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"testing"

	"github.com/rampart-tuf/rampart/intoto"
)

var hexID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// FuzzPublicKey parses arbitrary bytes as a layout key delivered by TUF.
// What parses has a SHA-256 key ID, and the same bytes give the same ID.
func FuzzPublicKey(f *testing.F) {
	pub, _, _ := ed25519.GenerateKey(nil)
	f.Add([]byte(fmt.Sprintf(`{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"%x"}}`, pub)))
	f.Add([]byte(`{"keytype":"rsa","scheme":"rsassa-pss-sha256","keyval":{"public":"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}}`))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte(`{"keytype":"ecdsa","scheme":"ecdsa-sha2-nistp256","keyval":{"public":"","private":"x"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := intoto.ParsePublicKey(b)
		if err != nil {
			return
		}
		if !hexID.MatchString(k.KeyID) {
			t.Fatalf("accepted key %q with key ID %q", b, k.KeyID)
		}
		again, err := intoto.ParsePublicKey(b)
		if err != nil || again.KeyID != k.KeyID {
			t.Fatalf("the same key parsed twice: %s, then %s (%v)", k.KeyID, again.KeyID, err)
		}
	})
}

// FuzzCustom reads arbitrary custom metadata of a package target. What is
// accepted names exactly one layout and links whose file names are
// "<step>.<keyid8>.link", distinct, so that no link can take another's
// place in the staging directory.
func FuzzCustom(f *testing.F) {
	f.Add([]byte(`{"in-toto":["root.layout","in-toto-metadata/ab/developer.ce87cd07.link","in-toto-metadata/ab/packager.dfc0389d.link"]}`))
	f.Add([]byte(`{"in-toto":["a.layout","b.layout"]}`))
	f.Add([]byte(`{"in-toto":["root.layout","../x.12345678.link"]}`))
	f.Add([]byte(`{"in-toto":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		paths, err := intoto.ParseCustom(b)
		if err != nil {
			return
		}
		layout, links, err := intoto.SplitPackageList(paths)
		if err != nil {
			return
		}
		if layout == "" || len(links)+1 != len(paths) {
			t.Fatalf("%q split into layout %q and %d links", paths, layout, len(links))
		}
		seen := map[string]bool{}
		for _, l := range links {
			base := path.Base(l)
			if intoto.CheckLinkName(base) != nil || seen[base] {
				t.Fatalf("accepted link %q (file name %q) from %q", l, base, paths)
			}
			seen[base] = true
		}
	})
}

// FuzzVerify hands arbitrary bytes to the verifier as the layout and a link,
// with a layout key that signed nothing. Nothing can verify, whatever the
// bytes, and nothing may panic.
func FuzzVerify(f *testing.F) {
	pub, _, _ := ed25519.GenerateKey(nil)
	key := []byte(fmt.Sprintf(`{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"%x"}}`, pub))
	k, err := intoto.ParsePublicKey(key)
	if err != nil {
		f.Fatal(err)
	}
	sig := hex.EncodeToString(bytes.Repeat([]byte{1}, ed25519.SignatureSize))
	layout := fmt.Sprintf(`{"signatures":[{"keyid":%q,"sig":%q}],"signed":{"_type":"layout","expires":"2099-01-01T00:00:00Z","readme":"","keys":{},"steps":[{"_type":"step","name":"build","threshold":1,"pubkeys":[],"expected_materials":[],"expected_products":[["ALLOW","*"]],"expected_command":[]}],"inspect":[]}}`, k.KeyID, sig)
	link := `{"signatures":[],"signed":{"_type":"link","name":"build","command":[],"materials":{},"products":{"p":{"sha256":"00"}},"byproducts":{},"environment":{}}}`
	f.Add([]byte(layout), []byte(link))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`), []byte(link))
	f.Add([]byte(`{}`), []byte(`[]`))
	f.Fuzz(func(t *testing.T, layout, link []byte) {
		in := intoto.Input{
			Layout:     layout,
			LayoutKeys: [][]byte{key},
			Links:      map[string][]byte{"build." + k.KeyID[:8] + ".link": link},
			Product:    "p",
			Package:    bytes.NewReader([]byte("package")),
		}
		if res, err := intoto.Verify(in, intoto.Options{}); err == nil {
			t.Fatalf("a layout no key signed verified: %+v\nlayout %q\nlink %q", res, layout, link)
		}
	})
}
