package keys

import (
	"context"
	"testing"
)

func benchVerifier(b *testing.B, kind string, size int) {
	msg := make([]byte, size)
	s, err := NewSigner(generated(b, kind), "")
	if err != nil {
		b.Fatal(err)
	}
	sig, err := s.Sign(context.Background(), msg)
	if err != nil {
		b.Fatal(err)
	}
	v := mustVerifier(b, s.PublicKey())
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(msg, sig); err != nil {
			b.Fatal(err)
		}
	}
}

var benchKinds = []struct{ name, kind string }{
	{"ed25519", "ed25519"},
	{"ecdsa-p256", "ecdsa"},
	{"ecdsa-p384", "ecdsa-p384"},
	{"ecdsa-p521", "ecdsa-p521"},
	{"rsa-3072", "rsa"},
}

// BenchmarkVerify measures Verify of a 1 KiB message, about the size of
// timestamp metadata.
func BenchmarkVerify(b *testing.B) {
	for _, k := range benchKinds {
		b.Run(k.name, func(b *testing.B) { benchVerifier(b, k.kind, 1<<10) })
	}
}

// BenchmarkVerifyLarge measures Verify of 15 MB, a large targets file.
func BenchmarkVerifyLarge(b *testing.B) {
	for _, k := range benchKinds[:2] {
		b.Run(k.name, func(b *testing.B) { benchVerifier(b, k.kind, 15<<20) })
	}
}

func BenchmarkNewVerifier(b *testing.B) {
	for _, k := range benchKinds {
		b.Run(k.name, func(b *testing.B) {
			pk, err := PublicKeyFor(generated(b, k.kind).Public(), "")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NewVerifier(pk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	msg := make([]byte, 1<<10)
	for _, k := range benchKinds {
		b.Run(k.name, func(b *testing.B) {
			s, err := NewSigner(generated(b, k.kind), "")
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := s.Sign(context.Background(), msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
