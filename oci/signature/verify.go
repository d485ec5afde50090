package signature

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rampart-tuf/rampart/tuf/keys"
)

// Policy says whom to trust and as of when.
type Policy struct {
	// Roots are the trusted roots for x5c chains; nil means the system's
	// roots.
	Roots *x509.CertPool
	// Certs are certificates trusted directly: their keys verify
	// signatures that carry no x5c.
	Certs []*x509.Certificate
	// At is the time to verify as of; zero means now.
	At time.Time
	// MinVersion is the lowest document version accepted.
	MinVersion int64
	// AnyHost lifts the rule that the signer's certificate name the
	// registry host of every listed reference.
	AnyHost bool
}

// Signer is a signer whose signature verified.
type Signer struct {
	KeyID string
	// Leaf is the signer's certificate: the leaf of x5c, or the trusted
	// certificate whose key made a signature without x5c.
	Leaf *x509.Certificate
	// Chain is the verified chain from Leaf to a trusted root, when the
	// signature carried x5c.
	Chain []*x509.Certificate
}

// Sig is one signature over a document's signed bytes, as the checks of
// this package see it, whatever the document's format.
type Sig struct {
	KeyID string
	Value []byte
	Chain []*x509.Certificate // from x5c, leaf first; nil when absent
}

// Verify checks the document's signatures, the signer's certificate and the
// document's expiry and version under p, and returns the signers whose
// signatures are valid; at least one must be.
func (d *Document) Verify(p Policy) ([]Signer, error) {
	signed, sigs, err := d.signatures()
	if err != nil {
		return nil, err
	}
	at := p.at()
	if !d.Meta.Signed.Expires.After(at) {
		return nil, fmt.Errorf("signature document expired at %s (verifying as of %s)", d.Meta.Signed.Expires.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	}
	if v := d.Meta.Signed.Version; v < p.MinVersion {
		return nil, fmt.Errorf("signature document is version %d, lower than the minimum version %d", v, p.MinVersion)
	}
	hosts, err := d.hosts()
	if err != nil {
		return nil, err
	}
	return VerifySignatures(signed, sigs, hosts, p)
}

// signatures returns the bytes the document's signatures cover, and the
// signatures.
func (d *Document) signatures() ([]byte, []Sig, error) {
	if d.notary != nil {
		return d.notary.signed, d.notary.sigs, nil
	}
	sigs := make([]Sig, len(d.Meta.Signatures))
	for i, s := range d.Meta.Signatures {
		chain, err := Chain(s)
		if err != nil {
			return nil, nil, fmt.Errorf("signatures[%d]: %w", i, err)
		}
		sigs[i] = Sig{KeyID: s.KeyID, Value: s.Value, Chain: chain}
	}
	return d.Meta.SignedBytes(), sigs, nil
}

// hosts returns the registry hosts of the listed references.
func (d *Document) hosts() ([]string, error) {
	var hosts []string
	for _, ref := range d.References() {
		h, err := Host(ref)
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, h)
	}
	return hosts, nil
}

func (p Policy) at() time.Time {
	if p.At.IsZero() {
		return time.Now()
	}
	return p.At
}

// VerifySignatures checks signatures over signed, the canonical bytes of a
// document's "signed" member, that lists references on hosts, and returns
// the signers whose signatures are valid under p; at least one must be. It
// is the part of Verify that does not depend on the document's format.
func VerifySignatures(signed []byte, sigs []Sig, hosts []string, p Policy) ([]Signer, error) {
	if len(sigs) == 0 {
		return nil, errors.New("signature document has no signatures")
	}
	var valid []Signer
	var reasons []string
	for _, s := range sigs {
		signer, err := verifyOne(signed, s, hosts, p)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("key ID %s: %v", short(s.KeyID), err))
			continue
		}
		valid = append(valid, signer)
	}
	if len(valid) == 0 {
		return nil, fmt.Errorf("no valid signature by a trusted signer: %s", strings.Join(reasons, "; "))
	}
	return valid, nil
}

func short(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}

// verifyOne checks one signature: its key, its value, and its signer's
// certificate.
func verifyOne(signed []byte, s Sig, hosts []string, p Policy) (Signer, error) {
	var signer Signer
	if len(s.Chain) > 0 {
		leaf := s.Chain[0]
		if !certKeyIDs(leaf)[s.KeyID] {
			return signer, errors.New("key ID does not name the x5c leaf certificate")
		}
		chain, err := verifyChain(s.Chain, p)
		if err != nil {
			return signer, err
		}
		signer = Signer{KeyID: s.KeyID, Leaf: leaf, Chain: chain}
	} else {
		leaf := trustedCert(s.KeyID, p.Certs)
		if leaf == nil {
			return signer, errors.New("no x5c chain, and no trusted certificate has this key ID")
		}
		if err := checkValidity(leaf, p.at()); err != nil {
			return signer, err
		}
		signer = Signer{KeyID: s.KeyID, Leaf: leaf}
	}
	if err := checkLeaf(signer.Leaf, hosts, p); err != nil {
		return signer, err
	}
	if err := verifyValue(signed, s.Value, signer.Leaf); err != nil {
		return signer, err
	}
	return signer, nil
}

// verifyChain verifies chain (leaf first) to p's roots as of p's time.
func verifyChain(chain []*x509.Certificate, p Policy) ([]*x509.Certificate, error) {
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	roots := p.Roots
	if roots == nil {
		var err error
		if roots, err = x509.SystemCertPool(); err != nil {
			return nil, fmt.Errorf("reading the system's root certificates: %w", err)
		}
	}
	chains, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   p.at(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fmt.Errorf("certificate chain of %q: %w", chain[0].Subject.CommonName, err)
	}
	return chains[0], nil
}

// trustedCert returns the certificate among certs whose key has key ID id.
func trustedCert(id string, certs []*x509.Certificate) *x509.Certificate {
	for _, c := range certs {
		if certKeyIDs(c)[id] || bareKeyIDs(c.PublicKey)[id] {
			return c
		}
	}
	return nil
}

func checkValidity(c *x509.Certificate, at time.Time) error {
	if at.Before(c.NotBefore) || at.After(c.NotAfter) {
		return fmt.Errorf("certificate %q is valid from %s to %s, not at %s", c.Subject.CommonName,
			c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkLeaf checks that the signer's certificate allows signing and names
// every registry host.
func checkLeaf(leaf *x509.Certificate, hosts []string, p Policy) error {
	if leaf.KeyUsage != 0 && leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return fmt.Errorf("certificate %q: its key usage does not allow digital signatures", leaf.Subject.CommonName)
	}
	if p.AnyHost {
		return nil
	}
	for _, h := range hosts {
		if err := leaf.VerifyHostname(h); err != nil {
			return fmt.Errorf("certificate %q does not name registry %q in its subject alternative names (--any-host lifts this)", leaf.Subject.CommonName, h)
		}
	}
	return nil
}

// verifyValue checks the signature value with cert's key, in any of the
// encodings Notary and TUF use (ECDSA as ASN.1 DER or raw r||s).
func verifyValue(signed, value []byte, cert *x509.Certificate) error {
	v, err := lenientVerifier(cert.PublicKey)
	if err != nil {
		return err
	}
	return v.Verify(signed, value)
}

// lenientVerifier returns a verifier of pub's signatures in any of the
// encodings Notary and TUF use: the key without a scheme, which tuf/keys
// reads as a Notary key.
func lenientVerifier(pub crypto.PublicKey) (keys.Verifier, error) {
	pk, err := keys.PublicKeyFor(pub, "")
	if err != nil {
		return nil, err
	}
	pk.Scheme = ""
	return keys.NewVerifier(pk)
}
