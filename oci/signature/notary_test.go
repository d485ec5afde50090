package signature_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/internal/ocitest"
	"github.com/rampart-tuf/rampart/oci/signature"
	"github.com/rampart-tuf/rampart/tuf/notary"
)

// TestSeedDocuments reads the nv2 prototype's documents whole, in Notary's
// dialect, and verifies them as of 2020-08-21.
func TestSeedDocuments(t *testing.T) {
	leaf := readSeed(t, "seed-x5c-v1.json").sigs[0].Chain[0]
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	for _, tc := range []struct {
		file    string
		policy  signature.Policy
		keyID   string
		version int64
		refs    int
	}{
		{"seed-x5c-v1.json", signature.Policy{Roots: roots, At: seedTime}, seedCertKeyID, 1, 1},
		{"seed-x5c-v2.json", signature.Policy{Roots: roots, At: seedTime, MinVersion: 2}, seedCertKeyID, 2, 2},
		{"seed-nocert-v1.json", signature.Policy{Certs: []*x509.Certificate{leaf}, At: seedTime}, seedRSAKeyID, 1, 1},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			d, err := signature.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if d.Format() != signature.FormatNotary || d.Version() != tc.version || len(d.References()) != tc.refs {
				t.Fatalf("format %s, version %d, references %v", d.Format(), d.Version(), d.References())
			}
			signers, err := d.Verify(tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			if signers[0].KeyID != tc.keyID {
				t.Fatalf("signer %s, want %s", signers[0].KeyID, tc.keyID)
			}
			tgt, err := d.Target("registry.acme-rockets.io/hello-world:v1")
			if err != nil {
				t.Fatal(err)
			}
			if tgt.Manifest.Length != 3056 || tgt.Manifest.MediaType != signature.DockerManifestV2 ||
				base64.StdEncoding.EncodeToString(tgt.Manifest.SHA256[:]) != "JKdJAKTnSe8xKV5aq95wk+MkSxGVgr1uZLGojHHEENA=" {
				t.Fatalf("target %+v", tgt.Manifest)
			}
			// Expired since 2021-08-16.
			p := tc.policy
			p.At = time.Date(2021, 8, 17, 0, 0, 0, 0, time.UTC)
			if _, err := d.Verify(p); err == nil {
				t.Fatal("verified after expiry")
			}
		})
	}
}

// TestSignNotary writes the nv2 format and checks it as a Notary verifier
// would: the key listed by certificate, base64 hashes, methods.
func TestSignNotary(t *testing.T) {
	ca := ocitest.NewCA(t, "acme")
	for _, keyType := range []string{"ecdsa", "rsa"} {
		t.Run(keyType, func(t *testing.T) {
			key, chain := ca.Issue(t, ocitest.Leaf{Key: genKey(t, keyType), Hosts: []string{"registry.acme-rockets.io"}})
			d := signature.New()
			m := signature.Describe(manifest, signature.DockerManifestV2)
			if err := d.Add(ref, m, time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := d.Sign(context.Background(), signature.SignOptions{Key: signer(t, key), Chain: chain, Format: signature.FormatNotary}); err != nil {
				t.Fatal(err)
			}
			out, err := d.Encode()
			if err != nil {
				t.Fatal(err)
			}
			var shape struct {
				Signed struct {
					Type        string `json:"_type"`
					Delegations struct {
						Keys  map[string]any `json:"keys"`
						Roles []any          `json:"roles"`
					} `json:"delegations"`
					Targets map[string]struct {
						Custom map[string]string `json:"custom"`
						Hashes map[string]string `json:"hashes"`
					} `json:"targets"`
				} `json:"signed"`
				Signatures []struct {
					KeyID, Method, Sig string
					X5C                []string
				} `json:"signatures"`
			}
			if err := json.Unmarshal(out, &shape); err != nil {
				t.Fatal(err)
			}
			tgt := shape.Signed.Targets[ref]
			wantMethod := map[string]string{"ecdsa": "ecdsa", "rsa": "rsapss"}[keyType]
			if shape.Signed.Type != "Targets" || shape.Signed.Delegations.Keys == nil || shape.Signed.Delegations.Roles == nil ||
				tgt.Hashes["sha256"] != base64.StdEncoding.EncodeToString(m.SHA256[:]) || len(tgt.Hashes) != 1 ||
				tgt.Custom["mediaType"] != signature.DockerManifestV2 || tgt.Custom["accessedAt"] == "" ||
				len(shape.Signatures) != 1 || shape.Signatures[0].Method != wantMethod || len(shape.Signatures[0].X5C) != 2 {
				t.Fatalf("not the nv2 format:\n%s", out)
			}
			id, _ := signature.NotaryCertKeyID(chain[0])
			if shape.Signatures[0].KeyID != id {
				t.Fatalf("key ID %s, want Notary's x509 key ID %s", shape.Signatures[0].KeyID, id)
			}
			// A Notary verifier that trusts the certificate accepts it.
			nd, err := notary.ParseAs(out, notary.TypeTargets)
			if err != nil {
				t.Fatal(err)
			}
			ck, err := notary.NewCertKey(chain[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := nd.Verify(map[string]notary.Key{id: ck}, notary.RoleKeys{KeyIDs: []string{id}, Threshold: 1}); err != nil {
				t.Fatal(err)
			}
			// And so does this package, also after a round trip.
			back := parse(t, out)
			if _, err := back.Verify(signature.Policy{Roots: ca.Pool()}); err != nil {
				t.Fatal(err)
			}
			if err := back.Check(ref, m); err != nil {
				t.Fatal(err)
			}
			// Extending keeps the dialect when asked, and bumps the version.
			if err := back.Extend(signer(t, key), chain); err != nil {
				t.Fatal(err)
			}
			latest := "registry.acme-rockets.io/hello-world:latest"
			if err := back.Add(latest, m, time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := back.Sign(context.Background(), signature.SignOptions{Key: signer(t, key), Chain: chain, Format: signature.FormatNotary}); err != nil {
				t.Fatal(err)
			}
			out2, _ := back.Encode()
			v2 := parse(t, out2)
			if _, err := v2.Verify(signature.Policy{Roots: ca.Pool(), MinVersion: 2}); err != nil || len(v2.References()) != 2 || !strings.Contains(string(out2), `"_type":"Targets"`) {
				t.Fatalf("version 2: %v, %v", err, v2.References())
			}
		})
	}
}

func TestSignNotaryBareKey(t *testing.T) {
	for _, keyType := range []string{"ed25519", "ecdsa"} {
		key := genKey(t, keyType)
		_, cert := ocitest.SelfSigned(t, ocitest.Leaf{Key: key, Hosts: []string{"registry.acme-rockets.io"}})
		d := signature.New()
		if err := d.Add(ref, signature.Describe(manifest, signature.DockerManifestV2), time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := d.Sign(context.Background(), signature.SignOptions{Key: signer(t, key), Format: signature.FormatNotary}); err != nil {
			t.Fatal(err)
		}
		out, _ := d.Encode()
		if strings.Contains(string(out), "x5c") {
			t.Fatal("x5c without a certificate")
		}
		if _, err := parse(t, out).Verify(signature.Policy{Certs: []*x509.Certificate{cert}}); err != nil {
			t.Fatalf("%s: %v", keyType, err)
		}
	}
}
