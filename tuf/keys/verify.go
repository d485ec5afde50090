package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Verifier checks signatures made by one public key under one TUF signature
// scheme. A Verifier is safe for concurrent use.
type Verifier interface {
	// Verify checks sig over the whole message. The error says why a
	// signature is rejected; it wraps ErrMalformedSignature or
	// ErrVerification.
	Verify(message, sig []byte) error

	// Identity names the key material: the same for the same public key
	// however its key object lists it, and different for different keys.
	// It is the hex SHA-256 of the key's PKIX DER encoding.
	Identity() string

	// Public returns the key: an ed25519.PublicKey, *ecdsa.PublicKey or
	// *rsa.PublicKey.
	Public() crypto.PublicKey
}

// NewVerifier parses and checks the key material of k and returns a Verifier
// for it. Errors are *KeyError values wrapping ErrUnsupported or
// ErrInvalidKey.
func NewVerifier(k PublicKey) (Verifier, error) {
	if len(k.Value) > MaxPublicValueSize {
		return nil, k.errorf(ErrInvalidKey, "public value is %d bytes, more than the limit of %d", len(k.Value), MaxPublicValueSize)
	}
	switch k.Type {
	case KeyTypeEd25519:
		return newEd25519Verifier(k)
	case KeyTypeECDSA, KeyTypeECDSAX509, KeyTypeECDSAP256Legacy, KeyTypeECDSAP384Legacy, KeyTypeECDSAP521Legacy:
		return newECDSAVerifier(k)
	case KeyTypeRSA, KeyTypeRSAX509:
		return newRSAVerifier(k)
	}
	return nil, k.errorf(ErrUnsupported, "unknown key type")
}

// Certificate returns the certificate that held v's key, or nil if the key
// was not given as a certificate.
func Certificate(v Verifier) *x509.Certificate {
	if c, ok := v.(interface{ Certificate() *x509.Certificate }); ok {
		return c.Certificate()
	}
	return nil
}

// Identity returns the identity of a public key, as Verifier.Identity does.
func Identity(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("keys: identity of %T: %w", pub, err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

func (k PublicKey) errorf(kind error, format string, args ...any) error {
	return &KeyError{Type: k.Type, Scheme: k.Scheme, Err: fmt.Errorf("%w: "+format, append([]any{kind}, args...)...)}
}

// notary reports whether k may use Notary's encodings (see the package
// documentation).
func (k PublicKey) notary() bool {
	return k.Scheme == "" || k.Type == KeyTypeECDSAX509 || k.Type == KeyTypeRSAX509
}

// base is what every verifier has besides its key.
type base struct {
	k    PublicKey // type and scheme as given, for errors
	id   string
	cert *x509.Certificate
}

func (b *base) Identity() string               { return b.id }
func (b *base) Certificate() *x509.Certificate { return b.cert }

func (b *base) init(k PublicKey, pub crypto.PublicKey, cert *x509.Certificate) error {
	id, err := Identity(pub)
	if err != nil {
		return k.errorf(ErrInvalidKey, "%v", err)
	}
	*b = base{k: PublicKey{Type: k.Type, Scheme: k.Scheme}, id: id, cert: cert}
	return nil
}

func (b *base) fail(kind error, format string, args ...any) error {
	return b.k.errorf(kind, format, args...)
}

func (b *base) mismatch() error {
	return &KeyError{Type: b.k.Type, Scheme: b.k.Scheme, Err: ErrVerification}
}

// Ed25519

type ed25519Verifier struct {
	base
	pub ed25519.PublicKey
}

func newEd25519Verifier(k PublicKey) (Verifier, error) {
	if k.Scheme != SchemeEd25519 && k.Scheme != "" {
		return nil, k.errorf(ErrUnsupported, "key type %s has only scheme %s", KeyTypeEd25519, SchemeEd25519)
	}
	var raw []byte
	switch {
	case len(k.Value) == 2*ed25519.PublicKeySize:
		var err error
		if raw, err = hex.DecodeString(k.Value); err != nil {
			return nil, k.errorf(ErrInvalidKey, "public value is not hex")
		}
	case k.notary() && len(k.Value) == base64.StdEncoding.EncodedLen(ed25519.PublicKeySize):
		var err error
		if raw, err = base64.StdEncoding.DecodeString(k.Value); err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, k.errorf(ErrInvalidKey, "public value is neither hex nor base64 of a 32-byte key")
		}
	default:
		return nil, k.errorf(ErrInvalidKey, "public value is %d characters, want %d hex digits", len(k.Value), 2*ed25519.PublicKeySize)
	}
	v := &ed25519Verifier{pub: ed25519.PublicKey(raw)}
	if err := v.init(k, v.pub, nil); err != nil {
		return nil, err
	}
	return v, nil
}

func (v *ed25519Verifier) Public() crypto.PublicKey { return v.pub }

func (v *ed25519Verifier) Verify(message, sig []byte) error {
	if len(sig) != ed25519.SignatureSize {
		return v.fail(ErrMalformedSignature, "signature is %d bytes, want %d", len(sig), ed25519.SignatureSize)
	}
	if !ed25519.Verify(v.pub, message, sig) {
		return v.mismatch()
	}
	return nil
}

// ECDSA

type ecdsaVerifier struct {
	base
	pub   *ecdsa.PublicKey
	p     ecdsaParams
	size  int  // bytes in r or s
	rawRS bool // accept Notary's fixed-size r||s signatures
}

func newECDSAVerifier(k PublicKey) (Verifier, error) {
	// Check the scheme before parsing anything. A legacy key type is named
	// after its only scheme; an empty scheme is chosen by the key's curve.
	scheme := k.Scheme
	if k.Type != KeyTypeECDSA && k.Type != KeyTypeECDSAX509 {
		if scheme != "" && scheme != k.Type {
			return nil, k.errorf(ErrUnsupported, "key type %s has only scheme %s", k.Type, k.Type)
		}
		scheme = k.Type
	}
	var p ecdsaParams
	if scheme != "" {
		var ok bool
		if p, ok = ecdsaByScheme(scheme); !ok {
			return nil, k.errorf(ErrUnsupported, "not an ECDSA scheme")
		}
	}

	var pub crypto.PublicKey
	var cert *x509.Certificate
	var err error
	if k.Type != KeyTypeECDSA && k.Type != KeyTypeECDSAX509 && isHex(k.Value) {
		pub, err = parseHexPoint(k, p)
	} else {
		pub, cert, err = parseKeyValue(k, k.Type == KeyTypeECDSAX509)
	}
	if err != nil {
		return nil, err
	}
	ek, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, k.errorf(ErrInvalidKey, "public value holds %s, not an ECDSA key", algorithmName(pub))
	}
	if p.curve == nil {
		if p, ok = ecdsaByCurve(ek.Curve); !ok {
			return nil, k.errorf(ErrInvalidKey, "ECDSA key on unsupported curve %s", curveName(ek.Curve))
		}
	} else if ek.Curve != p.curve {
		return nil, k.errorf(ErrInvalidKey, "key is on curve %s, scheme %s needs %s", curveName(ek.Curve), p.scheme, curveName(p.curve))
	}
	v := &ecdsaVerifier{pub: ek, p: p, size: (p.curve.Params().BitSize + 7) / 8, rawRS: k.notary()}
	if err := v.init(k, ek, cert); err != nil {
		return nil, err
	}
	return v, nil
}

func (v *ecdsaVerifier) Public() crypto.PublicKey { return v.pub }

// ecdsaSig is the ASN.1 form of an ECDSA signature.
type ecdsaSig struct{ R, S *big.Int }

func (v *ecdsaVerifier) Verify(message, sig []byte) error {
	der := sig
	if !wellFormedDER(sig) {
		if !v.rawRS {
			return v.fail(ErrMalformedSignature, "signature of %d bytes is not an ASN.1 DER sequence of two positive integers", len(sig))
		}
		if len(sig) != 2*v.size {
			return v.fail(ErrMalformedSignature, "signature of %d bytes is neither ASN.1 DER nor %d-byte r||s", len(sig), 2*v.size)
		}
		var err error
		der, err = asn1.Marshal(ecdsaSig{new(big.Int).SetBytes(sig[:v.size]), new(big.Int).SetBytes(sig[v.size:])})
		if err != nil {
			return v.fail(ErrMalformedSignature, "%v", err)
		}
	}
	if !ecdsa.VerifyASN1(v.pub, digest(v.p.hash, message), der) {
		return v.mismatch()
	}
	return nil
}

// wellFormedDER reports whether sig is exactly one DER SEQUENCE of two
// positive INTEGERs.
func wellFormedDER(sig []byte) bool {
	var s ecdsaSig
	rest, err := asn1.Unmarshal(sig, &s)
	return err == nil && len(rest) == 0 && s.R.Sign() > 0 && s.S.Sign() > 0
}

func digest(h crypto.Hash, message []byte) []byte {
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256(message)
		return d[:]
	case crypto.SHA384:
		d := sha512.Sum384(message)
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512(message)
		return d[:]
	}
	panic("keys: unexpected hash " + h.String())
}

// RSA

type rsaVerifier struct {
	base
	pub *rsa.PublicKey
}

// pssVerifyOptions accepts any salt length, as securesystemslib does.
var pssVerifyOptions = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: crypto.SHA256}

func newRSAVerifier(k PublicKey) (Verifier, error) {
	if k.Scheme != SchemeRSAPSSSHA256 && k.Scheme != "" {
		return nil, k.errorf(ErrUnsupported, "the only RSA scheme supported is %s", SchemeRSAPSSSHA256)
	}
	pub, cert, err := parseKeyValue(k, k.Type == KeyTypeRSAX509)
	if err != nil {
		return nil, err
	}
	rk, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, k.errorf(ErrInvalidKey, "public value holds %s, not an RSA key", algorithmName(pub))
	}
	if err := checkRSA(rk); err != nil {
		return nil, k.errorf(ErrInvalidKey, "%v", err)
	}
	v := &rsaVerifier{pub: rk}
	if err := v.init(k, rk, cert); err != nil {
		return nil, err
	}
	return v, nil
}

func checkRSA(k *rsa.PublicKey) error {
	if k.N == nil {
		return errors.New("RSA key has no modulus")
	}
	if n := k.N.BitLen(); n < MinRSABits || n > MaxRSABits {
		return fmt.Errorf("RSA key of %d bits, want %d to %d", n, MinRSABits, MaxRSABits)
	}
	if k.E < 3 || k.E%2 == 0 {
		return fmt.Errorf("RSA public exponent %d is not an odd number of at least 3", k.E)
	}
	return nil
}

func (v *rsaVerifier) Public() crypto.PublicKey { return v.pub }

func (v *rsaVerifier) Verify(message, sig []byte) error {
	if len(sig) != v.pub.Size() {
		return v.fail(ErrMalformedSignature, "signature is %d bytes, want %d for a %d-bit key", len(sig), v.pub.Size(), v.pub.N.BitLen())
	}
	if err := rsa.VerifyPSS(v.pub, crypto.SHA256, digest(crypto.SHA256, message), sig, pssVerifyOptions); err != nil {
		return v.mismatch()
	}
	return nil
}

// Key values

// parseKeyValue decodes the public value of an ECDSA or RSA key: PEM
// "PUBLIC KEY" or "CERTIFICATE" (only the latter if certOnly), or for a
// Notary key also base64 of PEM or DER.
func parseKeyValue(k PublicKey, certOnly bool) (crypto.PublicKey, *x509.Certificate, error) {
	data := []byte(k.Value)
	if !isPEM(data) {
		if !k.notary() {
			return nil, nil, k.errorf(ErrInvalidKey, "public value is not PEM")
		}
		der, err := base64.StdEncoding.DecodeString(k.Value)
		if err != nil {
			return nil, nil, k.errorf(ErrInvalidKey, "public value is neither PEM nor base64")
		}
		if !isPEM(der) {
			return parseDER(k, der, certOnly)
		}
		data = der
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, nil, k.errorf(ErrInvalidKey, "public value is not valid PEM")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, nil, k.errorf(ErrInvalidKey, "public value has data after its PEM block")
	}
	switch block.Type {
	case "CERTIFICATE":
		return parseDER(k, block.Bytes, true)
	case "PUBLIC KEY":
		if certOnly {
			return nil, nil, k.errorf(ErrInvalidKey, "key type %s needs a PEM CERTIFICATE, not a PUBLIC KEY", k.Type)
		}
		return parseDER(k, block.Bytes, false)
	}
	want := `"PUBLIC KEY" or "CERTIFICATE"`
	if certOnly {
		want = `"CERTIFICATE"`
	}
	return nil, nil, k.errorf(ErrInvalidKey, "PEM block type is %s, want %s", displayName(block.Type), want)
}

func parseDER(k PublicKey, der []byte, cert bool) (crypto.PublicKey, *x509.Certificate, error) {
	if !cert {
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			return nil, nil, k.errorf(ErrInvalidKey, "PKIX public key: %s", parseError(err))
		}
		return pub, nil, nil
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, k.errorf(ErrInvalidKey, "certificate: %s", parseError(err))
	}
	if c.PublicKey == nil {
		return nil, nil, k.errorf(ErrInvalidKey, "certificate has an unsupported %v key", c.PublicKeyAlgorithm)
	}
	return c.PublicKey, c, nil
}

// parseError describes an error from crypto/x509 briefly: encoding/asn1
// errors list the whole Go type being decoded.
func parseError(err error) string {
	if strings.HasPrefix(err.Error(), "asn1: ") {
		return "malformed ASN.1 DER"
	}
	return err.Error()
}

// parseHexPoint decodes the public value of a legacy ECDSA key type written
// as hex of the uncompressed point (SEC 1, 0x04 || X || Y) on the scheme's
// curve, which go-tuf before version 2 wrote.
func parseHexPoint(k PublicKey, p ecdsaParams) (crypto.PublicKey, error) {
	raw, err := hex.DecodeString(k.Value)
	if err != nil {
		return nil, k.errorf(ErrInvalidKey, "public value is not hex")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(p.curve, raw)
	if err != nil {
		return nil, k.errorf(ErrInvalidKey, "public value is not an uncompressed point on %s", curveName(p.curve))
	}
	return pub, nil
}

// isHex reports whether s is a non-empty string of hex digits.
func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// isPEM reports whether data starts, after white space, with a PEM header.
func isPEM(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("-----BEGIN "))
}

func algorithmName(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return "an RSA key"
	case *ecdsa.PublicKey:
		return "an ECDSA key"
	case ed25519.PublicKey:
		return "an Ed25519 key"
	}
	return fmt.Sprintf("a %T key", pub)
}
