package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
)

// MarshalPrivatePKCS8PEM encodes key, an ed25519.PrivateKey, *ecdsa.PrivateKey
// or *rsa.PrivateKey, as an unencrypted PKCS #8 PEM "PRIVATE KEY" block.
// Protecting the result at rest is the caller's job.
func MarshalPrivatePKCS8PEM(key crypto.Signer) ([]byte, error) {
	if k, ok := key.(*ed25519.PrivateKey); ok && k != nil {
		key = *k
	}
	switch k := key.(type) {
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("keys: %w: Ed25519 private key is %d bytes, want %d", ErrInvalidKey, len(k), ed25519.PrivateKeySize)
		}
	case *ecdsa.PrivateKey:
		if k == nil {
			return nil, fmt.Errorf("keys: %w: nil private key", ErrInvalidKey)
		}
	case *rsa.PrivateKey:
		if k == nil {
			return nil, fmt.Errorf("keys: %w: nil private key", ErrInvalidKey)
		}
	default:
		return nil, fmt.Errorf("keys: %w: cannot encode a %T private key", ErrUnsupported, key)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("keys: encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// maxPrivatePEM bounds the input of ParsePrivatePEM.
const maxPrivatePEM = 1 << 20

// ParsePrivatePEM decodes an unencrypted private key from PEM: a PKCS #8
// "PRIVATE KEY" block, or the older "EC PRIVATE KEY" (SEC 1) and
// "RSA PRIVATE KEY" (PKCS #1) blocks. Other blocks, such as certificates or
// "EC PARAMETERS", are skipped; there must be exactly one private key. An
// encrypted key is an error: decrypting it is another package's job.
//
// The result is an ed25519.PrivateKey, *ecdsa.PrivateKey or *rsa.PrivateKey.
// Whether TUF can use it (curve, RSA size) is checked by NewSigner.
func ParsePrivatePEM(data []byte) (crypto.Signer, error) {
	if len(data) > maxPrivatePEM {
		return nil, fmt.Errorf("keys: %w: PEM input is %d bytes, more than the limit of %d", ErrInvalidKey, len(data), maxPrivatePEM)
	}
	var found crypto.Signer
	sawPEM := false
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		sawPEM = true
		if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, fmt.Errorf("keys: %w: PEM %s block is encrypted; decrypt it first", ErrInvalidKey, displayName(block.Type))
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("keys: %w: PEM %s block: %v", ErrInvalidKey, block.Type, parseError(err))
		}
		var s crypto.Signer
		switch k := key.(type) {
		case ed25519.PrivateKey:
			s = k
		case *ecdsa.PrivateKey:
			s = k
		case *rsa.PrivateKey:
			s = k
		default:
			return nil, fmt.Errorf("keys: %w: PEM %s block holds a %T, not an Ed25519, ECDSA or RSA key", ErrUnsupported, block.Type, key)
		}
		if found != nil {
			return nil, fmt.Errorf("keys: %w: more than one private key in PEM input", ErrInvalidKey)
		}
		found = s
	}
	switch {
	case found != nil:
		return found, nil
	case sawPEM:
		return nil, fmt.Errorf("keys: %w: no private key block in PEM input", ErrInvalidKey)
	}
	return nil, fmt.Errorf("keys: %w: input is not PEM", ErrInvalidKey)
}
