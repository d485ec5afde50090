package signature

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/notary"
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

// NotaryCertKeyID returns Notary's key ID of cert: that of its "rsa-x509"
// or "ecdsa-x509" key object, the certificate's PEM (see tuf/notary).
func NotaryCertKeyID(cert *x509.Certificate) (string, error) {
	k, err := notary.NewCertKey(cert)
	if err != nil {
		return "", err
	}
	return k.ID(), nil
}

// NotaryKeyID returns Notary's key ID of a bare public key.
func NotaryKeyID(pub crypto.PublicKey) (string, error) {
	k, err := notary.NewKey(pub)
	if err != nil {
		return "", err
	}
	return k.ID(), nil
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
