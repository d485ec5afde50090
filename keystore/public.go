package keystore

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// MaxFileSize is the largest key file this package reads.
const MaxFileSize = 1 << 20

// keyObject is the JSON form of a TUF key object. encoding/json writes its
// members in this order, which is also canonical JSON's order.
type keyObject struct {
	KeyType string `json:"keytype"`
	KeyVal  struct {
		Public string `json:"public"`
	} `json:"keyval"`
	Scheme string `json:"scheme"`
}

func newKeyObject(pk keys.PublicKey) keyObject {
	var o keyObject
	o.KeyType, o.Scheme, o.KeyVal.Public = pk.Type, pk.Scheme, pk.Value
	return o
}

func (o keyObject) publicKey() keys.PublicKey {
	return keys.PublicKey{Type: o.KeyType, Scheme: o.Scheme, Value: o.KeyVal.Public}
}

// KeyID returns the TUF key ID of pk: the SHA-256 of its key object.
func KeyID(pk keys.PublicKey) string { return metadata.NewKey(pk).ID() }

// WritePublic writes pk to path as a TUF key object in JSON, with mode
// 0644. An existing file is replaced only if overwrite is true.
func WritePublic(path string, pk keys.PublicKey, overwrite bool) error {
	if _, err := keys.NewVerifier(pk); err != nil {
		return fmt.Errorf("keystore: %s: %w", path, err)
	}
	data, err := json.MarshalIndent(newKeyObject(pk), "", "  ")
	if err != nil {
		return fmt.Errorf("keystore: %s: %w", path, err)
	}
	return writeFileAtomic(path, append(data, '\n'), 0o644, overwrite)
}

// ReadPublic reads a public key from path: a public key file, a PEM public
// key or certificate, or a private key file of either kind (see the package
// documentation). The key is checked with keys.NewVerifier.
func ReadPublic(path string) (keys.PublicKey, error) {
	data, err := readBounded(path)
	if err != nil {
		return keys.PublicKey{}, err
	}
	pk, err := parsePublic(data)
	if err != nil {
		return keys.PublicKey{}, fmt.Errorf("keystore: %s: %w", path, err)
	}
	return pk, nil
}

func parsePublic(data []byte) (keys.PublicKey, error) {
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		return parsePEMPublic(trimmed)
	}
	if !bytes.HasPrefix(trimmed, []byte("{")) {
		return keys.PublicKey{}, errors.New("not a key file: want a JSON key object, a Rampart key file or a PEM public key")
	}
	var probe struct {
		Format *string `json:"format"`
	}
	if err := json.Unmarshal(trimmed, &probe); err != nil {
		return keys.PublicKey{}, fmt.Errorf("not valid JSON: %w", err)
	}
	var pk keys.PublicKey
	if probe.Format != nil {
		kind, err := detectFormat(*probe.Format)
		if err != nil {
			return keys.PublicKey{}, err
		}
		switch kind {
		case kindEncrypted:
			f, err := parseKeyFile(trimmed)
			if err != nil {
				return keys.PublicKey{}, err
			}
			pk = f.Public.publicKey()
		case kindPKCS11:
			r, err := parsePKCS11Ref(trimmed)
			if err != nil {
				return keys.PublicKey{}, err
			}
			pk = r.Public.publicKey()
		}
	} else {
		var o keyObject
		if err := json.Unmarshal(trimmed, &o); err != nil {
			return keys.PublicKey{}, fmt.Errorf("not a TUF key object: %w", err)
		}
		if o.KeyType == "" || o.Scheme == "" || o.KeyVal.Public == "" {
			return keys.PublicKey{}, errors.New(`not a TUF key object: want "keytype", "scheme" and "keyval" with "public"`)
		}
		pk = o.publicKey()
	}
	if _, err := keys.NewVerifier(pk); err != nil {
		return keys.PublicKey{}, err
	}
	return pk, nil
}

func parsePEMPublic(data []byte) (keys.PublicKey, error) {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return keys.PublicKey{}, errors.New(`no PEM "PUBLIC KEY" or "CERTIFICATE" block`)
		}
		switch block.Type {
		case "PUBLIC KEY":
			pub, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return keys.PublicKey{}, fmt.Errorf("PEM public key: %w", err)
			}
			return keys.PublicKeyFor(pub, "")
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return keys.PublicKey{}, fmt.Errorf("PEM certificate: %w", err)
			}
			return keys.PublicKeyFor(cert.PublicKey, "")
		case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			return keys.PublicKey{}, fmt.Errorf("PEM %s block: not a public key, and not a Rampart key file", block.Type)
		}
	}
}

// readBounded reads a file of at most MaxFileSize bytes.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("keystore: reading %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("keystore: %s: file is larger than the limit of %d bytes; not a key file", path, MaxFileSize)
	}
	return data, nil
}

// File kinds, from the "format" member.
const (
	kindEncrypted = iota
	kindPKCS11
)

const (
	formatEncryptedV1 = "rampart-key-v1"
	formatPKCS11V1    = "rampart-pkcs11-v1"
)

// detectFormat returns the kind of a key file from its "format" member.
func detectFormat(format string) (int, error) {
	switch {
	case format == formatEncryptedV1:
		return kindEncrypted, nil
	case format == formatPKCS11V1:
		return kindPKCS11, nil
	case strings.HasPrefix(format, "rampart-key-"):
		return 0, fmt.Errorf("unsupported key file format %q: this version of rampart reads %q; a newer rampart may read it", format, formatEncryptedV1)
	case strings.HasPrefix(format, "rampart-pkcs11-"):
		return 0, fmt.Errorf("unsupported PKCS#11 reference format %q: this version of rampart reads %q; a newer rampart may read it", format, formatPKCS11V1)
	}
	return 0, fmt.Errorf("unknown key file format %q", shorten(format))
}

// shorten keeps untrusted strings in error messages short.
func shorten(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown
// members.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}
