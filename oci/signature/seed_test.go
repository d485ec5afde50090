package signature_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/oci/signature"
	"github.com/rampart-tuf/rampart/tuf/canonjson"
)

// seedDoc is the envelope of a signature written by the nv2 prototype
// (Notary dialect), decoded just enough to check its signatures; its
// "signed" body is the Notary package's business.
type seedDoc struct {
	sigs   []signature.Sig
	signed []byte
	hosts  []string
}

func readSeed(t *testing.T, name string) seedDoc {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Signed struct {
			Targets map[string]json.RawMessage `json:"targets"`
		} `json:"signed"`
		RawSigned  json.RawMessage `json:"-"`
		Signatures []struct {
			KeyID  string   `json:"keyid"`
			Method string   `json:"method"`
			Sig    string   `json:"sig"`
			X5C    []string `json:"x5c"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Signed json.RawMessage `json:"signed"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	d := seedDoc{}
	if d.signed, err = canonjson.Canonicalize(raw.Signed); err != nil {
		t.Fatal(err)
	}
	for ref := range env.Signed.Targets {
		h, err := signature.Host(ref)
		if err != nil {
			t.Fatal(err)
		}
		d.hosts = append(d.hosts, h)
	}
	for _, s := range env.Signatures {
		if s.Method != "rsapss" {
			t.Fatalf("%s: method %q, want rsapss", name, s.Method)
		}
		v, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			t.Fatal(err)
		}
		sig := signature.Sig{KeyID: s.KeyID, Value: v}
		for _, c := range s.X5C {
			der, err := base64.StdEncoding.DecodeString(c)
			if err != nil {
				t.Fatal(err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			sig.Chain = append(sig.Chain, cert)
		}
		d.sigs = append(d.sigs, sig)
	}
	return d
}

var seedTime = time.Date(2020, 8, 21, 0, 0, 0, 0, time.UTC)

const (
	seedCertKeyID = "cd0e842b294d61bb73a03260b4228069a5c3d6af86842360cc53c35e58d90868"
	seedRSAKeyID  = "b18f65d69cfce50b03fe92f159726aa48f1c75b62e23f53b4ac4fda9d0739c10"
)

// TestSeedX5CSignatures verifies the seed's two genuine x5c signatures,
// RSA-PSS over the canonical JSON of "signed", against their self-signed
// certificate as of 2020-08-21, and checks that their key ID is Notary's
// rsa-x509 key ID of the certificate.
func TestSeedX5CSignatures(t *testing.T) {
	for _, name := range []string{"seed-x5c-v1.json", "seed-x5c-v2.json"} {
		t.Run(name, func(t *testing.T) {
			d := readSeed(t, name)
			if len(d.sigs) != 1 || len(d.sigs[0].Chain) != 1 {
				t.Fatalf("want one signature with a one-certificate x5c, got %+v", d.sigs)
			}
			leaf := d.sigs[0].Chain[0]
			id, err := signature.NotaryCertKeyID(leaf)
			if err != nil {
				t.Fatal(err)
			}
			if id != seedCertKeyID || d.sigs[0].KeyID != seedCertKeyID {
				t.Fatalf("Notary key ID of the certificate is %s, signature says %s, want %s", id, d.sigs[0].KeyID, seedCertKeyID)
			}
			roots := x509.NewCertPool()
			roots.AddCert(leaf)
			signers, err := signature.VerifySignatures(d.signed, d.sigs, d.hosts, signature.Policy{Roots: roots, At: seedTime})
			if err != nil {
				t.Fatal(err)
			}
			if len(signers) != 1 || signers[0].KeyID != seedCertKeyID || signers[0].Leaf.DNSNames[0] != "registry.acme-rockets.io" {
				t.Fatalf("signers = %+v", signers)
			}

			// The certificate expired on 2021-08-20.
			_, err = signature.VerifySignatures(d.signed, d.sigs, d.hosts, signature.Policy{Roots: roots, At: seedTime.AddDate(2, 0, 0)})
			if err == nil || !strings.Contains(err.Error(), "expired") {
				t.Fatalf("verifying in 2022: err = %v, want an expired certificate", err)
			}
			// Not trusted without the certificate as a root.
			_, err = signature.VerifySignatures(d.signed, d.sigs, d.hosts, signature.Policy{Roots: x509.NewCertPool(), At: seedTime})
			if err == nil || !strings.Contains(err.Error(), "unknown authority") {
				t.Fatalf("verifying with no roots: err = %v, want unknown authority", err)
			}
			// One changed byte of "signed" breaks the signature.
			tampered := []byte(strings.Replace(string(d.signed), `"length":3056`, `"length":3057`, 1))
			_, err = signature.VerifySignatures(tampered, d.sigs, d.hosts, signature.Policy{Roots: roots, At: seedTime})
			if err == nil || !strings.Contains(err.Error(), "does not match") {
				t.Fatalf("tampered document: err = %v", err)
			}
		})
	}
}

// TestSeedBareKeySignature verifies the seed's signature without x5c with
// the certificate trusted directly; its key ID is Notary's rsa key ID.
func TestSeedBareKeySignature(t *testing.T) {
	withCert := readSeed(t, "seed-x5c-v1.json")
	leaf := withCert.sigs[0].Chain[0]
	d := readSeed(t, "seed-nocert-v1.json")
	id, err := signature.NotaryKeyID(leaf.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if id != seedRSAKeyID || d.sigs[0].KeyID != seedRSAKeyID {
		t.Fatalf("Notary rsa key ID %s, signature says %s, want %s", id, d.sigs[0].KeyID, seedRSAKeyID)
	}
	if _, err := signature.VerifySignatures(d.signed, d.sigs, d.hosts, signature.Policy{Certs: []*x509.Certificate{leaf}, At: seedTime}); err != nil {
		t.Fatal(err)
	}
	if _, err := signature.VerifySignatures(d.signed, d.sigs, d.hosts, signature.Policy{At: seedTime}); err == nil {
		t.Fatal("a signature without x5c verified with no trusted certificate")
	}
}
