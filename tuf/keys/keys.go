package keys

import (
	"crypto"
	"crypto/elliptic"
	"errors"
	"strconv"
)

// PublicKey is the key material of a TUF key object: its "keytype", "scheme"
// and keyval "public" value.
type PublicKey struct {
	Type   string // "keytype"
	Scheme string // "scheme"
	Value  string // keyval "public"
}

// Key types.
const (
	KeyTypeEd25519 = "ed25519"
	KeyTypeECDSA   = "ecdsa"
	KeyTypeRSA     = "rsa"

	// Legacy ECDSA key types, written by older securesystemslib releases.
	// Each is valid only with the scheme of the same name.
	KeyTypeECDSAP256Legacy = "ecdsa-sha2-nistp256"
	KeyTypeECDSAP384Legacy = "ecdsa-sha2-nistp384"
	KeyTypeECDSAP521Legacy = "ecdsa-sha2-nistp521"

	// Notary key types: a PEM certificate holding an ECDSA or RSA key.
	KeyTypeECDSAX509 = "ecdsa-x509"
	KeyTypeRSAX509   = "rsa-x509"
)

// Signature schemes.
const (
	SchemeEd25519         = "ed25519"
	SchemeECDSAP256SHA256 = "ecdsa-sha2-nistp256"
	SchemeECDSAP384SHA384 = "ecdsa-sha2-nistp384"
	SchemeECDSAP521SHA512 = "ecdsa-sha2-nistp521"
	SchemeRSAPSSSHA256    = "rsassa-pss-sha256"
)

// Limits on key material.
const (
	// MaxPublicValueSize is the longest public value NewVerifier parses.
	MaxPublicValueSize = 16 << 10

	// MinRSABits and MaxRSABits bound the modulus of an RSA key. The TUF
	// specification requires at least 2048 bits; the upper bound keeps the
	// cost of a verification small.
	MinRSABits = 2048
	MaxRSABits = 16384
)

var (
	// ErrUnsupported reports a key type or scheme this package does not
	// implement, or a scheme that does not go with the key type.
	ErrUnsupported = errors.New("unsupported key type or scheme")

	// ErrInvalidKey reports key material that cannot be used: malformed
	// encoding, wrong algorithm or curve for the scheme, RSA key too small.
	ErrInvalidKey = errors.New("invalid key")

	// ErrMalformedSignature reports a signature that cannot be valid for
	// the key whatever the message: wrong length or wrong encoding.
	ErrMalformedSignature = errors.New("malformed signature")

	// ErrVerification reports a well-formed signature that does not match
	// the message and key.
	ErrVerification = errors.New("signature does not match")
)

// A KeyError records an error about a key, with the key type and scheme it
// concerns. Its Err wraps one of ErrUnsupported, ErrInvalidKey,
// ErrMalformedSignature or ErrVerification, or an error from a
// crypto.Signer.
type KeyError struct {
	Type   string // key type, as given
	Scheme string // scheme, as given; may be empty
	Err    error
}

func (e *KeyError) Error() string {
	s := "keys: " + displayName(e.Type)
	if e.Scheme != "" {
		s += "/" + displayName(e.Scheme)
	}
	return s + ": " + e.Err.Error()
}

func (e *KeyError) Unwrap() error { return e.Err }

// displayName returns s for an error message: as it is when it looks like a
// key type or scheme, quoted and shortened otherwise, since it may come from
// untrusted metadata.
func displayName(s string) string {
	const max = 48
	plain := s != "" && len(s) <= max
	for i := 0; plain && i < len(s); i++ {
		c := s[i]
		plain = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '+' || c == '#'
	}
	if plain {
		return s
	}
	if len(s) > max {
		return strconv.QuoteToASCII(s[:max]) + "..."
	}
	return strconv.QuoteToASCII(s)
}

// ecdsaParams describes an ECDSA scheme.
type ecdsaParams struct {
	scheme string
	curve  elliptic.Curve
	hash   crypto.Hash
}

// ecdsaSchemes lists the ECDSA schemes. Each legacy key type has the name of
// its scheme.
var ecdsaSchemes = []ecdsaParams{
	{SchemeECDSAP256SHA256, elliptic.P256(), crypto.SHA256},
	{SchemeECDSAP384SHA384, elliptic.P384(), crypto.SHA384},
	{SchemeECDSAP521SHA512, elliptic.P521(), crypto.SHA512},
}

func ecdsaByScheme(scheme string) (ecdsaParams, bool) {
	for _, p := range ecdsaSchemes {
		if p.scheme == scheme {
			return p, true
		}
	}
	return ecdsaParams{}, false
}

func ecdsaByCurve(c elliptic.Curve) (ecdsaParams, bool) {
	for _, p := range ecdsaSchemes {
		if p.curve == c {
			return p, true
		}
	}
	return ecdsaParams{}, false
}

// curveName names c for an error message.
func curveName(c elliptic.Curve) string {
	if c == nil || c.Params() == nil {
		return "unknown curve"
	}
	return c.Params().Name
}
