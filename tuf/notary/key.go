package notary

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// Notary key types.
const (
	KeyTypeEd25519   = "ed25519"
	KeyTypeECDSA     = "ecdsa"
	KeyTypeRSA       = "rsa"
	KeyTypeECDSAX509 = "ecdsa-x509"
	KeyTypeRSAX509   = "rsa-x509"
)

// Key is a Notary key object: its key type and the decoded bytes of its
// keyval "public" value (the raw Ed25519 key, a DER PKIX key, or a PEM
// certificate for the x509 types). Notary never publishes private values:
// a key object whose "private" is not null is refused by Parse.
type Key struct {
	Type   string
	Public []byte
}

// ID returns Notary's key ID: the hex SHA-256 of the canonical JSON
// {"keytype":T,"keyval":{"private":null,"public":BASE64}}.
func (k Key) ID() string {
	sum := sha256.Sum256(k.canonical())
	return hex.EncodeToString(sum[:])
}

func (k Key) canonical() []byte {
	w := canonjson.NewWriter(64 + len(k.Public)*4/3)
	k.encode(w)
	return w.Bytes()
}

func (k Key) encode(w *canonjson.Writer) {
	w.BeginObject()
	w.Name("keytype")
	w.String(k.Type)
	w.Name("keyval")
	w.BeginObject()
	w.Name("private")
	w.Null()
	w.Name("public")
	w.String(base64.StdEncoding.EncodeToString(k.Public))
	w.EndObject()
	w.EndObject()
}

// CanonicalID returns the ID Notary gives the key's private half on disk: for
// an x509 key, the ID of the certificate's public key in the plain "ecdsa" or
// "rsa" form; for any other key, ID.
func (k Key) CanonicalID() (string, error) {
	if k.Type != KeyTypeECDSAX509 && k.Type != KeyTypeRSAX509 {
		return k.ID(), nil
	}
	v, err := k.Verifier()
	if err != nil {
		return "", err
	}
	plain, err := NewKey(v.Public())
	if err != nil {
		return "", err
	}
	return plain.ID(), nil
}

// PublicKey returns the key material in the form tuf/keys reads: no scheme,
// the public value in base64.
func (k Key) PublicKey() keys.PublicKey {
	return keys.PublicKey{Type: k.Type, Value: base64.StdEncoding.EncodeToString(k.Public)}
}

// Verifier parses the key and returns its verifier. The x509 types must
// hold a PEM certificate whose key is of the matching algorithm.
func (k Key) Verifier() (keys.Verifier, error) {
	switch k.Type {
	case KeyTypeEd25519, KeyTypeECDSA, KeyTypeRSA:
	case KeyTypeECDSAX509, KeyTypeRSAX509:
		if !bytes.HasPrefix(bytes.TrimLeft(k.Public, " \t\r\n"), []byte("-----BEGIN CERTIFICATE-----")) {
			return nil, fmt.Errorf("notary: %s key: public value is not a PEM certificate", k.Type)
		}
	default:
		return nil, fmt.Errorf("notary: %w: key type %q", keys.ErrUnsupported, short(k.Type))
	}
	v, err := keys.NewVerifier(k.PublicKey())
	if err != nil {
		return nil, fmt.Errorf("notary: %w", err)
	}
	return v, nil
}

// NewKey returns the plain Notary key of pub, an ed25519.PublicKey,
// *ecdsa.PublicKey or *rsa.PublicKey.
func NewKey(pub crypto.PublicKey) (Key, error) {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		if len(p) != ed25519.PublicKeySize {
			return Key{}, fmt.Errorf("notary: %w: Ed25519 key of %d bytes", keys.ErrInvalidKey, len(p))
		}
		return Key{Type: KeyTypeEd25519, Public: bytes.Clone(p)}, nil
	case *ecdsa.PublicKey, *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return Key{}, fmt.Errorf("notary: %w: %v", keys.ErrInvalidKey, err)
		}
		typ := KeyTypeECDSA
		if _, ok := pub.(*rsa.PublicKey); ok {
			typ = KeyTypeRSA
		}
		return Key{Type: typ, Public: der}, nil
	}
	return Key{}, fmt.Errorf("notary: %w: Go key type %T", keys.ErrUnsupported, pub)
}

// NewCertKey returns the x509 Notary key of a certificate ("ecdsa-x509" or
// "rsa-x509" by its key), as Notary lists root keys.
func NewCertKey(cert *x509.Certificate) (Key, error) {
	var typ string
	switch cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		typ = KeyTypeECDSAX509
	case *rsa.PublicKey:
		typ = KeyTypeRSAX509
	default:
		return Key{}, fmt.Errorf("notary: %w: certificate with a %T key", keys.ErrUnsupported, cert.PublicKey)
	}
	return Key{Type: typ, Public: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})}, nil
}

// method returns the signature method Notary writes for keys of type typ.
func method(typ string) string {
	switch typ {
	case KeyTypeEd25519:
		return MethodEdDSA
	case KeyTypeECDSA, KeyTypeECDSAX509:
		return MethodECDSA
	}
	return MethodRSAPSS
}

// short returns s cut to a length fit for an error message.
func short(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func hashes(data []byte) map[string][]byte {
	s256 := sha256.Sum256(data)
	s512 := sha512.Sum512(data)
	return map[string][]byte{"sha256": s256[:], "sha512": s512[:]}
}
