package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The fixtures in testdata are made by testdata/gen.sh with OpenSSL.

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixtureSigner(t testing.TB, name string) crypto.Signer {
	t.Helper()
	s, err := ParsePrivatePEM(fixture(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

// pemBytes returns the DER bytes of the only PEM block in a fixture.
func pemBytes(t testing.TB, name string) []byte {
	t.Helper()
	b, _ := pem.Decode(fixture(t, name))
	if b == nil {
		t.Fatalf("%s: no PEM", name)
	}
	return b.Bytes
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func ed25519Hex(t testing.TB) string {
	return hex.EncodeToString(fixtureSigner(t, "ed25519.pem").Public().(ed25519.PublicKey))
}

func mustVerifier(t testing.TB, k PublicKey) Verifier {
	t.Helper()
	v, err := NewVerifier(k)
	if err != nil {
		t.Fatalf("NewVerifier(%+v): %v", k, err)
	}
	return v
}

// rawRS converts a DER ECDSA signature to Notary's fixed-size r||s form.
func rawRS(t testing.TB, der []byte, size int) []byte {
	t.Helper()
	var s struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &s); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 2*size)
	s.R.FillBytes(out[:size])
	s.S.FillBytes(out[size:])
	return out
}

func flipLast(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)-1] ^= 1
	return c
}

// TestOpenSSLSignatures verifies signatures made by OpenSSL, with the keys
// listed in every supported way.
func TestOpenSSLSignatures(t *testing.T) {
	msg := fixture(t, "message.bin")
	p256 := string(fixture(t, "ecdsa-p256.pub.pem"))
	p256Cert := string(fixture(t, "ecdsa-p256.crt"))
	rsaPub := string(fixture(t, "rsa-2048.pub.pem"))
	rsaCert := string(fixture(t, "rsa-2048.crt"))
	tests := []struct {
		name string
		key  PublicKey
		sig  string
	}{
		{"ed25519", PublicKey{"ed25519", "ed25519", ed25519Hex(t)}, "ed25519.sig"},
		{"ed25519 upper-case hex", PublicKey{"ed25519", "ed25519", strings.ToUpper(ed25519Hex(t))}, "ed25519.sig"},
		{"p256", PublicKey{"ecdsa", "ecdsa-sha2-nistp256", p256}, "ecdsa-p256.sig"},
		{"p256 legacy keytype", PublicKey{"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", p256}, "ecdsa-p256.sig"},
		{"p256 certificate", PublicKey{"ecdsa", "ecdsa-sha2-nistp256", p256Cert}, "ecdsa-p256.sig"},
		{"p256 ecdsa-x509", PublicKey{"ecdsa-x509", "", p256Cert}, "ecdsa-p256.sig"},
		{"p256 ecdsa-x509 with scheme", PublicKey{"ecdsa-x509", "ecdsa-sha2-nistp256", p256Cert}, "ecdsa-p256.sig"},
		{"p256 no scheme", PublicKey{"ecdsa", "", p256}, "ecdsa-p256.sig"},
		{"p384", PublicKey{"ecdsa", "ecdsa-sha2-nistp384", string(fixture(t, "ecdsa-p384.pub.pem"))}, "ecdsa-p384.sig"},
		{"p384 legacy keytype", PublicKey{"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384", string(fixture(t, "ecdsa-p384.pub.pem"))}, "ecdsa-p384.sig"},
		{"p384 certificate", PublicKey{"ecdsa", "ecdsa-sha2-nistp384", string(fixture(t, "ecdsa-p384.crt"))}, "ecdsa-p384.sig"},
		{"p384 no scheme", PublicKey{"ecdsa-x509", "", string(fixture(t, "ecdsa-p384.crt"))}, "ecdsa-p384.sig"},
		{"p521", PublicKey{"ecdsa", "ecdsa-sha2-nistp521", string(fixture(t, "ecdsa-p521.pub.pem"))}, "ecdsa-p521.sig"},
		{"p521 certificate", PublicKey{"ecdsa", "ecdsa-sha2-nistp521", string(fixture(t, "ecdsa-p521.crt"))}, "ecdsa-p521.sig"},
		{"rsa pss salt=hash", PublicKey{"rsa", "rsassa-pss-sha256", rsaPub}, "rsa-2048-pss-digest.sig"},
		{"rsa pss salt=max", PublicKey{"rsa", "rsassa-pss-sha256", rsaPub}, "rsa-2048-pss-max.sig"},
		{"rsa certificate", PublicKey{"rsa", "rsassa-pss-sha256", rsaCert}, "rsa-2048-pss-digest.sig"},
		{"rsa-x509", PublicKey{"rsa-x509", "", rsaCert}, "rsa-2048-pss-max.sig"},
		{"rsa no scheme", PublicKey{"rsa", "", rsaPub}, "rsa-2048-pss-digest.sig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := mustVerifier(t, tt.key)
			sig := fixture(t, tt.sig)
			if err := v.Verify(msg, sig); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if err := v.Verify(flipLast(msg), sig); !errors.Is(err, ErrVerification) {
				t.Errorf("Verify(tampered message) = %v, want ErrVerification", err)
			}
			if err := v.Verify(msg, flipLast(sig)); err == nil {
				t.Errorf("Verify(tampered signature) succeeded")
			}
			if err := v.Verify(msg, nil); !errors.Is(err, ErrMalformedSignature) {
				t.Errorf("Verify(no signature) = %v, want ErrMalformedSignature", err)
			}
			if err := v.Verify(msg, sig[:len(sig)-1]); !errors.Is(err, ErrMalformedSignature) {
				t.Errorf("Verify(truncated signature) = %v, want ErrMalformedSignature", err)
			}
		})
	}
}

var (
	rsa3072Once sync.Once
	rsa3072     crypto.Signer
)

// generated returns a key made by Generate; RSA keys are made once.
func generated(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	if kind == "rsa" {
		rsa3072Once.Do(func() {
			var err error
			if rsa3072, err = Generate("rsa"); err != nil {
				t.Fatal(err)
			}
		})
		if rsa3072 == nil {
			t.Fatal("no RSA key")
		}
		return rsa3072
	}
	s, err := Generate(kind)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignVerifyRoundTrip(t *testing.T) {
	tests := []struct {
		kind, scheme         string
		wantType, wantScheme string
	}{
		{"ed25519", "", "ed25519", "ed25519"},
		{"ed25519", "ed25519", "ed25519", "ed25519"},
		{"ecdsa", "", "ecdsa", "ecdsa-sha2-nistp256"},
		{"ecdsa", "ecdsa-sha2-nistp256", "ecdsa", "ecdsa-sha2-nistp256"},
		{"ecdsa-p384", "", "ecdsa", "ecdsa-sha2-nistp384"},
		{"ecdsa-p384", "ecdsa-sha2-nistp384", "ecdsa", "ecdsa-sha2-nistp384"},
		{"ecdsa-p521", "", "ecdsa", "ecdsa-sha2-nistp521"},
		{"rsa", "", "rsa", "rsassa-pss-sha256"},
		{"rsa", "rsassa-pss-sha256", "rsa", "rsassa-pss-sha256"},
	}
	msg := []byte(`{"signed":{"_type":"targets"}}`)
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.scheme, func(t *testing.T) {
			s, err := NewSigner(generated(t, tt.kind), tt.scheme)
			if err != nil {
				t.Fatal(err)
			}
			pk := s.PublicKey()
			if pk.Type != tt.wantType || pk.Scheme != tt.wantScheme {
				t.Fatalf("PublicKey() = %s/%s, want %s/%s", pk.Type, pk.Scheme, tt.wantType, tt.wantScheme)
			}
			sig, err := s.Sign(context.Background(), msg)
			if err != nil {
				t.Fatal(err)
			}
			v := mustVerifier(t, pk)
			if err := v.Verify(msg, sig); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if err := v.Verify(append(bytes.Clone(msg), ' '), sig); !errors.Is(err, ErrVerification) {
				t.Errorf("Verify(tampered message) = %v, want ErrVerification", err)
			}
			if err := v.Verify(msg, flipLast(sig)); err == nil {
				t.Errorf("Verify(tampered signature) succeeded")
			}
		})
	}
}

func TestRSASignatureFormat(t *testing.T) {
	// Signatures must use a salt as long as the hash: a verifier that
	// insists on that (as Notary's does) must accept them.
	s, err := NewSigner(fixtureSigner(t, "rsa-2048.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("message")
	sig, err := s.Sign(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	pub := fixtureSigner(t, "rsa-2048.pem").Public().(*rsa.PublicKey)
	d := digest(crypto.SHA256, msg)
	if err := rsa.VerifyPSS(pub, crypto.SHA256, d, sig, &rsa.PSSOptions{SaltLength: 32}); err != nil {
		t.Errorf("signature does not verify with salt length 32: %v", err)
	}
}

func TestECDSASignatureFormat(t *testing.T) {
	// ECDSA signatures are DER, hashed as the scheme says.
	for _, tt := range []struct {
		kind string
		hash crypto.Hash
	}{{"ecdsa", crypto.SHA256}, {"ecdsa-p384", crypto.SHA384}, {"ecdsa-p521", crypto.SHA512}} {
		priv := generated(t, tt.kind)
		s, err := NewSigner(priv, "")
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte("message")
		sig, err := s.Sign(context.Background(), msg)
		if err != nil {
			t.Fatal(err)
		}
		if !ecdsa.VerifyASN1(priv.Public().(*ecdsa.PublicKey), digest(tt.hash, msg), sig) {
			t.Errorf("%s: signature is not DER over %v", tt.kind, tt.hash)
		}
	}
}

func TestWrongCurveForScheme(t *testing.T) {
	p256 := string(fixture(t, "ecdsa-p256.pub.pem"))
	p384 := string(fixture(t, "ecdsa-p384.pub.pem"))
	p384Cert := string(fixture(t, "ecdsa-p384.crt"))
	tests := []struct {
		key  PublicKey
		want string
	}{
		{PublicKey{"ecdsa", "ecdsa-sha2-nistp256", p384}, "curve P-384, scheme ecdsa-sha2-nistp256 needs P-256"},
		{PublicKey{"ecdsa", "ecdsa-sha2-nistp384", p256}, "curve P-256, scheme ecdsa-sha2-nistp384 needs P-384"},
		{PublicKey{"ecdsa", "ecdsa-sha2-nistp521", p256}, "curve P-256, scheme ecdsa-sha2-nistp521 needs P-521"},
		{PublicKey{"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", p384}, "needs P-256"},
		{PublicKey{"ecdsa-sha2-nistp256", "", p384}, "needs P-256"},
		{PublicKey{"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384", p256}, "needs P-384"},
		{PublicKey{"ecdsa", "ecdsa-sha2-nistp256", p384Cert}, "needs P-256"},
		{PublicKey{"ecdsa-x509", "ecdsa-sha2-nistp256", p384Cert}, "needs P-256"},
	}
	for _, tt := range tests {
		_, err := NewVerifier(tt.key)
		if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewVerifier(%s/%s) = %v, want ErrInvalidKey mentioning %q", tt.key.Type, tt.key.Scheme, err, tt.want)
		}
	}

	p384Key := fixtureSigner(t, "ecdsa-p384.pem")
	if _, err := NewSigner(p384Key, "ecdsa-sha2-nistp256"); !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), "needs P-256") {
		t.Errorf("NewSigner(P-384 key, nistp256) = %v", err)
	}
	if _, err := PublicKeyFor(p384Key.Public(), "ecdsa-sha2-nistp256"); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("PublicKeyFor(P-384 key, nistp256) = %v", err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSigner(p224, ""); !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), "P-224") {
		t.Errorf("NewSigner(P-224 key) = %v", err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&p224.PublicKey)
	p224PEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if _, err := NewVerifier(PublicKey{"ecdsa", "", p224PEM}); !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), "P-224") {
		t.Errorf("NewVerifier(P-224 key) = %v", err)
	}
}

func TestRSATooSmall(t *testing.T) {
	small := string(fixture(t, "rsa-1024.pub.pem"))
	for _, k := range []PublicKey{{"rsa", "rsassa-pss-sha256", small}, {"rsa", "", small}} {
		_, err := NewVerifier(k)
		if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), "1024 bits") {
			t.Errorf("NewVerifier(1024-bit key) = %v", err)
		}
	}
	priv, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSigner(priv, ""); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("NewSigner(1024-bit key) = %v", err)
	}
	if _, err := PublicKeyFor(&priv.PublicKey, ""); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("PublicKeyFor(1024-bit key) = %v", err)
	}
	if _, err := PublicKeyFor(&rsa.PublicKey{N: big.NewInt(1), E: 3}, ""); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("PublicKeyFor(bad key) = %v", err)
	}
	if _, err := PublicKeyFor(&rsa.PublicKey{N: priv.N, E: 65536}, ""); err == nil {
		t.Errorf("PublicKeyFor(even exponent) succeeded")
	}
}

var hexID = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestIdentity(t *testing.T) {
	p256 := fixture(t, "ecdsa-p256.pub.pem")
	p256Cert := fixture(t, "ecdsa-p256.crt")
	p256Pub := fixtureSigner(t, "ecdsa-p256.pem").Public()
	p256For, err := PublicKeyFor(p256Pub, "")
	if err != nil {
		t.Fatal(err)
	}
	rsaPub := fixture(t, "rsa-2048.pub.pem")
	rsaCert := fixture(t, "rsa-2048.crt")
	edHex := ed25519Hex(t)
	edRaw, _ := hex.DecodeString(edHex)

	groups := map[string][]PublicKey{
		"p256": {
			{"ecdsa", "ecdsa-sha2-nistp256", string(p256)},
			{"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", string(p256)},
			{"ecdsa-sha2-nistp256", "", string(p256)},
			{"ecdsa", "", string(p256)},
			{"ecdsa", "ecdsa-sha2-nistp256", string(p256Cert)},
			{"ecdsa-x509", "", string(p256Cert)},
			{"ecdsa-x509", "", b64(p256Cert)},                     // Notary's form
			{"ecdsa", "", b64(pemBytes(t, "ecdsa-p256.pub.pem"))}, // Notary's form
			p256For,
		},
		"rsa": {
			{"rsa", "rsassa-pss-sha256", string(rsaPub)},
			{"rsa", "rsassa-pss-sha256", string(rsaCert)},
			{"rsa-x509", "", string(rsaCert)},
			{"rsa-x509", "rsassa-pss-sha256", b64(rsaCert)},
			{"rsa", "", b64(pemBytes(t, "rsa-2048.pub.pem"))},
		},
		"ed25519": {
			{"ed25519", "ed25519", edHex},
			{"ed25519", "ed25519", strings.ToUpper(edHex)},
			{"ed25519", "", b64(edRaw)}, // Notary's form
		},
		"p384": {
			{"ecdsa", "ecdsa-sha2-nistp384", string(fixture(t, "ecdsa-p384.pub.pem"))},
			{"ecdsa", "ecdsa-sha2-nistp384", string(fixture(t, "ecdsa-p384.crt"))},
		},
	}
	pubs := map[string]crypto.PublicKey{
		"p256":    p256Pub,
		"rsa":     fixtureSigner(t, "rsa-2048.pem").Public(),
		"ed25519": fixtureSigner(t, "ed25519.pem").Public(),
		"p384":    fixtureSigner(t, "ecdsa-p384.pem").Public(),
	}
	seen := map[string]string{}
	for name, keys := range groups {
		want, err := Identity(pubs[name])
		if err != nil {
			t.Fatal(err)
		}
		if !hexID.MatchString(want) {
			t.Errorf("Identity = %q, want 64 lower-case hex digits", want)
		}
		if other, ok := seen[want]; ok {
			t.Errorf("%s and %s have the same identity", name, other)
		}
		seen[want] = name
		for _, k := range keys {
			v := mustVerifier(t, k)
			if got := v.Identity(); got != want {
				t.Errorf("%s: Identity of %s/%s = %s, want %s", name, k.Type, k.Scheme, got, want)
			}
		}
	}
	if _, err := Identity("not a key"); err == nil {
		t.Error("Identity(string) succeeded")
	}
}

func TestCertificate(t *testing.T) {
	v := mustVerifier(t, PublicKey{"ecdsa-x509", "", string(fixture(t, "ecdsa-p256.crt"))})
	c := Certificate(v)
	if c == nil || c.Subject.CommonName != "rampart keys test p256" {
		t.Fatalf("Certificate = %v", c)
	}
	if !c.PublicKey.(*ecdsa.PublicKey).Equal(v.Public()) {
		t.Error("Public() is not the certificate's key")
	}
	v = mustVerifier(t, PublicKey{"rsa", "rsassa-pss-sha256", string(fixture(t, "rsa-2048.crt"))})
	if c := Certificate(v); c == nil || c.Subject.CommonName != "rampart keys test rsa" {
		t.Fatalf("Certificate = %v", c)
	}
	if c := Certificate(mustVerifier(t, PublicKey{"ecdsa", "ecdsa-sha2-nistp256", string(fixture(t, "ecdsa-p256.pub.pem"))})); c != nil {
		t.Errorf("Certificate of a bare key = %v, want nil", c)
	}
	if c := Certificate(mustVerifier(t, PublicKey{"ed25519", "ed25519", ed25519Hex(t)})); c != nil {
		t.Errorf("Certificate of an Ed25519 key = %v, want nil", c)
	}
	if c := Certificate(fakeVerifier{}); c != nil {
		t.Errorf("Certificate of another Verifier = %v, want nil", c)
	}
}

type fakeVerifier struct{}

func (fakeVerifier) Verify(message, sig []byte) error { return nil }
func (fakeVerifier) Identity() string                 { return "" }
func (fakeVerifier) Public() crypto.PublicKey         { return nil }

func TestNotarySignatures(t *testing.T) {
	msg := fixture(t, "message.bin")
	raw := rawRS(t, fixture(t, "ecdsa-p256.sig"), 32)
	cert := string(fixture(t, "ecdsa-p256.crt"))
	for _, k := range []PublicKey{
		{"ecdsa-x509", "", cert},
		{"ecdsa-x509", "", b64([]byte(cert))},
		{"ecdsa", "", b64(pemBytes(t, "ecdsa-p256.pub.pem"))},
	} {
		v := mustVerifier(t, k)
		if err := v.Verify(msg, raw); err != nil {
			t.Errorf("%s/%q: Verify(r||s) = %v", k.Type, k.Scheme, err)
		}
		if err := v.Verify(flipLast(msg), raw); !errors.Is(err, ErrVerification) {
			t.Errorf("%s: Verify(r||s, tampered message) = %v", k.Type, err)
		}
		if err := v.Verify(msg, raw[:63]); !errors.Is(err, ErrMalformedSignature) {
			t.Errorf("%s: Verify(63-byte r||s) = %v", k.Type, err)
		}
	}
	// TUF keys take only DER.
	v := mustVerifier(t, PublicKey{"ecdsa", "ecdsa-sha2-nistp256", string(fixture(t, "ecdsa-p256.pub.pem"))})
	if err := v.Verify(msg, raw); !errors.Is(err, ErrMalformedSignature) {
		t.Errorf("TUF key: Verify(r||s) = %v, want ErrMalformedSignature", err)
	}
	// r||s with a zero half.
	v = mustVerifier(t, PublicKey{"ecdsa", "", string(fixture(t, "ecdsa-p256.pub.pem"))})
	if err := v.Verify(msg, make([]byte, 64)); err == nil {
		t.Error("Verify(zero r||s) succeeded")
	}
	// Notary's base64 form is only for Notary keys.
	for _, k := range []PublicKey{
		{"ecdsa", "ecdsa-sha2-nistp256", b64(pemBytes(t, "ecdsa-p256.pub.pem"))},
		{"ed25519", "ed25519", b64(fixtureSigner(t, "ed25519.pem").Public().(ed25519.PublicKey))},
	} {
		if _, err := NewVerifier(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("NewVerifier(%s/%s, base64) = %v, want ErrInvalidKey", k.Type, k.Scheme, err)
		}
	}
}

func TestUnsupported(t *testing.T) {
	p256 := string(fixture(t, "ecdsa-p256.pub.pem"))
	rsaPub := string(fixture(t, "rsa-2048.pub.pem"))
	tests := []PublicKey{
		{"", "", ""},
		{"dsa", "dsa-sha256", p256},
		{"ECDSA", "ecdsa-sha2-nistp256", p256},
		{"ed448", "ed448", "00"},
		{"mldsa", "ml-dsa-65", p256},
		{"ed25519", "ecdsa-sha2-nistp256", ed25519Hex(t)},
		{"ed25519", "eddsa", ed25519Hex(t)}, // Notary's signature method, not a scheme
		{"ecdsa", "ecdsa", p256},            // Notary's signature method, not a scheme
		{"ecdsa", "rsassa-pss-sha256", p256},
		{"ecdsa", "ecdsa-sha2-nistp224", p256},
		{"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", p256},
		{"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp256", p256},
		{"rsa", "rsassa-pss-sha512", rsaPub},
		{"rsa", "rsa-pkcs1v15-sha256", rsaPub},
		{"rsa", "rsapss", rsaPub},
		{"rsa", "rsapss-sha256", rsaPub},
		{"rsa-x509", "rsapkcs1v15", rsaPub},
		{"rsa", "ecdsa-sha2-nistp256", rsaPub},
	}
	for _, k := range tests {
		_, err := NewVerifier(k)
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("NewVerifier(%q/%q) = %v, want ErrUnsupported", k.Type, k.Scheme, err)
			continue
		}
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Type != k.Type || ke.Scheme != k.Scheme {
			t.Errorf("NewVerifier(%q/%q): error %#v does not name the key", k.Type, k.Scheme, err)
		}
	}
	if _, err := Generate("dsa"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Generate(dsa) = %v", err)
	}
}

func TestInvalidKey(t *testing.T) {
	p256 := string(fixture(t, "ecdsa-p256.pub.pem"))
	p256Cert := string(fixture(t, "ecdsa-p256.crt"))
	rsaPub := string(fixture(t, "rsa-2048.pub.pem"))
	edHex := ed25519Hex(t)
	edPKIX, _ := x509.MarshalPKIXPublicKey(fixtureSigner(t, "ed25519.pem").Public())
	edPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: edPKIX}))
	rsaPKCS1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(fixtureSigner(t, "rsa-2048.pem").Public().(*rsa.PublicKey))}))
	tests := []struct {
		key  PublicKey
		want string
	}{
		{PublicKey{"ed25519", "ed25519", ""}, "0 characters"},
		{PublicKey{"ed25519", "ed25519", edHex[:62]}, "62 characters"},
		{PublicKey{"ed25519", "ed25519", edHex + "00"}, "66 characters"},
		{PublicKey{"ed25519", "ed25519", "zz" + edHex[2:]}, "not hex"},
		{PublicKey{"ed25519", "ed25519", edPEM}, "characters"},
		{PublicKey{"ed25519", "", strings.Repeat("!", 44)}, "base64"},
		{PublicKey{"ecdsa", "ecdsa-sha2-nistp256", ""}, "not PEM"},
		{PublicKey{"ecdsa", "ecdsa-sha2-nistp256", "hello"}, "not PEM"},
		{PublicKey{"ecdsa", "ecdsa-sha2-nistp256", "-----BEGIN PUBLIC KEY-----\nAAAA\n"}, "not valid PEM"},
		{PublicKey{"ecdsa", "ecdsa-sha2-nistp256", "junk" + p256}, "not PEM"},
		{PublicKey{"ecdsa", "ecdsa-sha2-nistp256", p256 + "junk"}, "data after its PEM block"},
		{PublicKey{"ecdsa", "ecdsa-sha2-nistp256", p256 + p256}, "data after its PEM block"},
		{PublicKey{"ecdsa", "ecdsa-sha2-nistp256", strings.Replace(p256, "PUBLIC KEY", "PRIVATE KEY", 2)}, `PEM block type is "PRIVATE KEY"`},
		{PublicKey{"ecdsa", "ecdsa-sha2-nistp256", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}, "malformed ASN.1 DER"},
		{PublicKey{"ecdsa", "ecdsa-sha2-nistp256", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, "malformed certificate"},
		{PublicKey{"ecdsa", "ecdsa-sha2-nistp256", rsaPub}, "holds an RSA key, not an ECDSA key"},
		{PublicKey{"ecdsa", "ecdsa-sha2-nistp256", edPEM}, "holds an Ed25519 key"},
		{PublicKey{"ecdsa", "", edPEM}, "holds an Ed25519 key"},
		{PublicKey{"ecdsa-x509", "", p256}, "needs a PEM CERTIFICATE"},
		{PublicKey{"ecdsa-x509", "", string(fixture(t, "rsa-2048.crt"))}, "holds an RSA key"},
		{PublicKey{"ecdsa-x509", "", "%%%"}, "neither PEM nor base64"},
		{PublicKey{"ecdsa", "", b64([]byte("garbage"))}, "malformed ASN.1 DER"},
		{PublicKey{"rsa", "rsassa-pss-sha256", p256}, "holds an ECDSA key, not an RSA key"},
		{PublicKey{"rsa", "rsassa-pss-sha256", p256Cert}, "holds an ECDSA key"},
		{PublicKey{"rsa", "rsassa-pss-sha256", rsaPKCS1}, `PEM block type is "RSA PUBLIC KEY"`},
		{PublicKey{"rsa-x509", "", rsaPub}, "needs a PEM CERTIFICATE"},
		{PublicKey{"rsa", "rsassa-pss-sha256", strings.Repeat("A", MaxPublicValueSize+1)}, "more than the limit"},
	}
	for _, tt := range tests {
		_, err := NewVerifier(tt.key)
		if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewVerifier(%s/%s, %.40q) = %v, want ErrInvalidKey mentioning %q", tt.key.Type, tt.key.Scheme, tt.key.Value, err, tt.want)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	msg := fixture(t, "message.bin")
	ed := mustVerifier(t, PublicKey{"ed25519", "ed25519", ed25519Hex(t)})
	p256 := mustVerifier(t, PublicKey{"ecdsa", "ecdsa-sha2-nistp256", string(fixture(t, "ecdsa-p256.pub.pem"))})
	rsaV := mustVerifier(t, PublicKey{"rsa", "rsassa-pss-sha256", string(fixture(t, "rsa-2048.pub.pem"))})
	tests := []struct {
		err  error
		want string
	}{
		{ed.Verify(msg, make([]byte, 63)), "keys: ed25519/ed25519: malformed signature: signature is 63 bytes, want 64"},
		{ed.Verify(msg, make([]byte, 64)), "keys: ed25519/ed25519: signature does not match"},
		{p256.Verify(msg, []byte{0x30, 0}), "keys: ecdsa/ecdsa-sha2-nistp256: malformed signature: signature of 2 bytes is not an ASN.1 DER"},
		{p256.Verify(msg, fixture(t, "ecdsa-p384.sig")), "keys: ecdsa/ecdsa-sha2-nistp256: signature does not match"},
		{rsaV.Verify(msg, make([]byte, 255)), "keys: rsa/rsassa-pss-sha256: malformed signature: signature is 255 bytes, want 256 for a 2048-bit key"},
		{rsaV.Verify(msg, make([]byte, 256)), "keys: rsa/rsassa-pss-sha256: signature does not match"},
	}
	for _, tt := range tests {
		if tt.err == nil || !strings.HasPrefix(tt.err.Error(), tt.want) {
			t.Errorf("error = %v, want prefix %q", tt.err, tt.want)
		}
	}

	// Names from metadata are quoted and shortened when they are odd.
	_, err := NewVerifier(PublicKey{Type: "evil\n\x00" + strings.Repeat("x", 100), Scheme: "ok"})
	if err == nil || strings.ContainsAny(err.Error(), "\n\x00") || len(err.Error()) > 120 || !strings.Contains(err.Error(), `"evil\n\x00xx`) {
		t.Errorf("error = %q", err)
	}
	_, err = NewVerifier(PublicKey{Type: "rsa-x509", Value: "x"})
	if err == nil || !strings.HasPrefix(err.Error(), "keys: rsa-x509: invalid key: ") {
		t.Errorf("error = %q", err)
	}
}

func TestPublicKeyFor(t *testing.T) {
	edPub := fixtureSigner(t, "ed25519.pem").Public()
	k, err := PublicKeyFor(edPub, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := (PublicKey{"ed25519", "ed25519", ed25519Hex(t)}); k != want {
		t.Errorf("PublicKeyFor(ed25519) = %+v, want %+v", k, want)
	}
	k, err = PublicKeyFor(fixtureSigner(t, "ecdsa-p256.pem").Public(), "ecdsa-sha2-nistp256")
	if err != nil {
		t.Fatal(err)
	}
	// The PEM is byte for byte what OpenSSL (and securesystemslib) write.
	if want := (PublicKey{"ecdsa", "ecdsa-sha2-nistp256", string(fixture(t, "ecdsa-p256.pub.pem"))}); k != want {
		t.Errorf("PublicKeyFor(P-256) = %+v, want %+v", k, want)
	}
	k, err = PublicKeyFor(fixtureSigner(t, "rsa-2048.pem").Public(), "")
	if err != nil {
		t.Fatal(err)
	}
	if want := (PublicKey{"rsa", "rsassa-pss-sha256", string(fixture(t, "rsa-2048.pub.pem"))}); k != want {
		t.Errorf("PublicKeyFor(RSA) = %+v, want %+v", k, want)
	}

	for _, tt := range []struct {
		pub    crypto.PublicKey
		scheme string
		kind   error
	}{
		{edPub, "ecdsa-sha2-nistp256", ErrUnsupported},
		{ed25519.PublicKey(make([]byte, 31)), "", ErrInvalidKey},
		{fixtureSigner(t, "ecdsa-p256.pem").Public(), "rsassa-pss-sha256", ErrUnsupported},
		{fixtureSigner(t, "ecdsa-p256.pem").Public(), "ecdsa-sha2-nistp384", ErrInvalidKey},
		{fixtureSigner(t, "rsa-2048.pem").Public(), "rsassa-pss-sha512", ErrUnsupported},
		{(*ecdsa.PublicKey)(nil), "", ErrInvalidKey},
		{&ecdsa.PublicKey{}, "", ErrInvalidKey},
		{(*rsa.PublicKey)(nil), "", ErrInvalidKey},
		{&rsa.PublicKey{}, "", ErrInvalidKey},
		{nil, "", ErrUnsupported},
		{"key", "", ErrUnsupported},
		{&edPub, "", ErrUnsupported},
	} {
		if _, err := PublicKeyFor(tt.pub, tt.scheme); !errors.Is(err, tt.kind) {
			t.Errorf("PublicKeyFor(%T, %q) = %v, want %v", tt.pub, tt.scheme, err, tt.kind)
		}
	}
}

// mismatchedSigner claims one public key and signs with another.
type mismatchedSigner struct {
	crypto.Signer
	pub crypto.PublicKey
}

func (m mismatchedSigner) Public() crypto.PublicKey { return m.pub }

// failingSigner fails to sign.
type failingSigner struct{ crypto.Signer }

var errToken = errors.New("token removed")

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errToken
}

// messageSigner records what it is given to sign.
type messageSigner struct {
	crypto.Signer
	got []byte
}

func (m *messageSigner) SignMessage(r io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	m.got = msg
	return crypto.SignMessage(m.Signer, r, msg, opts)
}

func TestSignerFailures(t *testing.T) {
	ctx := context.Background()
	msg := []byte("message")
	p256 := fixtureSigner(t, "ecdsa-p256.pem")

	if _, err := NewSigner(nil, ""); err == nil {
		t.Error("NewSigner(nil) succeeded")
	}

	s, err := NewSigner(p256, "")
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Sign(cctx, msg); !errors.Is(err, context.Canceled) {
		t.Errorf("Sign(canceled) = %v", err)
	}

	other := generated(t, "ecdsa")
	s, err = NewSigner(mismatchedSigner{p256, other.Public()}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign(ctx, msg); !errors.Is(err, ErrVerification) {
		t.Errorf("Sign(mismatched key) = %v, want ErrVerification", err)
	}

	s, err = NewSigner(failingSigner{p256}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign(ctx, msg); !errors.Is(err, errToken) || !strings.Contains(err.Error(), "keys: ecdsa/ecdsa-sha2-nistp256: signing: token removed") {
		t.Errorf("Sign(failing signer) = %v", err)
	}

	ms := &messageSigner{Signer: p256}
	s, err = NewSigner(ms, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ms.got, msg) {
		t.Errorf("crypto.MessageSigner got %q, want the whole message", ms.got)
	}
}

// TestEd25519Signer: an in-memory Ed25519 key is checked once, when
// NewSigner takes it, instead of each signature afterwards: a key whose
// public half is not its seed's is refused there, and the signatures of
// one that is verify.
func TestEd25519Signer(t *testing.T) {
	ctx := context.Background()
	priv := generated(t, "ed25519").(ed25519.PrivateKey)
	other := generated(t, "ed25519").(ed25519.PrivateKey)
	mixed := append(slices.Clone(priv.Seed()), other.Public().(ed25519.PublicKey)...)
	if _, err := NewSigner(ed25519.PrivateKey(mixed), ""); !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), "public half") {
		t.Errorf("NewSigner(seed of one key, public half of another) = %v, want ErrInvalidKey", err)
	}

	s, err := NewSigner(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	v := mustVerifier(t, s.PublicKey())
	for _, msg := range [][]byte{[]byte("message"), bytes.Repeat([]byte{7}, 1<<20)} {
		sig, err := s.Sign(ctx, msg)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Verify(msg, sig); err != nil {
			t.Errorf("signature of %d bytes: %v", len(msg), err)
		}
		if !bytes.Equal(sig, ed25519.Sign(priv, msg)) {
			t.Errorf("signature of %d bytes is not Ed25519's", len(msg))
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Sign(cctx, []byte("m")); !errors.Is(err, context.Canceled) {
		t.Errorf("Sign(canceled) = %v", err)
	}
}

func TestPrivatePEM(t *testing.T) {
	for _, kind := range []string{"ed25519", "ecdsa", "ecdsa-p384", "ecdsa-p521", "rsa"} {
		priv := generated(t, kind)
		data, err := MarshalPrivatePKCS8PEM(priv)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if !bytes.HasPrefix(data, []byte("-----BEGIN PRIVATE KEY-----\n")) {
			t.Errorf("%s: PEM starts %q", kind, data[:30])
		}
		back, err := ParsePrivatePEM(data)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if !back.(interface{ Equal(crypto.PrivateKey) bool }).Equal(priv) {
			t.Errorf("%s: key changed in round trip", kind)
		}
	}
	edPriv := fixtureSigner(t, "ed25519.pem").(ed25519.PrivateKey)
	if _, err := MarshalPrivatePKCS8PEM(&edPriv); err != nil {
		t.Errorf("MarshalPrivatePKCS8PEM(*ed25519.PrivateKey) = %v", err)
	}
	for _, bad := range []crypto.Signer{nil, ed25519.PrivateKey(nil), (*ecdsa.PrivateKey)(nil), (*rsa.PrivateKey)(nil), failingSigner{}} {
		if _, err := MarshalPrivatePKCS8PEM(bad); err == nil {
			t.Errorf("MarshalPrivatePKCS8PEM(%T) succeeded", bad)
		}
	}

	// Older encodings, with an "EC PARAMETERS" block to skip.
	sec1, err := ParsePrivatePEM(fixture(t, "ecdsa-p256-sec1.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if !sec1.(*ecdsa.PrivateKey).Equal(fixtureSigner(t, "ecdsa-p256.pem")) {
		t.Error("SEC 1 key differs from PKCS #8 key")
	}
	pkcs1, err := ParsePrivatePEM(fixture(t, "rsa-2048-pkcs1.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if !pkcs1.(*rsa.PrivateKey).Equal(fixtureSigner(t, "rsa-2048.pem")) {
		t.Error("PKCS #1 key differs from PKCS #8 key")
	}

	legacyEncrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1}})
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"encrypted PKCS #8", fixture(t, "ecdsa-p256-encrypted.pem"), "encrypted"},
		{"encrypted legacy", legacyEncrypted, "encrypted"},
		{"certificate only", fixture(t, "ecdsa-p256.crt"), "no private key"},
		{"public key only", fixture(t, "ecdsa-p256.pub.pem"), "no private key"},
		{"empty", nil, "not PEM"},
		{"garbage", []byte("garbage"), "not PEM"},
		{"two keys", append(fixture(t, "ecdsa-p256.pem"), fixture(t, "ed25519.pem")...), "more than one"},
		{"bad DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}}), "PRIVATE KEY block"},
		{"too big", make([]byte, 2<<20), "limit"},
	} {
		if _, err := ParsePrivatePEM(tt.data); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: ParsePrivatePEM = %v, want error mentioning %q", tt.name, err, tt.want)
		}
	}
}

func TestLargeMessage(t *testing.T) {
	// Verifying a large message costs one pass of the hash, with no copies.
	msg := make([]byte, 15<<20)
	for _, kind := range []string{"ed25519", "ecdsa"} {
		s, err := NewSigner(generated(t, kind), "")
		if err != nil {
			t.Fatal(err)
		}
		sig, err := s.Sign(context.Background(), msg)
		if err != nil {
			t.Fatal(err)
		}
		v := mustVerifier(t, s.PublicKey())
		if err := v.Verify(msg, sig); err != nil {
			t.Fatal(err)
		}
		if kind == "ed25519" {
			if n := testing.AllocsPerRun(2, func() { v.Verify(msg, sig) }); n != 0 {
				t.Errorf("ed25519 Verify of 15 MB allocates %v times, want 0", n)
			}
		}
	}
}
