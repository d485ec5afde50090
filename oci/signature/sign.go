package signature

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/rampart-tuf/rampart/tuf/keys"
)

// SignOptions says who signs and until when the signature is valid.
type SignOptions struct {
	// Key is the signing key (keys.NewSigner wraps an in-memory key or any
	// crypto.Signer; keystore.Load opens key files and PKCS#11 keys).
	Key keys.Signer
	// Chain is the signer's certificate chain, leaf first; the leaf must
	// hold Key's public key. Empty to sign with the bare key.
	Chain []*x509.Certificate
	// Expires is when the signature expires; zero means DefaultExpiry
	// from now.
	Expires time.Time
	// Format is FormatTUF (the default) or FormatNotary.
	Format string
}

// Sign sets the document's expiry and signs it, replacing any signature by
// the same key. With a chain, the signature object carries it in "x5c".
func (d *Document) Sign(ctx context.Context, opts SignOptions) error {
	signer, err := NewSigner(opts.Key, opts.Chain)
	if err != nil {
		return err
	}
	expires := opts.Expires
	if expires.IsZero() {
		expires = time.Now().Add(DefaultExpiry)
	}
	if !expires.After(time.Now()) {
		return fmt.Errorf("expiry %s is in the past", expires.UTC().Format(time.RFC3339))
	}
	switch opts.Format {
	case FormatNotary:
		return d.signNotary(ctx, opts.Key, opts.Chain, expires.UTC())
	case "", FormatTUF:
	default:
		return fmt.Errorf("unknown signature format %q: want %s or %s", opts.Format, FormatTUF, FormatNotary)
	}
	d.notary = nil
	d.Meta.Signed.Expires = expires.UTC().Truncate(time.Second)
	sig, err := d.Meta.Sign(ctx, signer)
	if err != nil {
		return err
	}
	if len(opts.Chain) == 0 {
		return nil
	}
	if err := setChain(&sig, opts.Chain); err != nil {
		return err
	}
	d.Meta.AddSignature(sig)
	return nil
}

// Extend prepares an earlier signature document for new targets: it checks
// that the document carries a valid signature by the same signer (so that
// signing it again vouches for nothing the signer had not vouched for),
// then increments its version. Its targets are kept.
func (d *Document) Extend(key keys.Signer, chain []*x509.Certificate) error {
	v, err := keys.NewVerifier(key.PublicKey())
	if err != nil {
		return err
	}
	ids := bareKeyIDs(v.Public())
	if len(chain) > 0 {
		ids = certKeyIDs(chain[0])
	}
	signed, sigs, err := d.signatures()
	if err != nil {
		return err
	}
	lenient, err := lenientVerifier(v.Public())
	if err != nil {
		return err
	}
	ok := false
	for _, s := range sigs {
		if ids[s.KeyID] && lenient.Verify(signed, s.Value) == nil {
			ok = true
			break
		}
	}
	if !ok {
		return errors.New("base signature is not signed by this signer")
	}
	d.Meta.ClearSignatures()
	d.notary = nil
	d.Meta.Signed.Version++
	return nil
}

// NewSigner returns the keys.Signer that signs documents with key: under the
// bare key when chain is empty, under the leaf certificate's key object
// (CertKey) otherwise, with ECDSA signatures in raw r||s form. A key that
// does not match the leaf is refused.
func NewSigner(s keys.Signer, chain []*x509.Certificate) (keys.Signer, error) {
	if s == nil {
		return nil, errors.New("no signing key")
	}
	if len(chain) == 0 {
		return s, nil
	}
	sv, err := keys.NewVerifier(s.PublicKey())
	if err != nil {
		return nil, err
	}
	leaf := chain[0]
	if !samePublicKey(sv.Public(), leaf.PublicKey) {
		return nil, fmt.Errorf("the signing key does not match the certificate %q", leaf.Subject.CommonName)
	}
	k, err := CertKey(leaf)
	if err != nil {
		return nil, err
	}
	v, err := k.Verifier()
	if err != nil {
		return nil, err
	}
	return &certSigner{s: s, pk: k.PublicKey, v: v}, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// certSigner signs under a certificate's key object.
type certSigner struct {
	s  keys.Signer
	pk keys.PublicKey
	v  keys.Verifier
}

func (c *certSigner) PublicKey() keys.PublicKey { return c.pk }

func (c *certSigner) Sign(ctx context.Context, message []byte) ([]byte, error) {
	sig, err := c.s.Sign(ctx, message)
	if err != nil {
		return nil, err
	}
	if pub, ok := c.v.Public().(*ecdsa.PublicKey); ok {
		if sig, err = rawRS(sig, (pub.Curve.Params().BitSize+7)/8); err != nil {
			return nil, err
		}
	}
	if err := c.v.Verify(message, sig); err != nil {
		return nil, fmt.Errorf("signature does not verify under the certificate: %w", err)
	}
	return sig, nil
}

// rawRS converts an ASN.1 DER ECDSA signature to fixed-size r||s.
func rawRS(der []byte, size int) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("ECDSA signature is not ASN.1 DER")
	}
	out := make([]byte, 2*size)
	rs.R.FillBytes(out[:size])
	rs.S.FillBytes(out[size:])
	return out, nil
}
