package intoto_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/internal/intototest"
	"github.com/rampart-tuf/rampart/intoto"
)

// input makes the verifier's input from a build, with the owner's key as
// the one TUF delivered.
func input(t *testing.T, k *intototest.Keys, b *intototest.Build) intoto.Input {
	return intoto.Input{
		Layout:     b.Layout,
		LayoutKeys: [][]byte{k.Pub(t, "owner")},
		Links:      maps.Clone(b.Links),
		Product:    intototest.PackageName,
		Package:    bytes.NewReader(b.Package),
	}
}

func TestVerify(t *testing.T) {
	k := intototest.NewKeys(t)
	good := k.Build(t, intototest.Options{})
	other := k.Build(t, intototest.Options{Source: "print('a build with other source')\n"})
	expired := k.Build(t, intototest.Options{Expires: time.Now().Add(-time.Hour)})
	rogueLayout := k.Build(t, intototest.Options{LayoutSigner: "rogue"})

	tests := []struct {
		name    string
		edit    func(*intoto.Input)
		opt     intoto.Options
		wantErr string // empty: verification passes
	}{
		{name: "good", edit: func(*intoto.Input) {}},
		{name: "tampered package", edit: func(in *intoto.Input) {
			p := bytes.Clone(good.Package)
			p[len(p)/2] ^= 1
			in.Package = bytes.NewReader(p)
		}, wantErr: `package foo-1.0.tar.gz: sha256 `},
		{name: "package from another build", edit: func(in *intoto.Input) {
			in.Package = bytes.NewReader(other.Package)
		}, wantErr: `but step "packager" produced`},
		{name: "links from another build", edit: func(in *intoto.Input) {
			in.Links[good.LinkName(t, "developer")] = other.Links[other.LinkName(t, "developer")]
		}, wantErr: `in-toto verification: artifact rules: artifact verification failed for Step 'packager', materials [src/foo.py] disallowed`},
		{name: "link signed by the wrong key", edit: func(in *intoto.Input) {
			name := good.LinkName(t, "packager")
			delete(in.Links, name)
			rname, data := k.Resign(t, good, name, "rogue")
			in.Links[rname] = data
		}, wantErr: `which the layout does not authorize for step "packager"`},
		{name: "link signature forged", edit: func(in *intoto.Input) {
			name := good.LinkName(t, "packager")
			in.Links[name] = bytes.Replace(in.Links[name], []byte(`"tar"`), []byte(`"cat"`), 1)
		}, wantErr: `step 'packager' requires '1' link metadata file(s). '0' out of '1' available link(s) have a valid signature`},
		{name: "missing link", edit: func(in *intoto.Input) {
			delete(in.Links, good.LinkName(t, "developer"))
		}, wantErr: `step 'developer' requires '1' link metadata file(s), found '0'`},
		{name: "expired layout", edit: func(in *intoto.Input) {
			in.Layout = expired.Layout
		}, wantErr: `layout: layout has expired`},
		{name: "layout signed by a key not delivered through TUF", edit: func(in *intoto.Input) {
			in.Layout = rogueLayout.Layout
		}, wantErr: `layout: not signed by TUF-delivered key`},
		{name: "layout key not the signer", edit: func(in *intoto.Input) {
			in.LayoutKeys = append(in.LayoutKeys, k.Pub(t, "rogue"))
		}, wantErr: `layout: not signed by TUF-delivered key`},
		{name: "no layout keys", edit: func(in *intoto.Input) {
			in.LayoutKeys = nil
		}, wantErr: `layout: no public keys`},
		{name: "wrong product name", edit: func(in *intoto.Input) {
			in.Product = "bar-1.0.tar.gz"
		}, wantErr: `package bar-1.0.tar.gz: not among the products of the last step "packager"`},
		{name: "link name with a directory", edit: func(in *intoto.Input) {
			in.Links["../developer.12345678.link"] = []byte("{}")
		}, wantErr: `not a link file name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := input(t, k, good)
			tc.edit(&in)
			res, err := intoto.Verify(in, tc.opt)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if strings.Join(res.Steps, ",") != "developer,packager" || res.LastStep != "packager" {
					t.Errorf("result %+v", res)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify passed, want error containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestVerifyInspections(t *testing.T) {
	k := intototest.NewKeys(t)
	b := k.Build(t, intototest.Options{Inspect: true})
	other := k.Build(t, intototest.Options{Source: "print('other')\n"})

	_, err := intoto.Verify(input(t, k, b), intoto.Options{})
	if err == nil || !strings.Contains(err.Error(), `inspection "untar" would run "tar xzf foo-1.0.tar.gz": not allowed`) {
		t.Fatalf("inspection not allowed: got %v", err)
	}
	_, err = intoto.Verify(input(t, k, b), intoto.Options{AllowInspections: []string{"unzip"}})
	if err == nil || !strings.Contains(err.Error(), `inspection "untar"`) {
		t.Fatalf("other inspection allowed: got %v", err)
	}
	if _, err := intoto.Verify(input(t, k, b), intoto.Options{AllowInspections: []string{"untar"}}); err != nil {
		t.Fatalf("inspection allowed: %v", err)
	}
	in := input(t, k, b)
	in.Package = bytes.NewReader(other.Package)
	_, err = intoto.Verify(in, intoto.Options{AllowInspections: []string{"untar"}})
	if err == nil || !strings.Contains(err.Error(), "artifact verification failed for Inspection 'untar'") {
		t.Fatalf("swapped package with inspection: got %v", err)
	}
}

// TestParsePublicKey checks the key IDs against those the python reference
// implementation wrote into the layout and its signature.
func TestParsePublicKey(t *testing.T) {
	k := intototest.NewKeys(t)
	b := k.Build(t, intototest.Options{})
	var layout struct {
		Signatures []struct {
			KeyID string `json:"keyid"`
		} `json:"signatures"`
		Signed struct {
			Keys  map[string]json.RawMessage `json:"keys"`
			Steps []struct {
				Name    string   `json:"name"`
				PubKeys []string `json:"pubkeys"`
			} `json:"steps"`
		} `json:"signed"`
	}
	if err := json.Unmarshal(b.Layout, &layout); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"owner": layout.Signatures[0].KeyID}
	for _, s := range layout.Signed.Steps {
		want[s.Name] = s.PubKeys[0]
	}
	for name, id := range want {
		key, err := intoto.ParsePublicKey(k.Pub(t, name))
		if err != nil {
			t.Fatalf("%s.pub (%s): %v", name, intototest.KeyTypes[name], err)
		}
		if key.KeyID != id {
			t.Errorf("%s.pub (%s): key ID %s, python in-toto says %s", name, intototest.KeyTypes[name], key.KeyID, id)
		}
	}
	// The layout embeds the functionaries' keys as key objects; they parse
	// to the same IDs.
	for id, raw := range layout.Signed.Keys {
		key, err := intoto.ParsePublicKey(raw)
		if err != nil || key.KeyID != id {
			t.Errorf("layout key %s: parsed as %s, %v", id, key.KeyID, err)
		}
	}

	bad := []struct{ name, data, wantErr string }{
		{"garbage", "hello", "not a securesystemslib public key"},
		{"private JSON key", `{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"` + strings.Repeat("ab", 32) + `","private":"` + strings.Repeat("cd", 32) + `"}}`, "holds a private key"},
		{"short ed25519", `{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"abcd"}}`, "invalid key"},
		{"wrong keyid", `{"keytype":"ed25519","scheme":"ed25519","keyid":"00","keyval":{"public":"` + strings.Repeat("ab", 32) + `"}}`, "does not match the key"},
		{"ecdsa hex", `{"keytype":"ecdsa","scheme":"ecdsa-sha2-nistp256","keyval":{"public":"abcd"}}`, "must be PEM"},
		{"unknown type", `{"keytype":"dsa","scheme":"dsa","keyval":{"public":"abcd"}}`, "not an in-toto key type"},
		{"no keyval", `{"keytype":"ed25519","scheme":"ed25519"}`, "no keyval.public"},
		{"PEM private", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", `"PRIVATE KEY" block`},
		{"too big", strings.Repeat(" ", intoto.MaxKeySize+1), "exceeds"},
	}
	for _, tc := range bad {
		_, err := intoto.ParsePublicKey([]byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}
