package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
)

// Signer produces TUF signatures.
//
// NewSigner makes a Signer of an in-memory key or of any crypto.Signer
// (PKCS#11 tokens and cloud KMS clients commonly implement crypto.Signer).
// A remote signing service can also implement Signer directly.
type Signer interface {
	// PublicKey returns the key material of the signing key, as listed in
	// TUF metadata.
	PublicKey() PublicKey

	// Sign signs the whole message, hashing it as the scheme requires,
	// and returns the signature in the scheme's encoding.
	Sign(ctx context.Context, message []byte) ([]byte, error)
}

// NewSigner returns a Signer that signs with s under scheme; an empty scheme
// means the default for the key: "ed25519", the ECDSA scheme of the key's
// curve, or "rsassa-pss-sha256". The key must be one PublicKeyFor accepts.
//
// Sign checks every signature against the public key before returning it, so
// that a crypto.Signer whose Public does not match its private key, or that
// returns a signature in an unexpected encoding, fails at once. The one
// exception is an ed25519.PrivateKey, signed with here by Go's own
// deterministic Ed25519: NewSigner checks once that its public half is the
// public key of its seed (the one way its signatures could fail to verify),
// and Sign then does not check each signature, which would cost as much
// again as making it. If s
// implements crypto.MessageSigner, it is given the whole message; otherwise
// it is given the message's digest (or the whole message for Ed25519), as
// crypto.Signer defines. A crypto.Signer cannot be interrupted: Sign checks
// its context only before it starts.
func NewSigner(s crypto.Signer, scheme string) (Signer, error) {
	if s == nil {
		return nil, fmt.Errorf("keys: nil crypto.Signer")
	}
	pk, err := PublicKeyFor(s.Public(), scheme)
	if err != nil {
		return nil, err
	}
	if priv, ok := s.(ed25519.PrivateKey); ok {
		return newEd25519Signer(priv, pk)
	}
	v, err := NewVerifier(pk)
	if err != nil {
		return nil, err
	}
	var opts crypto.SignerOpts
	switch pk.Type {
	case KeyTypeEd25519:
		opts = crypto.Hash(0)
	case KeyTypeECDSA:
		p, _ := ecdsaByScheme(pk.Scheme)
		opts = p.hash
	case KeyTypeRSA:
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	}
	return &cryptoSigner{s: s, pk: pk, v: v, opts: opts}, nil
}

type cryptoSigner struct {
	s    crypto.Signer
	pk   PublicKey
	v    Verifier
	opts crypto.SignerOpts
}

func (c *cryptoSigner) PublicKey() PublicKey { return c.pk }

func (c *cryptoSigner) Sign(ctx context.Context, message []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sig, err := crypto.SignMessage(c.s, rand.Reader, message, c.opts)
	if err != nil {
		return nil, &KeyError{Type: c.pk.Type, Scheme: c.pk.Scheme, Err: fmt.Errorf("signing: %w", err)}
	}
	if err := c.v.Verify(message, sig); err != nil {
		return nil, &KeyError{Type: c.pk.Type, Scheme: c.pk.Scheme, Err: fmt.Errorf("signer made a signature its public key does not verify: %w", err)}
	}
	return sig, nil
}

// ed25519Signer signs with an Ed25519 private key in memory, whose public
// half NewSigner checked.
type ed25519Signer struct {
	priv ed25519.PrivateKey
	pk   PublicKey
}

// newEd25519Signer returns the signer of priv, after checking that its
// public half (which Ed25519 hashes into every signature) is the public key
// of its seed: a key file or a caller could pair a seed with another key's
// public half, and every signature made would then fail to verify.
func newEd25519Signer(priv ed25519.PrivateKey, pk PublicKey) (Signer, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, pk.errorf(ErrInvalidKey, "private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	derived := ed25519.NewKeyFromSeed(priv.Seed())
	ok := subtle.ConstantTimeCompare(derived[ed25519.SeedSize:], priv[ed25519.SeedSize:]) == 1
	clear(derived)
	if !ok {
		return nil, pk.errorf(ErrInvalidKey, "the private key's public half is not the public key of its seed")
	}
	return &ed25519Signer{priv: priv, pk: pk}, nil
}

func (e *ed25519Signer) PublicKey() PublicKey { return e.pk }

func (e *ed25519Signer) Sign(ctx context.Context, message []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return ed25519.Sign(e.priv, message), nil
}

// PublicKeyFor returns the TUF key material of pub, an ed25519.PublicKey,
// *ecdsa.PublicKey (P-256, P-384 or P-521) or *rsa.PublicKey (2048 to 16384
// bits), for use under scheme; an empty scheme means the default for the
// key, as for NewSigner.
//
// The key type is "ed25519", "ecdsa" or "rsa", and the public value is lower
// case hex for Ed25519 and a PEM "PUBLIC KEY" block, ending in a newline,
// otherwise: the forms securesystemslib writes, so that the same key gets
// the same key ID there and here.
func PublicKeyFor(pub crypto.PublicKey, scheme string) (PublicKey, error) {
	fail := func(typ string, kind error, format string, args ...any) (PublicKey, error) {
		return PublicKey{}, PublicKey{Type: typ, Scheme: scheme}.errorf(kind, format, args...)
	}
	switch pub := pub.(type) {
	case ed25519.PublicKey:
		if scheme != "" && scheme != SchemeEd25519 {
			return fail(KeyTypeEd25519, ErrUnsupported, "key type %s has only scheme %s", KeyTypeEd25519, SchemeEd25519)
		}
		if len(pub) != ed25519.PublicKeySize {
			return fail(KeyTypeEd25519, ErrInvalidKey, "key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
		}
		return PublicKey{Type: KeyTypeEd25519, Scheme: SchemeEd25519, Value: hex.EncodeToString(pub)}, nil

	case *ecdsa.PublicKey:
		if pub == nil || pub.Curve == nil {
			return fail(KeyTypeECDSA, ErrInvalidKey, "nil key")
		}
		p, ok := ecdsaByCurve(pub.Curve)
		if !ok {
			return fail(KeyTypeECDSA, ErrInvalidKey, "key on unsupported curve %s", curveName(pub.Curve))
		}
		if scheme != "" && scheme != p.scheme {
			want, ok := ecdsaByScheme(scheme)
			if !ok {
				return fail(KeyTypeECDSA, ErrUnsupported, "not an ECDSA scheme")
			}
			return fail(KeyTypeECDSA, ErrInvalidKey, "key is on curve %s, scheme %s needs %s", curveName(pub.Curve), scheme, curveName(want.curve))
		}
		return pemPublicKey(KeyTypeECDSA, p.scheme, pub)

	case *rsa.PublicKey:
		if scheme != "" && scheme != SchemeRSAPSSSHA256 {
			return fail(KeyTypeRSA, ErrUnsupported, "the only RSA scheme supported is %s", SchemeRSAPSSSHA256)
		}
		if pub == nil {
			return fail(KeyTypeRSA, ErrInvalidKey, "nil key")
		}
		if err := checkRSA(pub); err != nil {
			return fail(KeyTypeRSA, ErrInvalidKey, "%v", err)
		}
		return pemPublicKey(KeyTypeRSA, SchemeRSAPSSSHA256, pub)
	}
	return PublicKey{}, fmt.Errorf("keys: %w: Go key type %T", ErrUnsupported, pub)
}

func pemPublicKey(typ, scheme string, pub crypto.PublicKey) (PublicKey, error) {
	k := PublicKey{Type: typ, Scheme: scheme}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return PublicKey{}, k.errorf(ErrInvalidKey, "%v", err)
	}
	k.Value = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	return k, nil
}

// GenerateTypes are the key types Generate makes, in the order to show
// them.
var GenerateTypes = []string{"ed25519", "ecdsa", "ecdsa-p384", "ecdsa-p521", "rsa"}

// Generate makes a new private key of the given kind: "ed25519", "ecdsa"
// (P-256), "ecdsa-p384", "ecdsa-p521" or "rsa" (3072 bits). The result is an
// ed25519.PrivateKey, *ecdsa.PrivateKey or *rsa.PrivateKey.
func Generate(keyType string) (crypto.Signer, error) {
	switch keyType {
	case "ed25519":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case "ecdsa":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ecdsa-p384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ecdsa-p521":
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "rsa":
		return rsa.GenerateKey(rand.Reader, 3072)
	}
	return nil, fmt.Errorf(`keys: %w: cannot generate %s keys; want "ed25519", "ecdsa", "ecdsa-p384", "ecdsa-p521" or "rsa"`, ErrUnsupported, displayName(keyType))
}
