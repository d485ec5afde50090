package notary

import (
	"context"
	"crypto/ecdsa"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"math/big"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// SigningKey is a signer with the Notary key its signatures are listed under.
// The key is usually the plain key of the signer's public key (see
// NewSigningKey); a root key is listed as its certificate (NewCertKey).
type SigningKey struct {
	Key    Key
	Signer keys.Signer
}

// NewSigningKey returns s with the plain Notary key of its public key.
func NewSigningKey(s keys.Signer) (SigningKey, error) {
	v, err := keys.NewVerifier(s.PublicKey())
	if err != nil {
		return SigningKey{}, err
	}
	k, err := NewKey(v.Public())
	if err != nil {
		return SigningKey{}, err
	}
	return SigningKey{Key: k, Signer: s}, nil
}

// Sign signs the canonical "signed" bytes of a document (from Marshal) with
// each key and returns the document: {"signed":...,"signatures":[...]}, in
// the member order Notary writes. ECDSA signatures are written in Notary's
// fixed-size r||s form.
func Sign(ctx context.Context, signed []byte, ks ...SigningKey) ([]byte, error) {
	if len(ks) == 0 {
		return nil, fmt.Errorf("notary: no signing keys")
	}
	w := canonjson.NewWriter(len(signed) + 256*len(ks))
	w.BeginArray()
	for _, k := range ks {
		sig, err := k.Signer.Sign(ctx, signed)
		if err != nil {
			return nil, fmt.Errorf("notary: signing with key %s: %w", k.Key.ID(), err)
		}
		v, err := k.Key.Verifier()
		if err != nil {
			return nil, err
		}
		if pub, ok := v.Public().(*ecdsa.PublicKey); ok {
			if sig, err = rawECDSA(sig, (pub.Curve.Params().BitSize+7)/8); err != nil {
				return nil, err
			}
		}
		// The signer checked its signature against its own public key; this
		// checks that the key it is listed under is the same key.
		if err := verifySig(k.Key, v, Signature{Method: method(k.Key.Type), Sig: sig}, signed); err != nil {
			return nil, fmt.Errorf("notary: signer does not hold key %s: %w", k.Key.ID(), err)
		}
		w.BeginObject()
		w.Name("keyid")
		w.String(k.Key.ID())
		w.Name("method")
		w.String(method(k.Key.Type))
		w.Name("sig")
		w.String(base64.StdEncoding.EncodeToString(sig))
		w.EndObject()
	}
	w.EndArray()
	out := make([]byte, 0, len(signed)+w.Len()+32)
	out = append(out, `{"signed":`...)
	out = append(out, signed...)
	out = append(out, `,"signatures":`...)
	out = append(out, w.Bytes()...)
	return append(out, '}'), nil
}

// rawECDSA converts an ASN.1 DER ECDSA signature to r||s of size bytes each.
func rawECDSA(der []byte, size int) ([]byte, error) {
	var s struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &s); err != nil || len(rest) != 0 {
		if len(der) == 2*size {
			return der, nil // already r||s
		}
		return nil, fmt.Errorf("notary: ECDSA signature is neither DER nor r||s")
	}
	if s.R.Sign() <= 0 || s.S.Sign() <= 0 || s.R.BitLen() > 8*size || s.S.BitLen() > 8*size {
		return nil, fmt.Errorf("notary: ECDSA signature values out of range")
	}
	out := make([]byte, 2*size)
	s.R.FillBytes(out[:size])
	s.S.FillBytes(out[size:])
	return out, nil
}
