package notary_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/notary"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func parse(t testing.TB, name, typ string) *notary.Document {
	t.Helper()
	d, err := notary.ParseAs(read(t, name), typ)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

// TestRepositories walks each repository written by the notary client and
// notary-server as a client would: root by itself, then timestamp,
// snapshot, targets and delegations by the keys and hashes above them.
func TestRepositories(t *testing.T) {
	for _, tc := range []struct {
		dir         string
		rootKeyType string
		rootMethod  string
		delegations []string
		snapshotKey string // key type of the snapshot key
	}{
		{"app", notary.KeyTypeECDSAX509, notary.MethodECDSA, []string{"targets/releases"}, notary.KeyTypeECDSA},
		{"app/rotated", notary.KeyTypeECDSAX509, notary.MethodECDSA, nil, notary.KeyTypeEd25519},
		{"rsa", notary.KeyTypeRSAX509, notary.MethodRSAPSS, nil, notary.KeyTypeECDSA},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			file := func(role string) string { return tc.dir + "/" + role + ".json" }
			root := parse(t, file("root"), notary.TypeRoot)
			rr := root.Root.Roles[notary.RoleRoot]
			if err := root.Verify(root.Root.Keys, rr); err != nil {
				t.Fatalf("root: %v", err)
			}
			if got := root.Root.Keys[rr.KeyIDs[0]].Type; got != tc.rootKeyType {
				t.Errorf("root key type %q, want %q", got, tc.rootKeyType)
			}
			if got := root.Signatures[0].Method; got != tc.rootMethod {
				t.Errorf("root signature method %q, want %q", got, tc.rootMethod)
			}
			if got := root.Root.Keys[root.Root.Roles[notary.RoleSnapshot].KeyIDs[0]].Type; got != tc.snapshotKey {
				t.Errorf("snapshot key type %q, want %q", got, tc.snapshotKey)
			}
			if root.Expires.Nanosecond() == 0 {
				t.Errorf("root expiry %v has no nanoseconds; Notary writes them", root.Expires)
			}

			ts := parse(t, file("timestamp"), notary.TypeTimestamp)
			if err := ts.Verify(root.Root.Keys, root.Root.Roles[notary.RoleTimestamp]); err != nil {
				t.Fatalf("timestamp: %v", err)
			}
			checkMeta(t, ts.Timestamp.Meta["snapshot"], read(t, file("snapshot")))

			snap := parse(t, file("snapshot"), notary.TypeSnapshot)
			if err := snap.Verify(root.Root.Keys, root.Root.Roles[notary.RoleSnapshot]); err != nil {
				t.Fatalf("snapshot: %v", err)
			}
			checkMeta(t, snap.Snapshot.Meta["root"], read(t, file("root")))
			checkMeta(t, snap.Snapshot.Meta["targets"], read(t, file("targets")))

			targets := parse(t, file("targets"), notary.TypeTargets)
			if err := targets.Verify(root.Root.Keys, root.Root.Roles[notary.RoleTargets]); err != nil {
				t.Fatalf("targets: %v", err)
			}
			hello := targets.Targets.Targets["hello"]
			sum := sha256.Sum256([]byte("hello notary\n"))
			if hello.Length != 13 || !bytes.Equal(hello.Hashes["sha256"], sum[:]) {
				t.Errorf("target hello: length %d, sha256 %x; want 13, %x", hello.Length, hello.Hashes["sha256"], sum)
			}
			var names []string
			for _, d := range targets.Targets.Delegations.Roles {
				names = append(names, d.Name)
			}
			if tc.delegations != nil && !slices.Equal(names, tc.delegations) {
				t.Errorf("delegations %q, want %q", names, tc.delegations)
			}
			for _, del := range targets.Targets.Delegations.Roles {
				if notary.Parent(del.Name) != notary.RoleTargets || !notary.PathsWithin(del.Paths, nil) {
					t.Errorf("delegation %s: parent %s", del.Name, notary.Parent(del.Name))
				}
				doc := parse(t, file(del.Name), notary.TypeTargets)
				if err := doc.Verify(targets.Targets.Delegations.Keys, del.RoleKeys); err != nil {
					t.Fatalf("%s: %v", del.Name, err)
				}
				checkMeta(t, snap.Snapshot.Meta[del.Name], read(t, file(del.Name)))
				for name := range doc.Targets.Targets {
					if !del.Allows(name) {
						t.Errorf("%s signs %q outside its paths %q", del.Name, name, del.Paths)
					}
				}
				if del.Allows("hello") {
					t.Errorf("%s with paths %q allows hello", del.Name, del.Paths)
				}
				// The targets key does not sign for the delegation.
				if err := doc.Verify(root.Root.Keys, root.Root.Roles[notary.RoleTargets]); !errors.Is(err, notary.ErrThreshold) {
					t.Errorf("%s verified by the targets key: %v", del.Name, err)
				}
			}
		})
	}
}

func checkMeta(t *testing.T, m notary.FileMeta, data []byte) {
	t.Helper()
	want := notary.NewFileMeta(data)
	if m.Length != want.Length || !bytes.Equal(m.Hashes["sha256"], want.Hashes["sha256"]) || !bytes.Equal(m.Hashes["sha512"], want.Hashes["sha512"]) {
		t.Errorf("meta %d %x does not describe the file (%d %x)", m.Length, m.Hashes["sha256"], want.Length, want.Hashes["sha256"])
	}
}

// TestRootRotationChain checks that the rotated root is signed by the key of
// version 1 and that both list the same root key.
func TestRootRotationChain(t *testing.T) {
	v1 := parse(t, "app/rotated/1.root.json", notary.TypeRoot)
	v2 := parse(t, "app/rotated/root.json", notary.TypeRoot)
	if v1.Version != 1 || v2.Version != 2 {
		t.Fatalf("versions %d and %d, want 1 and 2", v1.Version, v2.Version)
	}
	if err := v2.Verify(v1.Root.Keys, v1.Root.Roles[notary.RoleRoot]); err != nil {
		t.Fatal(err)
	}
	old, cur := v1.Root.Roles[notary.RoleSnapshot].KeyIDs, v2.Root.Roles[notary.RoleSnapshot].KeyIDs
	if slices.Equal(old, cur) {
		t.Errorf("snapshot key %q unchanged by the rotation", cur)
	}
}

// TestKeyIDs checks the key IDs against those notary gave its private key
// files: the root's certificate key by its canonical ID, the others as
// listed.
func TestKeyIDs(t *testing.T) {
	files := strings.Fields(string(read(t, "app/private-key-ids.txt")))
	root := parse(t, "app/root.json", notary.TypeRoot).Root
	for _, role := range []string{notary.RoleRoot, notary.RoleTargets} {
		id := root.Roles[role].KeyIDs[0]
		k := root.Keys[id]
		if k.ID() != id {
			t.Errorf("%s: ID %s, listed as %s", role, k.ID(), id)
		}
		cid, err := k.CanonicalID()
		if err != nil {
			t.Fatal(err)
		}
		if role == notary.RoleRoot && cid == id {
			t.Errorf("root certificate key: canonical ID equals the certificate key's ID %s", id)
		}
		if !slices.Contains(files, cid) {
			t.Errorf("%s: canonical ID %s is not among notary's key files %q", role, cid, files)
		}
	}
	// The ID covers "private":null exactly.
	k := root.Keys[root.Roles[notary.RoleTimestamp].KeyIDs[0]]
	pre := `{"keytype":"ed25519","keyval":{"private":null,"public":"` + base64.StdEncoding.EncodeToString(k.Public) + `"}}`
	if sum := sha256.Sum256([]byte(pre)); k.ID() != hexString(sum[:]) {
		t.Errorf("ID %s is not the SHA-256 of %s", k.ID(), pre)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestSignedBytesAsWritten: the client signs custom values unsorted and with
// <, > and & escaped. The signature verifies over the bytes in the file, not
// over their canonical form, and the content reads the same either way.
func TestSignedBytesAsWritten(t *testing.T) {
	root := parse(t, "html/root.json", notary.TypeRoot)
	targets := parse(t, "html/targets.json", notary.TypeTargets)
	if !bytes.Contains(targets.Signed, []byte(`\u003cb\u003e \u0026 c`)) {
		t.Fatalf("fixture lacks the escaped custom value: %s", targets.Signed)
	}
	tk := root.Root.Roles[notary.RoleTargets]
	if err := targets.Verify(root.Root.Keys, tk); err != nil {
		t.Fatalf("as written: %v", err)
	}
	canon, err := canonjson.Canonicalize(targets.Signed)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(canon, targets.Signed) {
		t.Fatal("canonical form equals the signed bytes; the fixture tests nothing")
	}
	recanon := *targets
	recanon.Signed = canon
	if err := recanon.Verify(root.Root.Keys, tk); !errors.Is(err, notary.ErrThreshold) {
		t.Errorf("signature verified over the re-canonicalised bytes: %v", err)
	}
	if got, want := string(targets.Targets.Targets["hello"].Custom), `{"n":1,"note":"a <b> & c"}`; got != want {
		t.Errorf("custom %s, want %s", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	good := string(read(t, "app/timestamp.json"))
	root := string(read(t, "app/root.json"))
	targets := string(read(t, "app/targets.json"))
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"not an object", `[]`, "not a JSON object"},
		{"no signatures", `{"signed":{}}`, "signatures: malformed document: missing"},
		{"extra envelope member", strings.Replace(good, `{"signed"`, `{"x":1,"signed"`, 1), `unknown envelope member "x"`},
		{"trailing data", good + "{}", "data after the envelope"},
		{"lower-case type", strings.Replace(good, `"Timestamp"`, `"timestamp"`, 1), `unknown type "timestamp"`},
		{"no version", strings.Replace(good, `,"version":`, `,"v":`, 1), "signed.version: malformed document: missing"},
		{"version 0", strings.Replace(good, `"version":3`, `"version":0`, 1), "signed.version: malformed document: 0 is less than 1"},
		{"expiry", strings.Replace(good, `"expires":"2`, `"expires":"x2`, 1), "signed.expires: malformed document"},
		{"hash length", strings.Replace(good, `"sha256":"`, `"sha256":"AAAA`, 1), "sha256: malformed document: 35 bytes, want 32"},
		{"hash base64", strings.Replace(good, `"sha256":"`, `"sha256":"!`, 1), "not standard base64"},
		{"no snapshot meta", strings.Replace(good, `"meta":{"snapshot"`, `"meta":{"snapshop"`, 1), "no entry for snapshot"},
		{"duplicate member", strings.Replace(good, `"version":3`, `"version":3,"version":4`, 1), "duplicate object member"},
		{"sig base64", strings.Replace(good, `"sig":"`, `"sig":"*`, 1), "signatures[0].sig"},
		{"key ID", strings.Replace(good, `"keyid":"`, `"keyid":"X`, 1), "signatures[0].keyid"},
		{"private key", strings.Replace(root, `"private":null`, `"private":"AAAA"`, 1), "must be null"},
		{"key listed under another ID", strings.Replace(root, `"keytype":"ed25519"`, `"keytype":"ecdsa"`, 1), "not the ID it is listed under"},
		{"threshold above keys", strings.Replace(root, `"threshold":1`, `"threshold":2`, 1), "2 is more than the 1 keys listed"},
		{"bad delegation name", strings.Replace(targets, `"name":"targets/releases"`, `"name":"targets/Releases"`, 1), "not a delegated role name"},
		{"delegation outside targets", strings.Replace(targets, `"name":"targets/releases"`, `"name":"releases"`, 1), "not a delegated role name"},
		{"float", strings.Replace(good, `"version":3`, `"version":3.5`, 1), "signed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.doc == good || tc.doc == root || tc.doc == targets {
				t.Fatal("replacement did not apply")
			}
			_, err := notary.Parse([]byte(tc.doc))
			if err == nil {
				t.Fatal("parsed")
			}
			if !errors.Is(err, notary.ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want ErrMalformed containing %q", err, tc.want)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	root := parse(t, "app/root.json", notary.TypeRoot)
	data := read(t, "app/targets.json")
	tk := root.Root.Roles[notary.RoleTargets]
	for _, tc := range []struct {
		name string
		edit func(*notary.Document)
		ks   map[string]notary.Key
		role notary.RoleKeys
		want string
	}{
		{"changed byte", func(d *notary.Document) {
			d.Signed = bytes.Replace(d.Signed, []byte(`"length":13`), []byte(`"length":14`), 1)
		}, root.Root.Keys, tk, "signature does not match"},
		{"wrong method", func(d *notary.Document) { d.Signatures[0].Method = notary.MethodEdDSA }, root.Root.Keys, tk, `method "eddsa" is not one for a ecdsa key`},
		{"key not given", nil, map[string]notary.Key{}, tk, "not in the keys given"},
		{"another role's key", nil, root.Root.Keys, root.Root.Roles[notary.RoleSnapshot], "0 valid signatures of 1"},
		{"threshold 2", nil, root.Root.Keys, notary.RoleKeys{KeyIDs: tk.KeyIDs, Threshold: 2}, "1 valid signatures of 2"},
		{"signature repeated", func(d *notary.Document) { d.Signatures = append(d.Signatures, d.Signatures[0]) }, root.Root.Keys, notary.RoleKeys{KeyIDs: tk.KeyIDs, Threshold: 2}, "1 valid signatures of 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := notary.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(d)
			}
			err = d.Verify(tc.ks, tc.role)
			if !errors.Is(err, notary.ErrThreshold) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want ErrThreshold containing %q", err, tc.want)
			}
		})
	}
}

// TestProduce writes targets documents with each key type, signs them and
// reads them back; the real client reads them in the server's tests.
func TestProduce(t *testing.T) {
	expires := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.UTC)
	for _, kt := range []string{"ed25519", "ecdsa", "rsa"} {
		t.Run(kt, func(t *testing.T) {
			priv, err := keys.Generate(kt)
			if err != nil {
				t.Fatal(err)
			}
			s, err := keys.NewSigner(priv, "")
			if err != nil {
				t.Fatal(err)
			}
			sk, err := notary.NewSigningKey(s)
			if err != nil {
				t.Fatal(err)
			}
			delKey := sk.Key
			in := &notary.Targets{
				Targets: map[string]notary.FileMeta{"a/b": notary.NewFileMeta([]byte("content"))},
				Delegations: notary.Delegations{
					Keys:  map[string]notary.Key{delKey.ID(): delKey},
					Roles: []notary.Delegation{{Name: "targets/releases", RoleKeys: notary.RoleKeys{KeyIDs: []string{delKey.ID()}, Threshold: 1}, Paths: []string{"rel/"}}},
				},
			}
			fm := in.Targets["a/b"]
			fm.Custom = []byte(`{"z": 1, "a": "<&>"}`)
			in.Targets["a/b"] = fm
			signed, err := in.Marshal(7, expires)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := notary.Sign(context.Background(), signed, sk)
			if err != nil {
				t.Fatal(err)
			}
			d, err := notary.ParseAs(doc, notary.TypeTargets)
			if err != nil {
				t.Fatalf("%v\n%s", err, doc)
			}
			if err := d.Verify(map[string]notary.Key{sk.Key.ID(): sk.Key}, notary.RoleKeys{KeyIDs: []string{sk.Key.ID()}, Threshold: 1}); err != nil {
				t.Fatal(err)
			}
			wantMethod := map[string]string{"ed25519": "eddsa", "ecdsa": "ecdsa", "rsa": "rsapss"}[kt]
			if d.Signatures[0].Method != wantMethod || d.Version != 7 || !d.Expires.Equal(expires) {
				t.Errorf("method %s version %d expires %v", d.Signatures[0].Method, d.Version, d.Expires)
			}
			if kt == "ecdsa" && len(d.Signatures[0].Sig) != 64 {
				t.Errorf("ECDSA signature of %d bytes, want r||s of 64", len(d.Signatures[0].Sig))
			}
			if !bytes.Contains(doc, []byte(`"expires":"2030-01-02T03:04:05.123456789Z"`)) {
				t.Errorf("expiry not written with nanoseconds: %s", doc)
			}
			if got := string(d.Targets.Targets["a/b"].Custom); got != `{"a":"<&>","z":1}` {
				t.Errorf("custom %s", got)
			}
			if got := d.Targets.Delegations.Roles[0]; got.Name != "targets/releases" || !slices.Equal(got.Paths, []string{"rel/"}) {
				t.Errorf("delegation %+v", got)
			}
			// Another key does not verify it.
			other, _ := keys.Generate("ed25519")
			os, _ := keys.NewSigner(other, "")
			osk, _ := notary.NewSigningKey(os)
			if err := d.Verify(map[string]notary.Key{sk.Key.ID(): osk.Key}, notary.RoleKeys{KeyIDs: []string{sk.Key.ID()}, Threshold: 1}); err == nil {
				t.Error("verified with another key under the signer's ID")
			}
		})
	}
}

func TestMarshalRefusesInvalid(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	if _, err := (&notary.Targets{Delegations: notary.Delegations{Roles: []notary.Delegation{{Name: "nope", RoleKeys: notary.RoleKeys{Threshold: 1}}}}}).Marshal(1, exp); err == nil {
		t.Error("delegation named nope written")
	}
	if _, err := (&notary.Timestamp{}).Marshal(1, exp); err == nil {
		t.Error("timestamp without snapshot meta written")
	}
	if _, err := (&notary.Snapshot{Meta: map[string]notary.FileMeta{"root": notary.NewFileMeta(nil), "targets": notary.NewFileMeta(nil)}}).Marshal(0, exp); err == nil {
		t.Error("version 0 written")
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"app/root.json", "app/targets.json", "app/snapshot.json", "app/timestamp.json", "app/targets/releases.json", "html/targets.json", "rsa/root.json"} {
		f.Add(read(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := notary.Parse(data)
		if err != nil {
			if !errors.Is(err, notary.ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		if !bytes.Contains(data, d.Signed) {
			t.Fatal("Signed is not a span of the input")
		}
		var ks map[string]notary.Key
		var rk notary.RoleKeys
		if d.Root != nil {
			ks, rk = d.Root.Keys, d.Root.Roles[notary.RoleRoot]
		}
		if rk.Threshold > 0 {
			_ = d.Verify(ks, rk)
		}
	})
}

// TestVerifyCanonicalForm: a document whose "signed" was re-indented after
// signing verifies over its canonical form, as Notary's verifier does.
func TestVerifyCanonicalForm(t *testing.T) {
	root := parse(t, "app/root.json", notary.TypeRoot)
	data := read(t, "app/targets.json")
	spaced := bytes.Replace(data, []byte(`"_type":"Targets",`), []byte("\"_type\": \"Targets\",\n  "), 1)
	if bytes.Equal(spaced, data) {
		t.Fatal("replacement did not apply")
	}
	d, err := notary.Parse(spaced)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Verify(root.Root.Keys, root.Root.Roles[notary.RoleTargets]); err != nil {
		t.Fatal(err)
	}
}

// TestParseNullLists: Notary's client writes an empty list or map as
// null; "roles": null is what it publishes once the last delegation is
// removed. Each parses as empty.
func TestParseNullLists(t *testing.T) {
	targets := string(read(t, "app/targets.json"))
	for _, tc := range []struct{ name, from, to string }{
		{"roles", "", ""},
		{"keys", "", ""},
		{"paths", `"paths":["releases/"]`, `"paths":null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(targets, tc.from, tc.to, 1)
			if tc.name != "paths" {
				// Replace the whole value: drop the original members.
				doc = replaceDelegations(t, targets, tc.name)
			}
			if doc == targets {
				t.Fatal("replacement did not apply")
			}
			d, err := notary.Parse([]byte(doc))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			want := map[string]int{"roles": 0, "keys": 0, "paths": 1}[tc.name]
			if got := len(d.Targets.Delegations.Roles); got != want {
				t.Errorf("%d delegations, want %d", got, want)
			}
			for _, r := range d.Targets.Delegations.Roles {
				if tc.name == "paths" && len(r.Paths) != 0 {
					t.Errorf("%s: paths %q, want none", r.Name, r.Paths)
				}
			}
		})
	}
}

// replaceDelegations sets member ("roles" or "keys") of the delegations of
// the targets document doc to null, through encoding/json.
func replaceDelegations(t *testing.T, doc, member string) string {
	var v struct {
		Signed     map[string]json.RawMessage `json:"signed"`
		Signatures json.RawMessage            `json:"signatures"`
	}
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	var dl map[string]json.RawMessage
	if err := json.Unmarshal(v.Signed["delegations"], &dl); err != nil {
		t.Fatal(err)
	}
	dl[member] = json.RawMessage("null")
	if member == "keys" {
		dl["roles"] = json.RawMessage("[]")
	}
	var err error
	if v.Signed["delegations"], err = json.Marshal(dl); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
