package signature_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/internal/ocitest"
	"github.com/rampart-tuf/rampart/oci/signature"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

const ref = "registry.acme-rockets.io/hello-world:v1"

var manifest = []byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}`)

func signer(t *testing.T, key crypto.Signer) keys.Signer {
	t.Helper()
	s, err := keys.NewSigner(key, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sign(t *testing.T, key crypto.Signer, chain []*x509.Certificate, refs ...string) []byte {
	t.Helper()
	d := signature.New()
	m := signature.Describe(manifest, signature.DockerManifestV2)
	for _, r := range refs {
		if err := d.Add(r, m, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Sign(context.Background(), signature.SignOptions{Key: signer(t, key), Chain: chain}); err != nil {
		t.Fatal(err)
	}
	out, err := d.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func parse(t *testing.T, data []byte) *signature.Document {
	t.Helper()
	d, err := signature.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func genKey(t *testing.T, typ string) crypto.Signer {
	t.Helper()
	k, err := keys.Generate(typ)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignVerify(t *testing.T) {
	ca := ocitest.NewCA(t, "acme")
	for _, tc := range []struct {
		name     string
		keyType  string
		withCert bool
		keyType2 string // key type the key ID names
	}{
		{"ed25519", "ed25519", false, "ed25519"},
		{"ecdsa", "ecdsa", false, "ecdsa"},
		{"rsa", "rsa", false, "rsa"},
		{"ecdsa-x509", "ecdsa", true, "ecdsa-x509"},
		{"rsa-x509", "rsa", true, "rsa-x509"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := genKey(t, tc.keyType)
			_, chain := ca.Issue(t, ocitest.Leaf{Key: key, Hosts: []string{"registry.acme-rockets.io"}})
			var signChain []*x509.Certificate
			if tc.withCert {
				signChain = chain
			}
			d := parse(t, sign(t, key, signChain, ref))
			sig := d.Meta.Signatures[0]

			// The key ID names the key object the signature is made under.
			var want *metadata.Key
			if tc.withCert {
				var err error
				if want, err = signature.CertKey(chain[0]); err != nil {
					t.Fatal(err)
				}
			} else {
				pk, _ := keys.PublicKeyFor(key.Public(), "")
				want = metadata.NewKey(pk)
			}
			if want.Type != tc.keyType2 || sig.KeyID != want.ID() {
				t.Fatalf("key ID %s, want %s (%s)", sig.KeyID, want.ID(), want.Type)
			}
			// The document verifies as a delegated role with that key: what a
			// TUF repository does with it.
			if err := metadata.VerifySignatures("signer", d.Meta, []string{want.ID()}, map[string]*metadata.Key{want.ID(): want}, 1); err != nil {
				t.Fatal(err)
			}
			if got, err := signature.Chain(sig); err != nil || len(got) != len(signChain) {
				t.Fatalf("x5c chain of %d certificates (%v), want %d", len(got), err, len(signChain))
			}
			if _, ok := key.(*ecdsa.PrivateKey); ok && tc.withCert && len(sig.Value) != 64 {
				t.Fatalf("ECDSA signature under a certificate is %d bytes, want raw r||s of 64", len(sig.Value))
			}

			p := signature.Policy{Roots: ca.Pool()}
			if !tc.withCert {
				p = signature.Policy{Certs: chain[:1]}
			}
			signers, err := d.Verify(p)
			if err != nil {
				t.Fatal(err)
			}
			if signers[0].KeyID != sig.KeyID || !signers[0].Leaf.Equal(chain[0]) {
				t.Fatalf("signer %+v", signers[0])
			}
			if err := d.Check(ref, signature.Describe(manifest, signature.DockerManifestV2)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	ca := ocitest.NewCA(t, "acme")
	other := ocitest.NewCA(t, "other")
	hosts := []string{"registry.acme-rockets.io"}
	key, chain := ca.Issue(t, ocitest.Leaf{Hosts: hosts})
	good := sign(t, key, chain, ref)
	now := time.Now()

	expiredKey, expiredChain := ca.Issue(t, ocitest.Leaf{Hosts: hosts, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)})
	wrongUseKey, wrongUseChain := ca.Issue(t, ocitest.Leaf{Hosts: hosts, KeyUsage: x509.KeyUsageKeyEncipherment})
	otherKey, otherChain := other.Issue(t, ocitest.Leaf{Hosts: hosts})
	elsewhereKey, elsewhereChain := ca.Issue(t, ocitest.Leaf{Hosts: []string{"registry.example.com"}})

	for _, tc := range []struct {
		name   string
		doc    []byte
		policy signature.Policy
		want   string
	}{
		{"expired leaf", sign(t, expiredKey, expiredChain, ref), signature.Policy{Roots: ca.Pool()}, "expired"},
		{"wrong key usage", sign(t, wrongUseKey, wrongUseChain, ref), signature.Policy{Roots: ca.Pool()}, "key usage does not allow digital signatures"},
		{"untrusted root", sign(t, otherKey, otherChain, ref), signature.Policy{Roots: ca.Pool()}, "unknown authority"},
		{"host not named", sign(t, elsewhereKey, elsewhereChain, ref), signature.Policy{Roots: ca.Pool()}, `does not name registry "registry.acme-rockets.io"`},
		{"one host of two not named", sign(t, key, chain, ref, "registry.example.com/hello-world:v1"), signature.Policy{Roots: ca.Pool()}, `does not name registry "registry.example.com"`},
		{"document expired", good, signature.Policy{Roots: ca.Pool(), At: now.Add(400 * 24 * time.Hour)}, "signature document expired"},
		{"leaf not yet valid", good, signature.Policy{Roots: ca.Pool(), At: now.Add(-48 * time.Hour)}, "certificate"},
		{"min version", good, signature.Policy{Roots: ca.Pool(), MinVersion: 2}, "lower than the minimum version 2"},
		{"no x5c, no trusted cert", sign(t, key, nil, ref), signature.Policy{Roots: ca.Pool()}, "no trusted certificate has this key ID"},
		{"no x5c, other cert", sign(t, key, nil, ref), signature.Policy{Certs: otherChain[:1]}, "no trusted certificate has this key ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.doc).Verify(tc.policy)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}

	// --any-host lifts the host binding, and nothing else.
	d := parse(t, sign(t, elsewhereKey, elsewhereChain, ref))
	if _, err := d.Verify(signature.Policy{Roots: ca.Pool(), AnyHost: true}); err != nil {
		t.Fatalf("AnyHost: %v", err)
	}
	// An archived signature verifies as of a time its leaf was valid.
	d = parse(t, sign(t, key, chain, ref))
	if _, err := d.Verify(signature.Policy{Roots: ca.Pool(), At: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	// A tampered x5c chain that swaps the leaf no longer matches the key ID.
	d = parse(t, good)
	d.Meta.Signatures[0].Unknown = nil
	if err := setX5C(d, elsewhereChain); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Verify(signature.Policy{Roots: ca.Pool(), AnyHost: true}); err == nil || !strings.Contains(err.Error(), "key ID does not name the x5c leaf") {
		t.Fatalf("swapped leaf: err = %v", err)
	}
}

func setX5C(d *signature.Document, chain []*x509.Certificate) error {
	var b strings.Builder
	b.WriteString("[")
	for i, c := range chain {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"` + b64(c.Raw) + `"`)
	}
	b.WriteString("]")
	return d.Meta.Signatures[0].Unknown.Set("x5c", []byte(b.String()))
}

func TestCheck(t *testing.T) {
	key := genKey(t, "ed25519")
	d := parse(t, sign(t, key, nil, ref))
	m := signature.Describe(manifest, signature.DockerManifestV2)
	other := signature.Describe(append([]byte(" "), manifest...), signature.DockerManifestV2)
	sameLen := signature.Describe([]byte(strings.Replace(string(manifest), "2", "3", 1)), signature.DockerManifestV2)
	for _, tc := range []struct {
		name string
		ref  string
		m    signature.Manifest
		want string
	}{
		{"length", ref, other, "bytes, the signature says"},
		{"digest", ref, sameLen, "manifest digest is"},
		{"media type", ref, signature.Describe(manifest, "application/vnd.oci.image.manifest.v1+json"), "media type"},
		{"unlisted", "registry.acme-rockets.io/hello-world:v2", m, "does not list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := d.Check(tc.ref, tc.m); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	refs, err := d.Match(m)
	if err != nil || len(refs) != 1 || refs[0] != ref {
		t.Fatalf("Match = %v, %v", refs, err)
	}
	if _, err := d.Match(other); err == nil {
		t.Fatal("Match found an unlisted manifest")
	}
	tgt, err := d.Target(ref)
	if err != nil || tgt.AccessedAt.IsZero() || time.Since(tgt.AccessedAt) > time.Minute {
		t.Fatalf("accessedAt %v, %v", tgt.AccessedAt, err)
	}
}

func TestExtend(t *testing.T) {
	ca := ocitest.NewCA(t, "acme")
	key, chain := ca.Issue(t, ocitest.Leaf{Hosts: []string{"registry.acme-rockets.io"}})
	base := parse(t, sign(t, key, chain, ref))
	firstExpiry := base.Expires()

	if err := base.Extend(signer(t, genKey(t, "ecdsa")), nil); err == nil || !strings.Contains(err.Error(), "not signed by this signer") {
		t.Fatalf("extending another signer's document: err = %v", err)
	}
	if err := base.Extend(signer(t, key), chain); err != nil {
		t.Fatal(err)
	}
	latest := "registry.acme-rockets.io/hello-world:latest"
	if err := base.Add(latest, signature.Describe(manifest, signature.DockerManifestV2), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := base.Sign(context.Background(), signature.SignOptions{Key: signer(t, key), Chain: chain, Expires: time.Now().Add(800 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	out, err := base.Encode()
	if err != nil {
		t.Fatal(err)
	}
	d := parse(t, out)
	if d.Version() != 2 || len(d.References()) != 2 || !d.Expires().Before(firstExpiry) {
		t.Fatalf("version %d, references %v, expires %v", d.Version(), d.References(), d.Expires())
	}
	if _, err := d.Verify(signature.Policy{Roots: ca.Pool(), MinVersion: 2}); err != nil {
		t.Fatal(err)
	}
}

func TestSignRefuses(t *testing.T) {
	ca := ocitest.NewCA(t, "acme")
	_, chain := ca.Issue(t, ocitest.Leaf{Hosts: []string{"registry.acme-rockets.io"}})
	d := signature.New()
	if err := d.Add(ref, signature.Describe(manifest, signature.DockerManifestV2), time.Now()); err != nil {
		t.Fatal(err)
	}
	err := d.Sign(context.Background(), signature.SignOptions{Key: signer(t, genKey(t, "ecdsa")), Chain: chain})
	if err == nil || !strings.Contains(err.Error(), "does not match the certificate") {
		t.Fatalf("key not matching the certificate: err = %v", err)
	}
	if err := d.Add("hello-world:v1", signature.Describe(manifest, signature.DockerManifestV2), time.Now()); err == nil {
		t.Fatal("a reference without registry was accepted")
	}
	err = d.Sign(context.Background(), signature.SignOptions{Key: signer(t, genKey(t, "ed25519")), Expires: time.Now().Add(-time.Hour)})
	if err == nil || !strings.Contains(err.Error(), "in the past") {
		t.Fatalf("expiry in the past: err = %v", err)
	}
}
