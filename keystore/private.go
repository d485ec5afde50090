package keystore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/rampart-tuf/rampart/tuf/keys"
)

// Signer is a keys.Signer loaded from a key file. Close releases what it
// holds (a PKCS#11 session and library); the Signer cannot sign after it.
type Signer interface {
	keys.Signer
	Close() error
}

// ErrWrongPassphrase is returned when an encrypted key file does not
// decrypt: the passphrase is wrong, or the file was changed.
var ErrWrongPassphrase = errors.New("wrong passphrase, or the key file was modified")

const (
	kdfArgon2id      = "argon2id"
	cipherXChaCha    = "xchacha20poly1305"
	saltSize         = 16
	maxSaltSize      = 64
	maxArgonTime     = 16
	maxArgonMemory   = 1 << 20 // KiB: 1 GiB
	maxArgonThreads  = 64
	minPassphraseLen = 1
)

// kdfParams are the Argon2id parameters of an encrypted key file.
type kdfParams struct {
	Name      string `json:"name"`
	Salt      []byte `json:"salt"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// defaultKDF holds the costs of new files: the second recommended option
// of RFC 9106 (64 MiB, 3 passes, 4 lanes). Tests lower it.
var defaultKDF = kdfParams{Name: kdfArgon2id, Time: 3, MemoryKiB: 64 << 10, Threads: 4}

// keyFile is an encrypted key file. encoding/json writes the members in
// this order; without Ciphertext, that encoding is the AEAD's additional
// data.
type keyFile struct {
	Format     string    `json:"format"`
	KDF        kdfParams `json:"kdf"`
	Cipher     string    `json:"cipher"`
	Nonce      []byte    `json:"nonce"`
	Public     keyObject `json:"public"`
	Ciphertext []byte    `json:"ciphertext,omitempty"`
}

func (f *keyFile) additionalData() ([]byte, error) {
	h := *f
	h.Ciphertext = nil
	return json.Marshal(&h)
}

func (p kdfParams) check() error {
	switch {
	case p.Name != kdfArgon2id:
		return fmt.Errorf("unsupported KDF %q; want %q", shorten(p.Name), kdfArgon2id)
	case len(p.Salt) < saltSize || len(p.Salt) > maxSaltSize:
		return fmt.Errorf("KDF salt is %d bytes; want %d to %d", len(p.Salt), saltSize, maxSaltSize)
	case p.Time < 1 || p.Time > maxArgonTime:
		return fmt.Errorf("KDF time cost %d is out of range 1 to %d", p.Time, maxArgonTime)
	case p.Threads < 1 || p.Threads > maxArgonThreads:
		return fmt.Errorf("KDF threads %d is out of range 1 to %d", p.Threads, maxArgonThreads)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxArgonMemory:
		return fmt.Errorf("KDF memory %d KiB is out of range %d to %d", p.MemoryKiB, 8*uint32(p.Threads), maxArgonMemory)
	}
	return nil
}

func (p kdfParams) key(passphrase []byte) []byte {
	return argon2.IDKey(passphrase, p.Salt, p.Time, p.MemoryKiB, p.Threads, chacha20poly1305.KeySize)
}

// WritePrivate encrypts key under passphrase and writes it to path as an
// encrypted key file (see the package documentation), with mode 0600. The
// key's public key is listed under scheme; an empty scheme means the key's
// default. An existing file is replaced only if overwrite is true.
func WritePrivate(path string, key crypto.Signer, scheme string, passphrase []byte, overwrite bool) error {
	e, err := NewEncrypter(passphrase)
	if err != nil {
		return fmt.Errorf("keystore: %s: %w", path, err)
	}
	defer e.Close()
	return e.WritePrivate(path, key, scheme, overwrite)
}

// An Encrypter encrypts keys under one passphrase, deriving the key that
// encrypts them (Argon2id, the costly step) once: the files it writes
// share their KDF salt, each with its own nonce. For a batch of keys made
// together under the same passphrase, such as a new repository's.
type Encrypter struct {
	kdf kdfParams
	key []byte
}

// NewEncrypter derives a key from passphrase with a fresh salt.
func NewEncrypter(passphrase []byte) (*Encrypter, error) {
	return newEncrypter(passphrase, defaultKDF)
}

func newEncrypter(passphrase []byte, kdf kdfParams) (*Encrypter, error) {
	if len(passphrase) < minPassphraseLen {
		return nil, errors.New("refusing to encrypt a key under an empty passphrase")
	}
	kdf.Salt = make([]byte, saltSize)
	if _, err := rand.Read(kdf.Salt); err != nil {
		return nil, err
	}
	return &Encrypter{kdf: kdf, key: kdf.key(passphrase)}, nil
}

// WritePrivate is the function WritePrivate, with e's passphrase.
func (e *Encrypter) WritePrivate(path string, key crypto.Signer, scheme string, overwrite bool) error {
	data, err := e.encrypt(key, scheme)
	if err != nil {
		return fmt.Errorf("keystore: %s: %w", path, err)
	}
	return writeFileAtomic(path, data, 0o600, overwrite)
}

// Close forgets the derived key.
func (e *Encrypter) Close() { clear(e.key) }

func encryptKey(key crypto.Signer, scheme string, passphrase []byte, kdf kdfParams) ([]byte, error) {
	e, err := newEncrypter(passphrase, kdf)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	return e.encrypt(key, scheme)
}

func (e *Encrypter) encrypt(key crypto.Signer, scheme string) ([]byte, error) {
	if key == nil {
		return nil, errors.New("no key")
	}
	pk, err := keys.PublicKeyFor(key.Public(), scheme)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	defer clear(der)

	f := keyFile{Format: formatEncryptedV1, KDF: e.kdf, Cipher: cipherXChaCha, Public: newKeyObject(pk)}
	f.Nonce = make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(f.Nonce); err != nil {
		return nil, err
	}
	ad, err := f.additionalData()
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(e.key)
	if err != nil {
		return nil, err
	}
	f.Ciphertext = aead.Seal(nil, f.Nonce, der, ad)
	out, err := json.MarshalIndent(&f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// parseKeyFile decodes and checks an encrypted key file, without
// decrypting it.
func parseKeyFile(data []byte) (*keyFile, error) {
	var f keyFile
	if err := decodeStrict(data, &f); err != nil {
		return nil, fmt.Errorf("malformed %s key file: %w", formatEncryptedV1, err)
	}
	if f.Format != formatEncryptedV1 {
		_, err := detectFormat(f.Format)
		if err == nil {
			err = fmt.Errorf("format is %q, want %q", f.Format, formatEncryptedV1)
		}
		return nil, err
	}
	if err := f.KDF.check(); err != nil {
		return nil, fmt.Errorf("malformed %s key file: %w", formatEncryptedV1, err)
	}
	switch {
	case f.Cipher != cipherXChaCha:
		return nil, fmt.Errorf("malformed %s key file: unsupported cipher %q; want %q", formatEncryptedV1, shorten(f.Cipher), cipherXChaCha)
	case len(f.Nonce) != chacha20poly1305.NonceSizeX:
		return nil, fmt.Errorf("malformed %s key file: nonce is %d bytes, want %d", formatEncryptedV1, len(f.Nonce), chacha20poly1305.NonceSizeX)
	case len(f.Ciphertext) <= chacha20poly1305.Overhead:
		return nil, fmt.Errorf("malformed %s key file: ciphertext missing or too short", formatEncryptedV1)
	}
	if _, err := keys.NewVerifier(f.Public.publicKey()); err != nil {
		return nil, fmt.Errorf("malformed %s key file: public key: %w", formatEncryptedV1, err)
	}
	return &f, nil
}

// decryptKey decrypts a parsed key file and checks that the private key
// matches the public key stored with it.
func decryptKey(f *keyFile, passphrase []byte, d *DerivedKeys) (crypto.Signer, keys.PublicKey, error) {
	ad, err := f.additionalData()
	if err != nil {
		return nil, keys.PublicKey{}, err
	}
	k := d.key(f.KDF, passphrase)
	defer clear(k)
	aead, err := chacha20poly1305.NewX(k)
	if err != nil {
		return nil, keys.PublicKey{}, err
	}
	der, err := aead.Open(nil, f.Nonce, f.Ciphertext, ad)
	if err != nil {
		return nil, keys.PublicKey{}, ErrWrongPassphrase
	}
	defer clear(der)
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, keys.PublicKey{}, fmt.Errorf("decrypted key is not PKCS#8: %w", err)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, keys.PublicKey{}, fmt.Errorf("decrypted key is a %T, not a signing key", parsed)
	}
	pk := f.Public.publicKey()
	got, err := keys.PublicKeyFor(priv.Public(), pk.Scheme)
	if err != nil {
		return nil, keys.PublicKey{}, err
	}
	if got != pk {
		return nil, keys.PublicKey{}, errors.New("the private key does not match the public key stored with it")
	}
	return priv, pk, nil
}

// ReadPrivate decrypts the encrypted key file at path and returns the
// private key (an ed25519.PrivateKey, *ecdsa.PrivateKey or *rsa.PrivateKey)
// and its public key. It asks pass for the passphrase only once the file
// has been read and checked. A PKCS#11 reference is an error: its private
// key cannot leave the token.
func ReadPrivate(path string, pass PassphraseFunc) (crypto.Signer, keys.PublicKey, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, keys.PublicKey{}, err
	}
	kind, err := fileKind(data)
	if err != nil {
		return nil, keys.PublicKey{}, fmt.Errorf("keystore: %s: %w", path, err)
	}
	if kind != kindEncrypted {
		return nil, keys.PublicKey{}, fmt.Errorf("keystore: %s: is a PKCS#11 key reference; the private key stays on the token", path)
	}
	return readEncrypted(path, data, pass, nil)
}

func readEncrypted(path string, data []byte, pass PassphraseFunc, d *DerivedKeys) (crypto.Signer, keys.PublicKey, error) {
	f, err := parseKeyFile(data)
	if err != nil {
		return nil, keys.PublicKey{}, fmt.Errorf("keystore: %s: %w", path, err)
	}
	if pass == nil {
		return nil, keys.PublicKey{}, fmt.Errorf("keystore: %s: %w", path, ErrNoPassphrase)
	}
	p, err := pass(fmt.Sprintf("Passphrase for %s: ", path))
	if err != nil {
		return nil, keys.PublicKey{}, fmt.Errorf("keystore: %s: %w", path, err)
	}
	defer clear(p)
	priv, pk, err := decryptKey(f, p, d)
	if err != nil {
		return nil, keys.PublicKey{}, fmt.Errorf("keystore: %s: %w", path, err)
	}
	return priv, pk, nil
}

// fileKind returns the kind of a private key file from its "format".
func fileKind(data []byte) (int, error) {
	var probe struct {
		Format *string `json:"format"`
	}
	notKey := fmt.Errorf("not a Rampart private key file (want a JSON object with \"format\" %q or %q)", formatEncryptedV1, formatPKCS11V1)
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
		return 0, notKey
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return 0, fmt.Errorf("malformed key file: %w", err)
	}
	if probe.Format == nil {
		return 0, notKey
	}
	return detectFormat(*probe.Format)
}

// Load opens the private key file at path, an encrypted key file or a
// PKCS#11 key reference, and returns a Signer for it. The passphrase or PIN
// is asked of pass only when the file has been read and checked. Close the
// Signer when done.
func Load(ctx context.Context, path string, pass PassphraseFunc) (Signer, error) {
	return LoadWith(ctx, path, pass, nil)
}

// LoadWith is Load, remembering in d (when not nil) the key it derives
// from the passphrase, and using one d remembers: see DerivedKeys.
func LoadWith(ctx context.Context, path string, pass PassphraseFunc, d *DerivedKeys) (Signer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, ref, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	if ref != nil {
		s, err := openPKCS11(ctx, ref.PKCS11Key, ref.Public.publicKey(), pass)
		if err != nil {
			return nil, fmt.Errorf("keystore: %s: %w", path, err)
		}
		return s, nil
	}
	priv, pk, err := readEncrypted(path, data, pass, d)
	if err != nil {
		return nil, err
	}
	s, err := keys.NewSigner(priv, pk.Scheme)
	if err != nil {
		return nil, fmt.Errorf("keystore: %s: %w", path, err)
	}
	return memSigner{s}, nil
}

// readKeyFile reads the private key file at path and tells its kind: ref
// is the parsed reference of a PKCS#11 key, nil for an encrypted key file.
func readKeyFile(path string) (data []byte, ref *pkcs11Ref, err error) {
	if data, err = readBounded(path); err != nil {
		return nil, nil, err
	}
	kind, err := fileKind(data)
	if err != nil {
		return nil, nil, fmt.Errorf("keystore: %s: %w", path, err)
	}
	if kind != kindPKCS11 {
		return data, nil, nil
	}
	if ref, err = parsePKCS11Ref(data); err != nil {
		return nil, nil, fmt.Errorf("keystore: %s: %w", path, err)
	}
	return data, ref, nil
}

// memSigner is a Signer of a key in memory; Close does nothing.
type memSigner struct{ keys.Signer }

func (memSigner) Close() error { return nil }

// ChangePassphrase re-encrypts the encrypted key file at path under a new
// passphrase, asking pass for the current one and newPass for the new one.
// The file is replaced atomically, with fresh salt and nonce.
func ChangePassphrase(path string, pass, newPass PassphraseFunc) error {
	priv, pk, err := ReadPrivate(path, pass)
	if err != nil {
		return err
	}
	p, err := newPass(fmt.Sprintf("New passphrase for %s: ", path))
	if err != nil {
		return fmt.Errorf("keystore: %s: %w", path, err)
	}
	defer clear(p)
	return WritePrivate(path, priv, pk.Scheme, p, true)
}
