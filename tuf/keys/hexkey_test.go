package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

// A legacy ECDSA key type may hold the hex of the uncompressed point, as
// go-tuf before v2 wrote it; the same key in PEM under "ecdsa" has the same
// identity, and no other key type takes the hex form.
func TestHexECDSAKeys(t *testing.T) {
	for _, c := range []struct {
		typ   string
		curve elliptic.Curve
	}{
		{KeyTypeECDSAP256Legacy, elliptic.P256()},
		{KeyTypeECDSAP384Legacy, elliptic.P384()},
		{KeyTypeECDSAP521Legacy, elliptic.P521()},
	} {
		priv, err := ecdsa.GenerateKey(c.curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		point, err := priv.PublicKey.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		pemValue := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		hexKey := PublicKey{Type: c.typ, Scheme: c.typ, Value: hex.EncodeToString(point)}
		hv, err := NewVerifier(hexKey)
		if err != nil {
			t.Fatalf("%s hex: %v", c.typ, err)
		}
		pv, err := NewVerifier(PublicKey{Type: KeyTypeECDSA, Scheme: c.typ, Value: pemValue})
		if err != nil {
			t.Fatal(err)
		}
		if hv.Identity() != pv.Identity() {
			t.Errorf("%s: hex and PEM forms of one key have identities %s and %s", c.typ, hv.Identity(), pv.Identity())
		}
		msg := []byte("signed bytes")
		p, _ := ecdsaByScheme(c.typ)
		h := p.hash.New()
		h.Write(msg)
		sig, err := ecdsa.SignASN1(rand.Reader, priv, h.Sum(nil))
		if err != nil {
			t.Fatal(err)
		}
		if err := hv.Verify(msg, sig); err != nil {
			t.Errorf("%s hex: valid signature refused: %v", c.typ, err)
		}
		if err := hv.Verify([]byte("other bytes"), sig); !errors.Is(err, ErrVerification) {
			t.Errorf("%s hex: signature over other bytes: %v", c.typ, err)
		}
		// Upper-case hex is still hex.
		upper := hexKey
		upper.Value = strings.ToUpper(hex.EncodeToString(point))
		if _, err := NewVerifier(upper); err != nil {
			t.Errorf("%s: %v", c.typ, err)
		}
	}

	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	point, _ := p256.PublicKey.Bytes()
	compressed := elliptic.MarshalCompressed(elliptic.P256(), p256.X, p256.Y) //nolint:staticcheck // building a bad input
	offCurve := append([]byte(nil), point...)
	offCurve[len(offCurve)-1] ^= 1
	sum := sha256.Sum256(point)
	for name, k := range map[string]PublicKey{
		"hex under ecdsa":       {Type: KeyTypeECDSA, Scheme: SchemeECDSAP256SHA256, Value: hex.EncodeToString(point)},
		"P-256 point for P-384": {Type: KeyTypeECDSAP384Legacy, Scheme: KeyTypeECDSAP384Legacy, Value: hex.EncodeToString(point)},
		"compressed point":      {Type: KeyTypeECDSAP256Legacy, Scheme: KeyTypeECDSAP256Legacy, Value: hex.EncodeToString(compressed)},
		"point off the curve":   {Type: KeyTypeECDSAP256Legacy, Scheme: KeyTypeECDSAP256Legacy, Value: hex.EncodeToString(offCurve)},
		"32 bytes of hex":       {Type: KeyTypeECDSAP256Legacy, Scheme: KeyTypeECDSAP256Legacy, Value: hex.EncodeToString(sum[:])},
		"odd number of digits":  {Type: KeyTypeECDSAP256Legacy, Scheme: KeyTypeECDSAP256Legacy, Value: hex.EncodeToString(point)[1:]},
		"hex ed25519 as ecdsa":  {Type: KeyTypeECDSAP256Legacy, Scheme: KeyTypeECDSAP256Legacy, Value: hex.EncodeToString(make([]byte, 32))},
	} {
		if _, err := NewVerifier(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: got %v, want ErrInvalidKey", name, err)
		}
	}
}
