package metadata

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

var expiry = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newSigner(t testing.TB, keyType string) keys.Signer {
	t.Helper()
	priv, err := keys.Generate(keyType)
	if err != nil {
		t.Fatal(err)
	}
	s, err := keys.NewSigner(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func keyOf(s keys.Signer) *Key { return NewKey(s.PublicKey()) }

// testRepo is a signed root, targets (with delegations), snapshot and
// timestamp.
type testRepo struct {
	root      *Metadata[*Root]
	targets   *Metadata[*Targets]
	snapshot  *Metadata[*Snapshot]
	timestamp *Metadata[*Timestamp]
	signer    keys.Signer
}

func buildRepo(t testing.TB) *testRepo {
	ctx := context.Background()
	s := newSigner(t, "ed25519")
	root := NewRoot(expiry)
	for _, r := range TopLevelRoles {
		if err := root.AddKey(r, keyOf(s)); err != nil {
			t.Fatal(err)
		}
	}
	targets := NewTargets(expiry)
	targets.Targets["a/b.txt"] = NewTargetFile([]byte("hello"), true)
	tf := NewTargetFile([]byte("x"), false)
	tf.Custom = []byte(`{"k":[1,"v"]}`)
	targets.Targets["c.bin"] = tf
	dk := keyOf(newSigner(t, "ecdsa"))
	targets.Delegations = &Delegations{
		Keys: map[string]*Key{dk.ID(): dk},
		Roles: []DelegatedRole{
			{Name: "role1", KeyIDs: []string{dk.ID()}, Threshold: 1, Paths: []string{"a/*"}, Terminating: true},
			{Name: "role2", KeyIDs: []string{dk.ID()}, Threshold: 1, PathHashPrefixes: []string{"8", "f0"}},
		},
	}
	r := &testRepo{root: New(root), targets: New(targets), snapshot: New(NewSnapshot(expiry)), timestamp: New(NewTimestamp(expiry)), signer: s}
	for _, sign := range []func() error{
		func() error { _, err := r.root.Sign(ctx, s); return err },
		func() error { _, err := r.targets.Sign(ctx, s); return err },
		func() error { _, err := r.snapshot.Sign(ctx, s); return err },
		func() error { _, err := r.timestamp.Sign(ctx, s); return err },
	} {
		if err := sign(); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func encode[T Role](t testing.TB, m *Metadata[T]) []byte {
	t.Helper()
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTripAndVerify(t *testing.T) {
	r := buildRepo(t)
	rootBytes := encode(t, r.root)
	root, err := ParseRoot(rootBytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Signed.VerifyRole(TypeRoot, root); err != nil {
		t.Fatalf("root does not verify itself: %v", err)
	}
	if got := encode(t, root); !bytes.Equal(got, rootBytes) {
		t.Fatalf("root changed in a round trip:\n%s\n%s", rootBytes, got)
	}
	targetsBytes := encode(t, r.targets)
	targets, err := ParseTargets(targetsBytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Signed.VerifyRole(TypeTargets, targets); err != nil {
		t.Fatal(err)
	}
	if got := encode(t, targets); !bytes.Equal(got, targetsBytes) {
		t.Fatalf("targets changed in a round trip")
	}
	if string(targets.Signed.Targets["c.bin"].Custom) != `{"k":[1,"v"]}` {
		t.Fatalf("custom = %s", targets.Signed.Targets["c.bin"].Custom)
	}
	if err := targets.Signed.Targets["a/b.txt"].Verify([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := targets.Signed.Targets["a/b.txt"].Verify([]byte("hellO")); err == nil {
		t.Fatal("wrong content verified")
	}
	for name, data := range map[string][]byte{"snapshot": encode(t, r.snapshot), "timestamp": encode(t, r.timestamp)} {
		var doc Signed
		var err error
		if name == "snapshot" {
			doc, err = ParseSnapshot(data)
		} else {
			doc, err = ParseTimestamp(data)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := root.Signed.VerifyRole(name, doc); err != nil {
			t.Fatal(err)
		}
	}
	// A document of one role does not verify as another role's when the
	// keys differ.
	other := buildRepo(t)
	if err := other.root.Signed.VerifyRole(TypeTargets, targets); err == nil {
		t.Fatal("targets verified with another root's keys")
	}
}

func TestTamperedPayloadFailsVerification(t *testing.T) {
	r := buildRepo(t)
	data := encode(t, r.targets)
	tampered := bytes.Replace(data, []byte(`"length":5`), []byte(`"length":6`), 1)
	if bytes.Equal(tampered, data) {
		t.Fatal("test did not tamper")
	}
	m, err := ParseTargets(tampered)
	if err != nil {
		t.Fatal(err)
	}
	err = r.root.Signed.VerifyRole(TypeTargets, m)
	var te *ThresholdError
	if !errors.As(err, &te) || len(te.Report.Invalid) != 1 {
		t.Fatalf("got %v, want a ThresholdError with one invalid signature", err)
	}
}

// TestVerifiesReceivedBytes checks that signatures are checked over the
// canonical form of what was received, whatever its formatting.
func TestVerifiesReceivedBytes(t *testing.T) {
	r := buildRepo(t)
	data := encode(t, r.timestamp)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, data, "", "   "); err != nil {
		t.Fatal(err)
	}
	m, err := ParseTimestamp(pretty.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.root.Signed.VerifyRole(TypeTimestamp, m); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownFieldsPreserved(t *testing.T) {
	data, err := os.ReadFile("testdata/unknown-fields.targets.json")
	if err != nil {
		t.Fatal(err)
	}
	canon, err := canonjson.Canonicalize(data)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseTargets(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := encode(t, m); !bytes.Equal(got, canonjson.ToJSON(canon)) {
		t.Fatalf("unknown fields not written back unchanged:\nwant %s\ngot  %s", canon, got)
	}
	// Signing covers unknown fields: re-signing and parsing again keeps them.
	s := newSigner(t, "ed25519")
	m.ClearSignatures()
	if _, err := m.Sign(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(m.SignedBytes(), []byte(`"x-signed-extra"`)) {
		t.Fatal("unknown member missing from signed bytes")
	}
	again, err := ParseTargets(encode(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifySignatures("targets", again, []string{keyOf(s).ID()}, map[string]*Key{keyOf(s).ID(): keyOf(s)}, 1); err != nil {
		t.Fatal(err)
	}
}

func TestStaleSignatures(t *testing.T) {
	r := buildRepo(t)
	r.targets.Signed.Version++
	if _, err := r.targets.Encode(); !errors.Is(err, ErrStaleSignatures) {
		t.Fatalf("Encode after change = %v, want ErrStaleSignatures", err)
	}
	if _, err := r.targets.Sign(context.Background(), r.signer); err != nil {
		t.Fatal(err)
	}
	if len(r.targets.Signatures) != 1 {
		t.Fatalf("have %d signatures after re-signing, want 1", len(r.targets.Signatures))
	}
	if _, err := r.targets.Encode(); err != nil {
		t.Fatal(err)
	}
}

// TestThresholdCountsDistinctKeys lists one public key under two key IDs
// (the second differs only by an unknown member) and makes it sign twice.
func TestThresholdCountsDistinctKeys(t *testing.T) {
	ctx := context.Background()
	s := newSigner(t, "ed25519")
	k1 := keyOf(s)
	k2 := keyOf(s)
	if err := k2.Unknown.Set("x-alias", []byte(`true`)); err != nil {
		t.Fatal(err)
	}
	if k1.ID() == k2.ID() {
		t.Fatal("aliases have the same key ID")
	}
	keyMap := map[string]*Key{k1.ID(): k1, k2.ID(): k2}
	ids := []string{k1.ID(), k2.ID()}
	m := New(NewTimestamp(expiry))
	sig, err := m.Sign(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	m.AddSignature(Signature{KeyID: k2.ID(), Value: sig.Value})
	if err := VerifySignatures("timestamp", m, ids, keyMap, 1); err != nil {
		t.Fatalf("threshold 1: %v", err)
	}
	err = VerifySignatures("timestamp", m, ids, keyMap, 2)
	var te *ThresholdError
	if !errors.As(err, &te) || len(te.Report.Valid) != 1 {
		t.Fatalf("threshold 2 with one distinct key: got %v", err)
	}
	// A second distinct key reaches threshold 2.
	s2 := newSigner(t, "ecdsa")
	keyMap[keyOf(s2).ID()] = keyOf(s2)
	ids = append(ids, keyOf(s2).ID())
	if _, err := m.Sign(ctx, s2); err != nil {
		t.Fatal(err)
	}
	if err := VerifySignatures("timestamp", m, ids, keyMap, 2); err != nil {
		t.Fatal(err)
	}
	// Signatures by keys outside the role do not count.
	if err := VerifySignatures("timestamp", m, ids[:1], keyMap, 2); err == nil {
		t.Fatal("signature by a key outside the role counted")
	}
}

func TestMissingKeysReported(t *testing.T) {
	s1, s2 := newSigner(t, "ed25519"), newSigner(t, "ed25519")
	m := New(NewSnapshot(expiry))
	if _, err := m.Sign(context.Background(), s1); err != nil {
		t.Fatal(err)
	}
	keyMap := map[string]*Key{keyOf(s1).ID(): keyOf(s1), keyOf(s2).ID(): keyOf(s2)}
	rep := CheckSignatures("snapshot", m, []string{keyOf(s1).ID(), keyOf(s2).ID()}, keyMap, 2)
	if rep.Met() || len(rep.Missing) != 1 || rep.Missing[0] != keyOf(s2).ID() {
		t.Fatalf("report = %+v", rep)
	}
}

func TestParseErrors(t *testing.T) {
	r := buildRepo(t)
	targets := string(encode(t, r.targets))
	timestamp := string(encode(t, r.timestamp))
	root := string(encode(t, r.root))
	tests := []struct {
		name    string
		doc     string
		parse   func([]byte) error
		from    string
		to      string
		wantErr string
	}{
		{"wrong type", timestamp, parseTS, `"_type":"timestamp"`, `"_type":"snapshot"`, `timestamp metadata: signed._type: is "snapshot", want "timestamp"`},
		{"spec major", timestamp, parseTS, `"spec_version":"1.0.34"`, `"spec_version":"2.0.0"`, `signed.spec_version: unsupported spec version "2.0.0"`},
		{"spec garbage", timestamp, parseTS, `"spec_version":"1.0.34"`, `"spec_version":"1.x"`, `signed.spec_version: spec version "1.x" is not of the form`},
		{"version zero", timestamp, parseTS, `"spec_version":"1.0.34","version":1`, `"spec_version":"1.0.34","version":0`, `signed.version: version 0 is less than 1`},
		{"version string", timestamp, parseTS, `"spec_version":"1.0.34","version":1`, `"spec_version":"1.0.34","version":"1"`, `signed.version: want number, found string`},
		{"expires format", timestamp, parseTS, `2030-01-02T03:04:05Z`, `2030-01-02 03:04:05`, `signed.expires: time "2030-01-02 03:04:05" is not an RFC 3339 time`},
		{"expires no zone", timestamp, parseTS, `2030-01-02T03:04:05Z`, `2030-01-02T03:04:05`, `signed.expires: time "2030-01-02T03:04:05" is not an RFC 3339 time`},
		{"expires lower z", timestamp, parseTS, `2030-01-02T03:04:05Z`, `2030-01-02T03:04:05z`, `signed.expires`},
		{"expires offset hour 24", timestamp, parseTS, `2030-01-02T03:04:05Z`, `2030-01-02T03:04:05+24:00`, `signed.expires`},
		{"expires too long", timestamp, parseTS, `2030-01-02T03:04:05Z`, `2030-01-02T03:04:05.0000000000000000001Z`, `signed.expires`},
		{"missing expires", timestamp, parseTS, `"expires":"2030-01-02T03:04:05Z",`, ``, `timestamp metadata: signed: missing expires`},
		{"bad hash algo", targets, parseT, `"sha256":`, `"md5":`, `unsupported hash algorithm "md5"`},
		{"short digest", targets, parseT, `"length":5`, `"length":-5`, `signed.targets["a/b.txt"].length: length -5 is negative`},
		{"float", targets, parseT, `"length":5`, `"length":5.0`, `malformed JSON`},
		{"threshold zero", root, parseR, `"threshold":1}`, `"threshold":0}`, `threshold 0 is out of range`},
		{"long keyid", root, parseR, `"keys":{"`, `"keys":{"` + strings.Repeat("0", 300), `is not the key's hash and not a name of 1 to 256 bytes`},
		{"dup role", targets, parseT, `"name":"role2"`, `"name":"role1"`, `signed.delegations.roles[1]: duplicate role name "role1"`},
		{"top-level delegated", targets, parseT, `"name":"role2"`, `"name":"snapshot"`, `"snapshot" is a top-level role`},
		{"bad prefix", targets, parseT, `"f0"`, `"F0"`, `"F0" is not a lowercase hex prefix`},
		{"sig not hex", timestamp, parseTS, `"sig":"`, `"sig":"zz`, `signatures[0].sig: not hex`},
		{"duplicate member", timestamp, parseTS, `"spec_version":"1.0.34","version":1`, `"spec_version":"1.0.34","version":1,"version":2`, `duplicate object member "version"`},
		{"timestamp lists more", timestamp, parseTS, `"meta":{`, `"meta":{"other.json":{"version":1},`, `signed.meta: lists 2 files`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(tt.doc, tt.from) {
				t.Fatalf("fixture does not contain %q", tt.from)
			}
			doc := strings.Replace(tt.doc, tt.from, tt.to, 1)
			err := tt.parse([]byte(doc))
			if err == nil {
				t.Fatalf("parse succeeded, want error %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tt.wantErr)
			}
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %T is not a *metadata.Error", err)
			}
		})
	}
}

func parseTS(b []byte) error { _, err := ParseTimestamp(b); return err }
func parseT(b []byte) error  { _, err := ParseTargets(b); return err }
func parseR(b []byte) error  { _, err := ParseRoot(b); return err }

func TestExpires(t *testing.T) {
	m := New(NewTimestamp(expiry))
	m.Signed.Meta["snapshot.json"] = MetaFile{Version: 7, Length: 10}
	data := encode(t, m)
	fractional := bytes.Replace(data, []byte(`2030-01-02T03:04:05Z`), []byte(`2030-01-02T03:04:05.25Z`), 1)
	p, err := ParseTimestamp(fractional)
	if err != nil {
		t.Fatal(err)
	}
	if want := expiry.Add(250 * time.Millisecond); !p.Signed.Expires.Equal(want) {
		t.Fatalf("expires = %v, want %v", p.Signed.Expires, want)
	}
	// Read as written while unchanged; a new value is written in the
	// YYYY-MM-DDTHH:MM:SSZ form.
	if !bytes.Contains(encode(t, p), []byte(`.25Z`)) {
		t.Fatal("unchanged expires not written back as read")
	}
	p.Signed.Expires = expiry.Add(time.Hour)
	if !bytes.Contains(encode(t, p), []byte(`"expires":"2030-01-02T04:04:05Z"`)) {
		t.Fatalf("new expires written as %s", encode(t, p))
	}
	if p.Signed.IsExpired(expiry) || !p.Signed.IsExpired(expiry.Add(time.Hour)) {
		t.Fatal("IsExpired wrong at the boundary")
	}
}

func TestSpecVersions(t *testing.T) {
	for v, ok := range map[string]bool{"1.0": true, "1.0.0": true, "1.0.34": true, "1.2.3": true, "1": false, "2.0": false, "1.0.0.0": false, "1.a": false, "": false, "v1.0": false, "1..0": false} {
		if err := checkSpecVersion(v); (err == nil) != ok {
			t.Errorf("checkSpecVersion(%q) = %v, want ok=%v", v, err, ok)
		}
	}
}

func TestPathPatterns(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"targets/*.tgz", "targets/foo.tgz", true},
		{"targets/*.tgz", "targets/foo.txt", false},
		{"foo-version-?.tgz", "foo-version-2.tgz", true},
		{"foo-version-?.tgz", "foo-version-alpha.tgz", false},
		{"*.tgz", "foo.tgz", true},
		{"*.tgz", "targets/foo.tgz", false},
		{"*", "a/b", false},
		{"a/?", "a//", false},
		{"a[/]b", "a/b", false},
		{"foo.tgz", "foo.tgz", true},
		{"[", "[", false},
		{"a/*/c", "a/b/c", true},
	}
	for _, tt := range tests {
		r := DelegatedRole{Paths: []string{tt.pattern}}
		if got := r.MatchesPath(tt.path); got != tt.want {
			t.Errorf("pattern %q path %q: got %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
	// sha256("foo.tgz") starts with "35c6".
	h := pathHash("foo.tgz")
	for prefix, want := range map[string]bool{h[:1]: true, h[:4]: true, h: true, "": false} {
		r := DelegatedRole{PathHashPrefixes: []string{prefix}}
		if prefix == "" {
			r.PathHashPrefixes = []string{}
		}
		if got := r.MatchesPath("foo.tgz"); got != want {
			t.Errorf("prefix %q: got %v", prefix, got)
		}
	}
}

func TestSuccinctRoles(t *testing.T) {
	s := &SuccinctRoles{BitLength: 11, NamePrefix: "alice.hbd", Threshold: 1}
	if got := s.BinName(0); got != "alice.hbd-000" {
		t.Fatalf("BinName(0) = %s", got)
	}
	if got := s.BinName(2047); got != "alice.hbd-7ff" {
		t.Fatalf("BinName(2047) = %s", got)
	}
	// The bin is the first 11 bits of sha256(path).
	p := "some/target.tgz"
	h := pathHash(p)
	var first16 int
	for _, c := range h[:4] {
		first16 = first16<<4 | strings.IndexRune("0123456789abcdef", c)
	}
	if got, want := s.BinFor(p), first16>>5; got != want {
		t.Fatalf("BinFor = %d, want %d", got, want)
	}
	for name, want := range map[string]bool{"alice.hbd-7ff": true, "alice.hbd-800": false, "alice.hbd-0ff": true, "alice.hbd-ff": false, "alice.hbd-0FF": false, "bob-000": false} {
		if got := s.IsBin(name); got != want {
			t.Errorf("IsBin(%s) = %v", name, got)
		}
	}
	one := &SuccinctRoles{BitLength: 1, NamePrefix: "b"}
	if one.BinName(1) != "b-1" || one.NumBins() != 2 {
		t.Fatal("bit length 1")
	}
	d := &Delegations{Succinct: s}
	roles := d.RolesFor(p)
	if len(roles) != 1 || roles[0].Name != s.RoleFor(p) || roles[0].Terminating {
		t.Fatalf("RolesFor = %+v", roles)
	}
}

func TestDelegationsRolesFor(t *testing.T) {
	d := &Delegations{Roles: []DelegatedRole{
		{Name: "a", Paths: []string{"x/*"}},
		{Name: "b", Paths: []string{"*"}},
		{Name: "c", Paths: []string{"x/*", "y/*"}},
	}}
	var names []string
	for _, r := range d.RolesFor("x/1") {
		names = append(names, r.Name)
	}
	if strings.Join(names, ",") != "a,c" {
		t.Fatalf("RolesFor = %v", names)
	}
}

func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkParse(t, data)
	}
}

// checkParse asserts the properties every input must have: no panic, and a
// document that parses is written back as its canonical form.
func checkParse(t *testing.T, data []byte) {
	t.Helper()
	check := func(canon []byte, encoded []byte, err error) {
		if err != nil {
			t.Fatalf("parsed document does not encode: %v", err)
		}
		if !bytes.Equal(encoded, canon) {
			t.Fatalf("round trip changed the document:\nin  %s\nout %s", canon, encoded)
		}
	}
	canon, _ := canonjson.Canonicalize(data)
	canon = canonjson.ToJSON(canon)
	if m, err := ParseRoot(data); err == nil {
		b, err := m.Encode()
		check(canon, b, err)
	}
	if m, err := ParseTargets(data); err == nil {
		b, err := m.Encode()
		check(canon, b, err)
	}
	if m, err := ParseSnapshot(data); err == nil {
		b, err := m.Encode()
		check(canon, b, err)
	}
	if m, err := ParseTimestamp(data); err == nil {
		b, err := m.Encode()
		check(canon, b, err)
	}
	if m, err := ParseMirrors(data); err == nil {
		b, err := m.Encode()
		check(canon, b, err)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkParse(t, data) })
}

func TestUnknownFieldCollisionRejected(t *testing.T) {
	m := New(NewTimestamp(expiry))
	m.Signed.Unknown = canonjson.Fields{{Name: "version", Value: []byte("9")}}
	if _, err := m.Encode(); err == nil || !strings.Contains(err.Error(), "not canonical") {
		t.Fatalf("Encode with a colliding unknown field: %v", err)
	}
	m.Signed.Unknown = canonjson.Fields{{Name: "z", Value: []byte("1")}, {Name: "a", Value: []byte("2")}}
	if _, err := m.Encode(); err == nil {
		t.Fatal("Encode with unsorted unknown fields succeeded")
	}
	m.Signed.Unknown = nil
	if err := m.Signed.Unknown.Set("x-note", []byte(`"hi"`)); err != nil {
		t.Fatal(err)
	}
	if b, err := m.Encode(); err != nil || !bytes.Contains(b, []byte(`"x-note":"hi"`)) {
		t.Fatalf("Encode = %s, %v", b, err)
	}
}

func TestParseTargetsLazy(t *testing.T) {
	r := buildRepo(t)
	data := encode(t, r.targets)
	m, err := ParseTargetsLazy(data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Signed.Targets != nil {
		t.Fatal("lazy parse decoded the targets")
	}
	if err := r.root.Signed.VerifyRole(TypeTargets, m); err != nil {
		t.Fatal(err)
	}
	for p, want := range r.targets.Signed.Targets {
		got, ok, err := m.Signed.Lookup(p)
		if err != nil || !ok || got.Length != want.Length || !got.Hashes.Equal(want.Hashes) || !bytes.Equal(got.Custom, want.Custom) {
			t.Fatalf("Lookup(%s) = %+v, %v, %v", p, got, ok, err)
		}
	}
	for _, p := range []string{"", "a", "a/b.txu", "zzz"} {
		if _, ok, err := m.Signed.Lookup(p); ok || err != nil {
			t.Fatalf("Lookup(%q) found something: %v", p, err)
		}
	}
	if got := encode(t, m); !bytes.Equal(got, data) {
		t.Fatal("lazy document does not round-trip")
	}
	if err := m.Signed.DecodeTargets(); err != nil || len(m.Signed.Targets) != 2 {
		t.Fatalf("DecodeTargets: %v", err)
	}
	// An invalid entry is reported when looked up.
	bad := bytes.Replace(data, []byte(`"sha256"`), []byte(`"md5"`), 1)
	m, err = ParseTargetsLazy(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Signed.Lookup("a/b.txt"); err == nil || !strings.Contains(err.Error(), `unsupported hash algorithm "md5"`) {
		t.Fatalf("Lookup of an invalid entry: %v", err)
	}
}

// TestLazyLookupIndexed checks the binary search used for large target
// lists against the plain map, hits and misses alike.
func TestLazyLookupIndexed(t *testing.T) {
	targets := NewTargets(expiry)
	for i := range 3000 {
		p := fmt.Sprintf("p/%05d-%c", i*7%3000, 'a'+i%26)
		targets.Targets[p] = NewTargetFile([]byte(p), i%2 == 0)
	}
	m := New(targets)
	data := encode(t, m)
	lazy, err := ParseTargetsLazy(data)
	if err != nil {
		t.Fatal(err)
	}
	if lazy.Signed.rawIndex == nil {
		t.Fatal("no member index for a large target list")
	}
	for p, want := range targets.Targets {
		got, ok, err := lazy.Signed.Lookup(p)
		if err != nil || !ok || !got.Hashes.Equal(want.Hashes) {
			t.Fatalf("Lookup(%q) = %v, %v", p, ok, err)
		}
	}
	for _, p := range []string{"", "p/", "p/00000-b", "zz", "p/99999-a"} {
		if _, ok, err := lazy.Signed.Lookup(p); ok || err != nil {
			t.Fatalf("Lookup(%q) found it (%v)", p, err)
		}
	}
}

func TestParseTargetsLazyVerified(t *testing.T) {
	r := buildRepo(t)
	// Large enough to take the concurrent path.
	for i := range 9000 {
		p := fmt.Sprintf("pkg/%06d.tgz", i)
		r.targets.Signed.Targets[p] = NewTargetFile([]byte(p), false)
	}
	if _, err := r.targets.Sign(context.Background(), r.signer); err != nil {
		t.Fatal(err)
	}
	data := encode(t, r.targets)
	if len(data) < 1<<20 {
		t.Fatalf("test document is only %d bytes", len(data))
	}
	verify := func(doc Signed) error { return r.root.Signed.VerifyRole(TypeTargets, doc) }
	m, err := ParseTargetsLazyVerified(data, verify)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := m.Signed.Lookup("pkg/004500.tgz"); !ok {
		t.Fatal("lookup failed")
	}
	// Tampering inside "signed" is caught on the concurrent path.
	bad := bytes.Replace(data, []byte(`"pkg/004500.tgz":{"hashes":{"sha256":"`), []byte(`"pkg/004500.tgz":{"hashes":{"sha256":"0`), 1)
	bad = bytes.Replace(bad, []byte(`"length":14}`), []byte(`"length":1}`), 1)
	if _, err := ParseTargetsLazyVerified(bad, verify); err == nil {
		t.Fatal("tampered document verified")
	}
	// A pretty-printed document (not canonical) is verified over its
	// canonical form instead.
	var pretty bytes.Buffer
	json.Indent(&pretty, data, "", " ")
	if _, err := ParseTargetsLazyVerified(pretty.Bytes(), verify); err != nil {
		t.Fatal(err)
	}
	// A canonical prefix followed by non-canonical "signed" content must not
	// reuse the early result: add whitespace inside "signed".
	spaced := bytes.Replace(data, []byte(`"spec_version":`), []byte(`"spec_version": `), 1)
	if _, err := ParseTargetsLazyVerified(spaced, verify); err != nil {
		t.Fatalf("non-canonical signed content: %v", err)
	}
}

// TestSignEncode: SignEncode writes exactly the file Sign for each signer
// followed by Encode writes, for documents the encoder vouches for and for
// those it checks again (custom values, unknown members).
func TestSignEncode(t *testing.T) {
	ctx := context.Background()
	signers := []keys.Signer{newSigner(t, "ed25519"), newSigner(t, "ed25519")}
	full := NewTargets(expiry)
	full.Version = 42
	for i, p := range []string{"a", "b/c.tgz", "Zed", "ünïcode/ф", "ctl\u0001\u001f\u007f", "quote\"back\\slash", "\u2028line", "emoji😀", "a\nb/\u00e9"} {
		tf := NewTargetFile([]byte(p), i%2 == 0)
		if i%3 == 0 {
			tf.Custom = []byte(`{"a":[1,2,{"b":"\u0001"}],"z":null}`)
		}
		full.Targets[p] = tf
	}
	plain := NewTargets(expiry)
	plain.Targets["x/y"] = NewTargetFile([]byte("y"), false)
	unknown := NewTargets(expiry)
	if err := unknown.Unknown.Set("x-note", []byte(`"hi"`)); err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string]*Targets{"full": full, "plain": plain, "empty": NewTargets(expiry), "unknown": unknown} {
		for n := 0; n <= len(signers); n++ {
			got, err := New(doc).SignEncode(ctx, signers[:n])
			if err != nil {
				t.Fatalf("%s, %d signers: %v", name, n, err)
			}
			ref := New(doc)
			for _, s := range signers[:n] {
				if _, err := ref.Sign(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			want, err := ref.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s, %d signers:\n got %s\nwant %s", name, n, got, want)
			}
			md, err := ParseTargets(got)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(md.Signatures) != n {
				t.Errorf("%s: %d signatures, want %d", name, len(md.Signatures), n)
			}
			// Into a buffer: with room, the same file, whose signed bytes
			// are in the buffer's memory; without, the same file in new
			// memory, the buffer untouched.
			for _, size := range []int{64 << 10, 8} {
				buf := bytes.Repeat([]byte{'#'}, size)
				got, err := New(doc).SignEncodeInto(ctx, signers[:n], buf[:0])
				if err != nil {
					t.Fatalf("%s, %d signers, into %d bytes: %v", name, n, size, err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s, %d signers, into %d bytes:\n got %s\nwant %s", name, n, size, got, want)
				}
				inBuf := bytes.Contains(buf, ref.SignedBytes())
				if inBuf != (size > len(want)+1024) || (!inBuf && strings.Trim(string(buf), "#") != "") {
					t.Errorf("%s, %d signers, into %d bytes: written in the buffer %v", name, n, size, inBuf)
				}
			}
		}
	}
}

// TestDigestInCapitalsRefused: a digest in capital hex digits is refused
// when parsed, since Encode would write it in small ones and so change a
// signed document (found by oci/signature's FuzzParse).
func TestDigestInCapitalsRefused(t *testing.T) {
	doc := NewTargets(expiry)
	doc.Targets["a/b.tgz"] = NewTargetFile([]byte("b"), true)
	data, err := New(doc).SignEncode(context.Background(), []keys.Signer{newSigner(t, "ed25519")})
	if err != nil {
		t.Fatal(err)
	}
	digest := hex.EncodeToString(doc.Targets["a/b.tgz"].Hashes.SHA256)
	data = bytes.Replace(data, []byte(digest), []byte(strings.ToUpper(digest)), 1)
	_, err = ParseTargets(data)
	if err == nil || !strings.Contains(err.Error(), `hashes["sha256"]: digest "`+strings.ToUpper(digest)+`" is not lowercase hex`) {
		t.Fatalf("ParseTargets of a digest in capitals: %v", err)
	}
}

// TestEncodesTo: EncodesTo says whether a file is, byte for byte, what
// Encode writes for the document parsed from it, reusing the buffer it is
// given, and leaves the document's signed bytes as they were.
func TestEncodesTo(t *testing.T) {
	doc := NewTargets(expiry)
	doc.Targets["a/b.tgz"] = NewTargetFile([]byte("b"), true)
	doc.Targets["ctl\u0001"] = TargetFile{Hashes: HashesOf(nil, false), Custom: []byte(`{"k":"\u0001"}`)}
	data, err := New(doc).SignEncode(context.Background(), []keys.Signer{newSigner(t, "ed25519")})
	if err != nil {
		t.Fatal(err)
	}
	var buf []byte
	for name, file := range map[string][]byte{
		"as encoded":       data,
		"signed spaced":    bytes.Replace(data, []byte(`"_type":"targets"`), []byte(`"_type": "targets"`), 1),
		"envelope spaced":  bytes.Replace(data, []byte(`"signatures":`), []byte(`"signatures": `), 1),
		"signed reordered": bytes.Replace(data, []byte(`{"signatures":`), []byte(`{"x-extra":1,"signatures":`), 1),
	} {
		md, err := ParseTargets(file)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		enc, encErr := md.Encode()
		want := encErr == nil && bytes.Equal(enc, file)
		md, _ = ParseTargets(file)
		signed := md.SignedBytes()
		got, spare, err := md.EncodesTo(file, buf)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != want || got != (name == "as encoded") {
			t.Errorf("%s: EncodesTo = %v, Encode writes the same file: %v", name, got, want)
		}
		if &md.SignedBytes()[0] != &signed[0] || len(md.SignedBytes()) != len(signed) {
			t.Errorf("%s: EncodesTo changed the signed bytes the document records", name)
		}
		if buf != nil && cap(spare) == cap(buf) && &spare[:1][0] != &buf[:1][0] {
			t.Errorf("%s: a buffer large enough was not reused", name)
		}
		buf = spare
	}
}

// TestEncodeRefusesWhatIsNotCanonical: the encoder skips its second pass
// only for documents written from typed values; what it cannot vouch for
// is still checked, and refused when it is not canonical JSON.
func TestEncodeRefusesWhatIsNotCanonical(t *testing.T) {
	for name, edit := range map[string]func(*Targets){
		"path not UTF-8": func(d *Targets) { d.Targets["bad\xff"] = NewTargetFile(nil, false) },
		"custom not sorted": func(d *Targets) {
			d.Targets["a"] = TargetFile{Hashes: HashesOf(nil, false), Custom: []byte(`{"b":1,"a":2}`)}
		},
		"custom not JSON":  func(d *Targets) { d.Targets["a"] = TargetFile{Hashes: HashesOf(nil, false), Custom: []byte(`{"a":`)} },
		"unknown collides": func(d *Targets) { d.Unknown = canonjson.Fields{{Name: "version", Value: []byte("9")}} },
		"file unknown order": func(d *Targets) {
			d.Targets["a"] = TargetFile{Hashes: HashesOf(nil, false), Unknown: canonjson.Fields{{Name: "z", Value: []byte("1")}, {Name: "a", Value: []byte("2")}}}
		},
	} {
		doc := NewTargets(expiry)
		edit(doc)
		if _, err := New(doc).SignEncode(context.Background(), nil); err == nil {
			t.Errorf("%s: SignEncode succeeded", name)
		}
		if _, err := New(doc).Encode(); err == nil {
			t.Errorf("%s: Encode succeeded", name)
		}
	}
}

// TestBinIndex: BinIndex is the inverse of BinName, and takes no other
// name for a bin.
func TestBinIndex(t *testing.T) {
	for _, bits := range []int{1, 3, 4, 5, 12, 16} {
		s := &SuccinctRoles{BitLength: bits, NamePrefix: "bins", Threshold: 1}
		for i := range s.NumBins() {
			if got, ok := s.BinIndex(s.BinName(i)); !ok || got != i {
				t.Fatalf("bits %d: BinIndex(%s) = %d, %v; want %d", bits, s.BinName(i), got, ok, i)
			}
		}
	}
	s := &SuccinctRoles{BitLength: 11, NamePrefix: "bins", Threshold: 1}
	for _, name := range []string{"bins-", "bins-800", "bins-fff", "bins-0A1", "bins-00a1", "bins-a1", "bins-+a1", "bins-0x1", "bins-_a1", "bins- a1", "bin-0a1", "bins0a1", "other-0a1", "bins--01"} {
		if i, ok := s.BinIndex(name); ok {
			t.Errorf("BinIndex(%q) = %d, want no bin", name, i)
		}
	}
}

// TestEnvelopeInPlace: the file written around the signed bytes in the room
// before them is the file envelope writes around a copy, byte for byte,
// and shares its memory with the signed bytes when the room suffices;
// with too many or too long signatures, or members of its own, the file
// is written as envelope writes it.
func TestEnvelopeInPlace(t *testing.T) {
	ctx := context.Background()
	ed := []keys.Signer{newSigner(t, "ed25519"), newSigner(t, "ed25519"), newSigner(t, "ed25519")}
	rsa := newSigner(t, "rsa")
	doc := NewTargets(expiry)
	doc.Targets["a/b.tgz"] = NewTargetFile([]byte("b"), true)
	doc.Targets["ctl\u0001"] = NewTargetFile([]byte("c"), false) // escaped in the file
	for _, tc := range []struct {
		name    string
		signers []keys.Signer
		unknown bool
		inPlace bool
	}{
		{"unsigned", nil, false, true},
		{"one ed25519", ed[:1], false, true},
		{"two ed25519", ed[:2], false, true},
		{"three ed25519", ed, false, false},
		{"rsa", []keys.Signer{rsa}, false, false},
		{"members of its own", ed[:1], true, false},
	} {
		md := New(doc)
		if tc.unknown {
			if err := md.Unknown.Set("x-note", []byte(`"hi"`)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := md.SignEncode(ctx, tc.signers)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		signed := md.SignedBytes()
		if want := md.envelope(signed); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, want)
		}
		// The file ends with the signed bytes (escaped: a control
		// character makes ToJSON copy) and "}".
		shared := &got[len(got)-1-len(signed)] == &signed[0]
		if escaped := bytes.Contains(got, []byte(`\u0001`)); escaped && shared {
			t.Errorf("%s: the escaped file shares memory with the signed bytes", tc.name)
		}
		again, err := md.Encode()
		if err != nil {
			t.Fatalf("%s: Encode: %v", tc.name, err)
		}
		if !bytes.Equal(again, got) {
			t.Errorf("%s: Encode differs from SignEncode", tc.name)
		}
		parsed, err := ParseTargets(got)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !bytes.Equal(parsed.SignedBytes(), signed) || len(parsed.Signatures) != len(tc.signers) {
			t.Errorf("%s: parsed back %d signatures over other bytes", tc.name, len(parsed.Signatures))
		}
	}
	// Without control characters, the room is used: no copy.
	plain := NewTargets(expiry)
	plain.Targets["x/y"] = NewTargetFile([]byte("y"), false)
	md := New(plain)
	got, err := md.SignEncode(ctx, ed[:2])
	if err != nil {
		t.Fatal(err)
	}
	signed := md.SignedBytes()
	if &got[len(got)-1-len(signed)] != &signed[0] {
		t.Error("two ed25519 signatures: the signed bytes were copied into the file")
	}
	md = New(plain)
	got, err = md.SignEncode(ctx, ed)
	if err != nil {
		t.Fatal(err)
	}
	if signed := md.SignedBytes(); &got[len(got)-1-len(signed)] == &signed[0] {
		t.Error("three ed25519 signatures do not fit the room, yet the file shares the signed bytes' memory")
	}
}

// TestParseMirrorsEmptyURLBase: a mirror without a URL base is refused
// when parsed, as Encode refuses it, naming where it is (found by
// FuzzParse: parsing took what encoding refused).
func TestParseMirrorsEmptyURLBase(t *testing.T) {
	data, err := os.ReadFile("testdata/mirrors.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseMirrors(data); err != nil {
		t.Fatalf("testdata/mirrors.json: %v", err)
	}
	bad := strings.Replace(string(data), `"urlbase": "http://m/"`, `"urlbase": ""`, 1)
	_, err = ParseMirrors([]byte(bad))
	if err == nil || !strings.Contains(err.Error(), "mirrors[0].urlbase: empty") {
		t.Fatalf("ParseMirrors(empty urlbase) = %v, want an error naming mirrors[0].urlbase", err)
	}
}
