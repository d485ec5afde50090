package keys

import (
	"encoding/hex"
	"errors"
	"testing"
)

// FuzzNewVerifier checks that no key object or signature makes the package
// panic, and that what it accepts is self-consistent.
func FuzzNewVerifier(f *testing.F) {
	msg := fixture(f, "message.bin")
	edRaw, _ := hex.DecodeString(ed25519Hex(f))
	p256Cert := fixture(f, "ecdsa-p256.crt")
	seeds := []struct {
		typ, scheme, value, sig string
	}{
		{"ed25519", "ed25519", ed25519Hex(f), "ed25519.sig"},
		{"ed25519", "", b64(edRaw), "ed25519.sig"},
		{"ecdsa", "ecdsa-sha2-nistp256", string(fixture(f, "ecdsa-p256.pub.pem")), "ecdsa-p256.sig"},
		{"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", string(fixture(f, "ecdsa-p256.pub.pem")), "ecdsa-p256.sig"},
		{"ecdsa-x509", "", string(p256Cert), "ecdsa-p256.sig"},
		{"ecdsa-x509", "", b64(p256Cert), "ecdsa-p256.sig"},
		{"ecdsa", "", b64(pemBytes(f, "ecdsa-p256.pub.pem")), "ecdsa-p256.sig"},
		{"ecdsa", "ecdsa-sha2-nistp384", string(fixture(f, "ecdsa-p384.crt")), "ecdsa-p384.sig"},
		{"ecdsa", "ecdsa-sha2-nistp521", string(fixture(f, "ecdsa-p521.pub.pem")), "ecdsa-p521.sig"},
		{"rsa", "rsassa-pss-sha256", string(fixture(f, "rsa-2048.pub.pem")), "rsa-2048-pss-max.sig"},
		{"rsa-x509", "", string(fixture(f, "rsa-2048.crt")), "rsa-2048-pss-digest.sig"},
		{"rsa", "rsassa-pss-sha256", string(fixture(f, "rsa-1024.pub.pem")), "rsa-2048-pss-max.sig"},
	}
	for _, s := range seeds {
		f.Add(s.typ, s.scheme, s.value, msg, fixture(f, s.sig))
	}
	f.Add("ecdsa-x509", "", "", []byte{}, []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})
	f.Add("", "", "", []byte(nil), []byte(nil))

	f.Fuzz(func(t *testing.T, typ, scheme, value string, msg, sig []byte) {
		v, err := NewVerifier(PublicKey{typ, scheme, value})
		if err != nil {
			var ke *KeyError
			if !errors.As(err, &ke) || !(errors.Is(err, ErrUnsupported) || errors.Is(err, ErrInvalidKey)) {
				t.Fatalf("NewVerifier error %v is not a KeyError of the documented kinds", err)
			}
			return
		}
		if !hexID.MatchString(v.Identity()) {
			t.Fatalf("Identity = %q", v.Identity())
		}
		if id, err := Identity(v.Public()); err != nil || id != v.Identity() {
			t.Fatalf("Identity(Public()) = %q, %v; Identity() = %q", id, err, v.Identity())
		}
		err = v.Verify(msg, sig)
		if err != nil && !errors.Is(err, ErrVerification) && !errors.Is(err, ErrMalformedSignature) {
			t.Fatalf("Verify error %v is not of the documented kinds", err)
		}
		// A key re-encoded by PublicKeyFor has the same identity and verdict.
		k2, err2 := PublicKeyFor(v.Public(), "")
		if err2 != nil {
			t.Fatalf("PublicKeyFor(accepted key): %v", err2)
		}
		v2, err2 := NewVerifier(k2)
		if err2 != nil {
			t.Fatalf("NewVerifier(PublicKeyFor(accepted key)): %v", err2)
		}
		if v2.Identity() != v.Identity() {
			t.Fatalf("re-encoded key has identity %s, want %s", v2.Identity(), v.Identity())
		}
		if err2 := v2.Verify(msg, sig); (err == nil) != (err2 == nil) && !errors.Is(err, ErrMalformedSignature) && !errors.Is(err2, ErrMalformedSignature) {
			t.Fatalf("verdicts differ: %v vs %v", err, err2)
		}
	})
}
