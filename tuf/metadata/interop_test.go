package metadata_test

// Interoperability with go-tuf v2, another TUF implementation: metadata it
// signs verifies here, metadata signed here verifies there, and both agree
// on the canonical bytes of the same document.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/sigstore/sigstore/pkg/signature"
	gotuf "github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

var interopExpiry = time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)

// goTUFSigner is a key usable by go-tuf, with its Rampart signer.
type goTUFSigner struct {
	name    string
	gotuf   signature.Signer
	rampart keys.Signer
	key     *gotuf.Key
}

func goTUFSigners(t testing.TB) []goTUFSigner {
	t.Helper()
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edS, _ := signature.LoadED25519Signer(edPriv)
	ecS, _ := signature.LoadECDSASigner(ecPriv, crypto.SHA256)
	rsaS, _ := signature.LoadRSAPSSSigner(rsaPriv, crypto.SHA256, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	var out []goTUFSigner
	for _, s := range []struct {
		name   string
		gs     signature.Signer
		priv   crypto.Signer
		scheme string
	}{{"ed25519", edS, edPriv, "ed25519"}, {"ecdsa", ecS, ecPriv, "ecdsa-sha2-nistp256"}, {"rsa", rsaS, rsaPriv, "rsassa-pss-sha256"}} {
		key, err := gotuf.KeyFromPublicKey(s.priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		rs, err := keys.NewSigner(s.priv, s.scheme)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, goTUFSigner{s.name, s.gs, rs, key})
	}
	return out
}

// TestGoTUFSignsRampartVerifies builds a repository with go-tuf, with one
// key of each type per role, and verifies every role with Rampart.
func TestGoTUFSignsRampartVerifies(t *testing.T) {
	signers := goTUFSigners(t)
	root := gotuf.Root(interopExpiry)
	for _, s := range signers {
		for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
			if err := root.Signed.AddKey(s.key, role); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
		root.Signed.Roles[role].Threshold = len(signers)
	}
	targets := gotuf.Targets(interopExpiry)
	tf, err := gotuf.TargetFile().FromBytes("dir/a.txt", []byte("hello"), "sha256", "sha512")
	if err != nil {
		t.Fatal(err)
	}
	custom := []byte(`{"b":1,"a":"<x>"}`)
	raw := json.RawMessage(custom)
	tf.Custom = &raw
	targets.Signed.Targets["dir/a.txt"] = tf
	targets.Signed.Delegations = &gotuf.Delegations{
		Keys:  map[string]*gotuf.Key{},
		Roles: []gotuf.DelegatedRole{{Name: "r1", Threshold: 1, Paths: []string{"dir/*"}, Terminating: true}},
	}
	if err := targets.Signed.AddKey(signers[1].key, "r1"); err != nil {
		t.Fatal(err)
	}
	snapshot := gotuf.Snapshot(interopExpiry)
	timestamp := gotuf.Timestamp(interopExpiry)
	type doc struct {
		role  string
		sign  func(signature.Signer) error
		bytes func(bool) ([]byte, error)
		canon func() ([]byte, error)
	}
	docs := []doc{
		{"root", func(s signature.Signer) error { _, err := root.Sign(s); return err }, root.ToBytes, func() ([]byte, error) { return cjson.EncodeCanonical(root.Signed) }},
		{"targets", func(s signature.Signer) error { _, err := targets.Sign(s); return err }, targets.ToBytes, func() ([]byte, error) { return cjson.EncodeCanonical(targets.Signed) }},
		{"snapshot", func(s signature.Signer) error { _, err := snapshot.Sign(s); return err }, snapshot.ToBytes, func() ([]byte, error) { return cjson.EncodeCanonical(snapshot.Signed) }},
		{"timestamp", func(s signature.Signer) error { _, err := timestamp.Sign(s); return err }, timestamp.ToBytes, func() ([]byte, error) { return cjson.EncodeCanonical(timestamp.Signed) }},
	}
	rootBytes := []byte(nil)
	for i, d := range docs {
		for _, s := range signers {
			if err := d.sign(s.gotuf); err != nil {
				t.Fatal(err)
			}
		}
		data, err := d.bytes(i%2 == 0) // both pretty and compact output
		if err != nil {
			t.Fatal(err)
		}
		if d.role == "root" {
			rootBytes = data
		}
		rroot, err := metadata.ParseRoot(rootBytes)
		if err != nil {
			t.Fatalf("parse go-tuf root: %v", err)
		}
		var parsed metadata.Signed
		switch d.role {
		case "root":
			parsed = rroot
		case "targets":
			parsed, err = metadata.ParseTargets(data)
		case "snapshot":
			parsed, err = metadata.ParseSnapshot(data)
		case "timestamp":
			parsed, err = metadata.ParseTimestamp(data)
		}
		if err != nil {
			t.Fatalf("parse go-tuf %s: %v", d.role, err)
		}
		if err := rroot.Signed.VerifyRole(d.role, parsed); err != nil {
			t.Fatalf("go-tuf %s does not verify with Rampart: %v", d.role, err)
		}
		want, err := d.canon()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(parsed.SignedBytes(), want) {
			t.Fatalf("%s: canonical bytes differ:\ngo-tuf  %s\nrampart %s", d.role, want, parsed.SignedBytes())
		}
	}
}

// TestRampartSignsGoTUFVerifies builds a repository with Rampart, including
// delegations and succinct hashed bins, and verifies it with go-tuf.
func TestRampartSignsGoTUFVerifies(t *testing.T) {
	ctx := context.Background()
	signers := goTUFSigners(t)
	root := metadata.NewRoot(interopExpiry)
	for _, s := range signers {
		for _, role := range metadata.TopLevelRoles {
			if err := root.AddKey(role, metadata.NewKey(s.rampart.PublicKey())); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, rk := range root.Roles {
		rk.Threshold = 2
	}
	targets := metadata.NewTargets(interopExpiry)
	targets.Targets["a/b.tgz"] = metadata.NewTargetFile([]byte("content"), true)
	tf := metadata.NewTargetFile([]byte("c"), false)
	tf.Custom = []byte(`{"x":[1,2]}`)
	targets.Targets["c"] = tf
	binKey := metadata.NewKey(signers[0].rampart.PublicKey())
	targets.Delegations = &metadata.Delegations{
		Keys:     map[string]*metadata.Key{binKey.ID(): binKey},
		Succinct: &metadata.SuccinctRoles{KeyIDs: []string{binKey.ID()}, Threshold: 1, BitLength: 8, NamePrefix: "bin"},
	}
	bin := metadata.NewTargets(interopExpiry)
	binName := targets.Delegations.Succinct.RoleFor("a/b.tgz")
	bin.Targets["a/b.tgz"] = metadata.NewTargetFile([]byte("content"), false)

	rootMD, targetsMD, binMD := metadata.New(root), metadata.New(targets), metadata.New(bin)
	snapMD, tsMD := metadata.New(metadata.NewSnapshot(interopExpiry)), metadata.New(metadata.NewTimestamp(interopExpiry))
	for _, s := range signers {
		for _, sign := range []func(context.Context, keys.Signer) (metadata.Signature, error){rootMD.Sign, targetsMD.Sign, snapMD.Sign, tsMD.Sign} {
			if _, err := sign(ctx, s.rampart); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
	}
	if _, err := binMD.Sign(ctx, signers[0].rampart); err != nil {
		t.Fatal(err)
	}
	enc := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	groot, err := gotuf.Root().FromBytes(enc(rootMD.Encode()))
	if err != nil {
		t.Fatalf("go-tuf cannot read Rampart root: %v", err)
	}
	if err := groot.VerifyDelegate("root", groot); err != nil {
		t.Fatalf("go-tuf: root: %v", err)
	}
	gtargets, err := gotuf.Targets().FromBytes(enc(targetsMD.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		role string
		data []byte
		doc  func([]byte) (any, error)
	}{
		{"targets", enc(targetsMD.Encode()), func(b []byte) (any, error) { return gotuf.Targets().FromBytes(b) }},
		{"snapshot", enc(snapMD.Encode()), func(b []byte) (any, error) { return gotuf.Snapshot().FromBytes(b) }},
		{"timestamp", enc(tsMD.Encode()), func(b []byte) (any, error) { return gotuf.Timestamp().FromBytes(b) }},
	}
	for _, c := range checks {
		d, err := c.doc(c.data)
		if err != nil {
			t.Fatalf("go-tuf cannot read Rampart %s: %v", c.role, err)
		}
		if err := groot.VerifyDelegate(c.role, d); err != nil {
			t.Fatalf("go-tuf: %s: %v", c.role, err)
		}
	}
	gbin, err := gotuf.Targets().FromBytes(enc(binMD.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if err := gtargets.VerifyDelegate(binName, gbin); err != nil {
		t.Fatalf("go-tuf: succinct bin %s: %v", binName, err)
	}
	if got := gtargets.Signed.Delegations.SuccinctRoles.GetRolesForTarget("a/b.tgz")[0].Name; got != binName {
		t.Fatalf("go-tuf places a/b.tgz in %s, Rampart in %s", got, binName)
	}
	// Both agree on canonical bytes of the same document.
	for _, c := range []struct {
		name string
		v    any
		ours []byte
	}{{"root", groot.Signed, rootMD.SignedBytes()}, {"targets", gtargets.Signed, targetsMD.SignedBytes()}} {
		theirs, err := cjson.EncodeCanonical(c.v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(theirs, c.ours) {
			t.Fatalf("%s: canonical bytes differ:\ngo-tuf  %s\nrampart %s", c.name, theirs, c.ours)
		}
	}
	// Tampering is caught by go-tuf too (the test can fail).
	bad := bytes.Replace(enc(tsMD.Encode()), []byte(`"version":1}`), []byte(`"version":2}`), 1)
	if d, err := gotuf.Timestamp().FromBytes(bad); err == nil {
		if err := groot.VerifyDelegate("timestamp", d); err == nil {
			t.Fatal("go-tuf verified tampered Rampart timestamp")
		}
	}
}
