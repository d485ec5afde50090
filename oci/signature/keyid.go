package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// CertPEM returns the PEM encoding of cert.
func CertPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// CertKey returns the TUF key object that names cert's key by the
// certificate: key type "rsa-x509" or "ecdsa-x509", the scheme of the key,
// and the certificate's PEM as public value. Its ID is the key ID of the
// signatures made with the certificate.
func CertKey(cert *x509.Certificate) (*metadata.Key, error) {
	pk, err := keys.PublicKeyFor(cert.PublicKey, "")
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", cert.Subject.CommonName, err)
	}
	switch pk.Type {
	case keys.KeyTypeRSA:
		pk.Type = keys.KeyTypeRSAX509
	case keys.KeyTypeECDSA:
		pk.Type = keys.KeyTypeECDSAX509
	default:
		return nil, fmt.Errorf("certificate %q: a %s key cannot be named by its certificate: x509 key types exist for RSA and ECDSA keys only", cert.Subject.CommonName, pk.Type)
	}
	pk.Value = string(CertPEM(cert))
	return metadata.NewKey(pk), nil
}

// NotaryCertKeyID returns Notary's key ID of cert: the SHA-256 of the
// canonical JSON of Notary's key object {"keytype": "rsa-x509" or
// "ecdsa-x509", "keyval": {"private": null, "public": base64 of the PEM}}.
func NotaryCertKeyID(cert *x509.Certificate) (string, error) {
	var typ string
	switch cert.PublicKey.(type) {
	case *rsa.PublicKey:
		typ = keys.KeyTypeRSAX509
	case *ecdsa.PublicKey:
		typ = keys.KeyTypeECDSAX509
	default:
		return "", fmt.Errorf("certificate %q: Notary has no x509 key type for a %T key", cert.Subject.CommonName, cert.PublicKey)
	}
	return notaryKeyID(typ, CertPEM(cert))
}

// NotaryKeyID returns Notary's key ID of a bare public key: key type
// "ed25519" (raw key), "ecdsa" or "rsa" (PKIX DER), no scheme.
func NotaryKeyID(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return notaryKeyID(keys.KeyTypeEd25519, []byte(k))
	case *ecdsa.PublicKey, *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", err
		}
		typ := keys.KeyTypeRSA
		if _, ok := k.(*ecdsa.PublicKey); ok {
			typ = keys.KeyTypeECDSA
		}
		return notaryKeyID(typ, der)
	}
	return "", fmt.Errorf("notary key ID: unsupported key %T", pub)
}

func notaryKeyID(typ string, public []byte) (string, error) {
	// encoding/json writes []byte as standard base64, as Notary does.
	canon, err := canonjson.Marshal(map[string]any{
		"keytype": typ,
		"keyval":  map[string]any{"private": nil, "public": public},
	})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

// certKeyIDs lists the key IDs that name cert's key by the certificate:
// TUF's and Notary's.
func certKeyIDs(cert *x509.Certificate) map[string]bool {
	ids := map[string]bool{}
	if k, err := CertKey(cert); err == nil {
		ids[k.ID()] = true
	}
	if id, err := NotaryCertKeyID(cert); err == nil {
		ids[id] = true
	}
	return ids
}

// bareKeyIDs lists the key IDs that name pub by itself: TUF's and Notary's.
func bareKeyIDs(pub crypto.PublicKey) map[string]bool {
	ids := map[string]bool{}
	if pk, err := keys.PublicKeyFor(pub, ""); err == nil {
		ids[metadata.NewKey(pk).ID()] = true
	}
	if id, err := NotaryKeyID(pub); err == nil {
		ids[id] = true
	}
	return ids
}
