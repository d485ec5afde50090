package metadata

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// The shapes of deployed repositories that the specification does not
// require readers to accept (see the package documentation), built by hand
// the way other implementations write them.

// signedAs is a signature to make: by signer, under key ID id.
type signedAs struct {
	id string
	s  keys.Signer
}

// rawDoc returns a metadata file whose "signed" is the canonical form of
// signed, signed as sigs say.
func rawDoc(t testing.TB, signed any, sigs ...signedAs) []byte {
	t.Helper()
	payload, err := canonjson.Marshal(signed)
	if err != nil {
		t.Fatal(err)
	}
	list := []map[string]string{}
	for _, sa := range sigs {
		v, err := sa.s.Sign(context.Background(), payload)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, map[string]string{"keyid": sa.id, "sig": hex.EncodeToString(v)})
	}
	sigJSON, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(`{"signatures":` + string(sigJSON) + `,"signed":` + string(canonjson.ToJSON(payload)) + `}`)
}

// keyJSON is the key object of s as a JSON value, with extra members.
func keyJSON(t testing.TB, s keys.Signer, extra map[string]any) map[string]any {
	t.Helper()
	pk := s.PublicKey()
	k := map[string]any{"keytype": pk.Type, "scheme": pk.Scheme, "keyval": map[string]any{"public": pk.Value}}
	for n, v := range extra {
		k[n] = v
	}
	return k
}

// keyIDOf is the hash key ID of a key object given as JSON.
func keyIDOf(t testing.TB, k map[string]any) string {
	t.Helper()
	b, err := canonjson.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	kk, id, err := decodeKey(canonjson.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if kk.ID() != id {
		t.Fatalf("re-encoded key ID %s differs from %s", kk.ID(), id)
	}
	return id
}

func rootJSON(keysByID map[string]any, roleIDs []string, threshold int, expires string) map[string]any {
	roles := map[string]any{}
	for _, r := range TopLevelRoles {
		roles[r] = map[string]any{"keyids": roleIDs, "threshold": threshold}
	}
	return map[string]any{"_type": "root", "spec_version": "1.0", "version": 1, "expires": expires,
		"consistent_snapshot": false, "keys": keysByID, "roles": roles}
}

func TestKeyIDsAreNames(t *testing.T) {
	s := newSigner(t, "ecdsa")
	k := keyJSON(t, s, map[string]any{"x-tuf-on-ci-keyowner": "@someone"})
	hashID := keyIDOf(t, k)
	const name = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tt := range []struct {
		name      string
		ids       []string
		threshold int
		sigs      []signedAs
		wantErr   bool
	}{
		{"one key under a name", []string{name}, 1, []signedAs{{name, s}}, false},
		{"one key under a name and its hash, threshold 1", []string{name, hashID}, 1, []signedAs{{name, s}, {hashID, s}}, false},
		{"one key under two IDs counts once", []string{name, hashID}, 2, []signedAs{{name, s}, {hashID, s}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			byID := map[string]any{}
			for _, id := range tt.ids {
				byID[id] = k
			}
			data := rawDoc(t, rootJSON(byID, tt.ids, tt.threshold, "2030-01-01T00:00:00Z"), tt.sigs...)
			root, err := ParseRoot(data)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			err = root.Signed.VerifyRole(TypeRoot, root)
			var te *ThresholdError
			if tt.wantErr != (err != nil) || tt.wantErr && !errors.As(err, &te) {
				t.Fatalf("VerifyRole = %v, want error %v", err, tt.wantErr)
			}
			// The strict rule refuses the name.
			var ke *KeyIDError
			if err := CheckKeyIDs(root); !errors.As(err, &ke) || ke.ID != name || ke.Hash != hashID {
				t.Fatalf("CheckKeyIDs = %v, want a KeyIDError for %s", err, name)
			}
			// Kept as read: re-encoding gives the bytes that were signed.
			out, err := root.Encode()
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			again, err := ParseRoot(out)
			if err != nil || !bytes.Equal(again.SignedBytes(), root.SignedBytes()) {
				t.Fatalf("round trip: %v", err)
			}
		})
	}

	// Hash key IDs pass the strict rule.
	data := rawDoc(t, rootJSON(map[string]any{hashID: k}, []string{hashID}, 1, "2030-01-01T00:00:00Z"), signedAs{hashID, s})
	root, err := ParseRoot(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckKeyIDs(root); err != nil {
		t.Fatalf("CheckKeyIDs on hash IDs: %v", err)
	}
}

// An ID that is the hash of one key of the document may not name another.
func TestOneKeyIDForTwoKeysRefused(t *testing.T) {
	a, b := newSigner(t, "ed25519"), newSigner(t, "ed25519")
	ka, kb := keyJSON(t, a, nil), keyJSON(t, b, nil)
	idA := keyIDOf(t, ka)
	// b under a's hash, a under a name: idA names b but is a's hash.
	byID := map[string]any{idA: kb, "a-by-name": ka}
	data := rawDoc(t, rootJSON(byID, []string{idA, "a-by-name"}, 1, "2030-01-01T00:00:00Z"), signedAs{idA, b})
	_, err := ParseRoot(data)
	if err == nil || !strings.Contains(err.Error(), "one key ID for two keys") || !strings.Contains(err.Error(), idA) {
		t.Fatalf("got %v, want one key ID for two keys refused", err)
	}
	// Delegations follow the same rule.
	targets := map[string]any{"_type": "targets", "spec_version": "1.0.0", "version": 1, "expires": "2030-01-01T00:00:00Z", "targets": map[string]any{},
		"delegations": map[string]any{"keys": byID, "roles": []any{map[string]any{"name": "r", "keyids": []string{idA}, "threshold": 1, "paths": []string{"*"}, "terminating": false}}}}
	if _, err := ParseTargets(rawDoc(t, targets)); err == nil || !strings.Contains(err.Error(), "one key ID for two keys") {
		t.Fatalf("delegations: got %v", err)
	}
	// Names that are not printable, or are too long, are refused.
	for _, bad := range []string{"a\tb", strings.Repeat("x", 257), "é"} {
		data := rawDoc(t, rootJSON(map[string]any{bad: ka}, []string{bad}, 1, "2030-01-01T00:00:00Z"))
		if _, err := ParseRoot(data); err == nil {
			t.Errorf("key ID %q accepted", bad)
		}
	}
}

// Rampart writes hash key IDs: a key added in memory under another ID is
// refused, while IDs read from a document are kept.
func TestWritesHashKeyIDs(t *testing.T) {
	s := newSigner(t, "ed25519")
	r := NewRoot(expiry)
	if err := r.AddKey(TypeRoot, keyOf(s)); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Keys[keyOf(s).ID()]; !ok {
		t.Fatal("AddKey did not list the key under its hash")
	}
	r.Keys["my-name"] = keyOf(s)
	if _, err := New(r).Encode(); err == nil || !strings.Contains(err.Error(), "key ID does not match the key") {
		t.Fatalf("root with a made-up key ID encoded: %v", err)
	}
	m := New(r)
	delete(r.Keys, "my-name")
	sig, err := m.Sign(context.Background(), s)
	if err != nil || sig.KeyID != keyOf(s).ID() {
		t.Fatalf("signature under key ID %q, %v", sig.KeyID, err)
	}
}

// Expiry times in any RFC 3339 form are compared as instants.
func TestExpiresWithOffsetsAndFractions(t *testing.T) {
	s := newSigner(t, "ed25519")
	k := keyJSON(t, s, nil)
	id := keyIDOf(t, k)
	for _, tt := range []struct{ text, utc string }{
		{"2021-12-18T13:28:12.99008-06:00", "2021-12-18T19:28:12.99008Z"},
		{"2022-05-11T19:09:02.663975009Z", "2022-05-11T19:09:02.663975009Z"},
		{"2022-05-11T21:09:02+02:00", "2022-05-11T19:09:02Z"},
		{"2022-05-11T19:09:02Z", "2022-05-11T19:09:02Z"},
	} {
		data := rawDoc(t, rootJSON(map[string]any{id: k}, []string{id}, 1, tt.text), signedAs{id, s})
		root, err := ParseRoot(data)
		if err != nil {
			t.Fatalf("%s: %v", tt.text, err)
		}
		want, _ := time.Parse(time.RFC3339Nano, tt.utc)
		if !root.Signed.Expires.Equal(want) {
			t.Errorf("%s: expires %v, want %v", tt.text, root.Signed.Expires, want)
		}
		if root.Signed.IsExpired(want.Add(-time.Nanosecond)) || !root.Signed.IsExpired(want) {
			t.Errorf("%s: not expiring at the instant %s", tt.text, tt.utc)
		}
		if err := root.Signed.VerifyRole(TypeRoot, root); err != nil {
			t.Errorf("%s: %v", tt.text, err)
		}
		// Written back as read while unchanged (the signature stays valid);
		// a new expiry is written in the canonical form.
		out, err := root.Encode()
		if err != nil || !bytes.Contains(out, []byte(`"expires":"`+tt.text+`"`)) {
			t.Errorf("%s: not written back as read: %v", tt.text, err)
		}
		root.ClearSignatures()
		root.Signed.Expires = want.Add(time.Hour)
		out, err = root.Encode()
		if err != nil || !bytes.Contains(out, []byte(`"expires":"`+want.Add(time.Hour).UTC().Format("2006-01-02T15:04:05Z")+`"`)) {
			t.Errorf("%s: new expiry not canonical: %s %v", tt.text, out, err)
		}
	}
}

// One root lists the same ECDSA key as a legacy hex "ecdsa-sha2-nistp256"
// key and as an "ecdsa" PEM key, each under its hash, with tuf-on-ci's
// extra members; spec_version is "1.0". The threshold counts the key once,
// and the extra members are kept under the signatures.
func TestMixedECDSAKeyForms(t *testing.T) {
	s := newSigner(t, "ecdsa")
	block, _ := pem.Decode([]byte(s.PublicKey().Value))
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	point, err := pub.(*ecdsa.PublicKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	legacy := map[string]any{"keytype": "ecdsa-sha2-nistp256", "scheme": "ecdsa-sha2-nistp256", "keyid_hash_algorithms": []string{"sha256", "sha512"},
		"keyval": map[string]any{"public": hex.EncodeToString(point)}}
	modern := keyJSON(t, s, map[string]any{"x-tuf-on-ci-online-uri": "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k"})
	idL, idM := keyIDOf(t, legacy), keyIDOf(t, modern)
	doc := rootJSON(map[string]any{idL: legacy, idM: modern}, []string{idL, idM}, 1, "2030-01-01T00:00:00Z")
	doc["x-tuf-on-ci-expiry-period"] = 182
	doc["roles"].(map[string]any)["timestamp"].(map[string]any)["x-tuf-on-ci-signing-period"] = 31
	data := rawDoc(t, doc, signedAs{idL, s}, signedAs{idM, s})
	root, err := ParseRoot(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Signed.VerifyRole(TypeRoot, root); err != nil {
		t.Fatalf("threshold 1: %v", err)
	}
	root.Signed.Roles[TypeRoot].Threshold = 2 // the check reads the model; the bytes stay
	rep, _ := root.Signed.ReportRole(TypeRoot, root)
	if rep.Met() || len(rep.Valid) != 1 {
		t.Fatalf("one key in two forms counted %d times", len(rep.Valid))
	}
	root.Signed.Roles[TypeRoot].Threshold = 1
	if err := CheckKeyIDs(root); err != nil {
		t.Fatalf("hash IDs refused by the strict rule: %v", err)
	}
	out, err := root.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, member := range []string{`"x-tuf-on-ci-expiry-period":182`, `"x-tuf-on-ci-signing-period":31`, `"keyid_hash_algorithms":["sha256","sha512"]`, `"x-tuf-on-ci-online-uri":`, `"spec_version":"1.0"`} {
		if !bytes.Contains(out, []byte(member)) {
			t.Errorf("%s not written back", member)
		}
	}
	again, err := ParseRoot(out)
	if err != nil || !bytes.Equal(again.SignedBytes(), root.SignedBytes()) || again.Signed.VerifyRole(TypeRoot, again) != nil {
		t.Fatalf("round trip changed the signed bytes: %v", err)
	}
}
