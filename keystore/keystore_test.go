package keystore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

func TestMain(m *testing.M) {
	// Cheap KDF costs keep the tests fast; TestDefaultKDF uses the real ones.
	defaultKDF = kdfParams{Name: kdfArgon2id, Time: 1, MemoryKiB: 64, Threads: 1}
	os.Exit(m.Run())
}

// fixed returns a PassphraseFunc that returns p and counts its calls.
func fixed(p string, calls *int) PassphraseFunc {
	return func(string) ([]byte, error) {
		if calls != nil {
			*calls++
		}
		return []byte(p), nil
	}
}

// signAndVerify signs root metadata listing pk with s and checks the
// signature with tuf/keys and with the metadata's own verification.
func signAndVerify(t *testing.T, s keys.Signer, pk keys.PublicKey) {
	t.Helper()
	if s.PublicKey() != pk {
		t.Fatalf("signer's public key %+v, want %+v", s.PublicKey(), pk)
	}
	root := metadata.NewRoot(time.Now().Add(time.Hour))
	key := metadata.NewKey(pk)
	if err := root.AddKey("root", key); err != nil {
		t.Fatal(err)
	}
	m := metadata.New(root)
	sig, err := m.Sign(context.Background(), s)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if sig.KeyID != KeyID(pk) {
		t.Errorf("signature key ID %s, want %s", sig.KeyID, KeyID(pk))
	}
	v, err := keys.NewVerifier(pk)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(m.SignedBytes(), sig.Value); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	if err := root.VerifyRole("root", m); err != nil {
		t.Fatalf("VerifyRole: %v", err)
	}
}

func writeKey(t *testing.T, keyType, pass string) (string, crypto.Signer, keys.PublicKey) {
	t.Helper()
	priv, err := keys.Generate(keyType)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := keys.PublicKeyFor(priv.Public(), "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "k.key")
	if err := WritePrivate(path, priv, "", []byte(pass), false); err != nil {
		t.Fatalf("WritePrivate: %v", err)
	}
	return path, priv, pk
}

func TestRoundTrip(t *testing.T) {
	for _, typ := range []string{"ed25519", "ecdsa", "ecdsa-p384", "rsa"} {
		t.Run(typ, func(t *testing.T) {
			path, _, pk := writeKey(t, typ, "correct horse")
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", fi.Mode().Perm())
			}
			// The public key is readable without the passphrase.
			got, err := ReadPublic(path)
			if err != nil || got != pk {
				t.Fatalf("ReadPublic = %+v, %v; want %+v", got, err, pk)
			}
			calls := 0
			s, err := Load(context.Background(), path, fixed("correct horse", &calls))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			defer s.Close()
			if calls != 1 {
				t.Errorf("passphrase asked %d times, want 1", calls)
			}
			signAndVerify(t, s, pk)
		})
	}
}

func TestDefaultKDF(t *testing.T) {
	saved := defaultKDF
	defer func() { defaultKDF = saved }()
	defaultKDF = kdfParams{Name: kdfArgon2id, Time: 3, MemoryKiB: 64 << 10, Threads: 4}
	path, _, pk := writeKey(t, "ed25519", "pw")
	data, _ := os.ReadFile(path)
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if f.KDF.MemoryKiB != 64<<10 || f.KDF.Time != 3 || f.KDF.Threads != 4 || len(f.KDF.Salt) != 16 {
		t.Errorf("KDF params %+v", f.KDF)
	}
	s, err := Load(context.Background(), path, fixed("pw", nil))
	if err != nil {
		t.Fatal(err)
	}
	signAndVerify(t, s, pk)
}

func TestFileFormat(t *testing.T) {
	path, _, pk := writeKey(t, "ecdsa", "pw")
	data, _ := os.ReadFile(path)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"format", "kdf", "cipher", "nonce", "public", "ciphertext"} {
		if _, ok := m[k]; !ok {
			t.Errorf("key file has no %q member", k)
		}
	}
	if len(m) != 6 {
		t.Errorf("key file has %d members, want 6:\n%s", len(m), data)
	}
	if string(m["format"]) != `"rampart-key-v1"` || string(m["cipher"]) != `"xchacha20poly1305"` {
		t.Errorf("format/cipher = %s/%s", m["format"], m["cipher"])
	}
	if bytes.Contains(data, []byte("PRIVATE")) {
		t.Error("key file contains a clear private key")
	}
	var pub keyObject
	if err := json.Unmarshal(m["public"], &pub); err != nil || pub.publicKey() != pk {
		t.Errorf("public = %s, %v", m["public"], err)
	}
}

func TestWrongPassphrase(t *testing.T) {
	path, _, _ := writeKey(t, "ed25519", "right")
	_, err := Load(context.Background(), path, fixed("wrong", nil))
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("Load with wrong passphrase: %v, want ErrWrongPassphrase", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("error %q does not name the file and the cause", err)
	}
	if _, _, err := ReadPrivate(path, fixed("", nil)); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("ReadPrivate with empty passphrase: %v", err)
	}
}

func TestPassphraseError(t *testing.T) {
	path, _, _ := writeKey(t, "ed25519", "right")
	boom := errors.New("boom")
	_, err := Load(context.Background(), path, func(string) ([]byte, error) { return nil, boom })
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
		t.Errorf("Load: %v", err)
	}
	if _, err := Load(context.Background(), path, nil); !errors.Is(err, ErrNoPassphrase) {
		t.Errorf("Load with nil PassphraseFunc: %v", err)
	}
}

// modify rewrites one member of the key file at path.
func modify(t *testing.T, path string, edit func(f *keyFile)) {
	t.Helper()
	data, _ := os.ReadFile(path)
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	edit(&f)
	out, _ := json.Marshal(&f)
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTampering(t *testing.T) {
	other, err := keys.Generate("ecdsa")
	if err != nil {
		t.Fatal(err)
	}
	otherPK, _ := keys.PublicKeyFor(other.Public(), "")
	tests := []struct {
		name string
		edit func(f *keyFile)
	}{
		{"public key swapped", func(f *keyFile) { f.Public = newKeyObject(otherPK) }},
		{"kdf time", func(f *keyFile) { f.KDF.Time++ }},
		{"salt", func(f *keyFile) { f.KDF.Salt[0] ^= 1 }},
		{"nonce", func(f *keyFile) { f.Nonce[0] ^= 1 }},
		{"ciphertext", func(f *keyFile) { f.Ciphertext[3] ^= 1 }},
		{"tag", func(f *keyFile) { f.Ciphertext[len(f.Ciphertext)-1] ^= 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _, _ := writeKey(t, "ecdsa", "pw")
			modify(t, path, tt.edit)
			_, err := Load(context.Background(), path, fixed("pw", nil))
			if !errors.Is(err, ErrWrongPassphrase) {
				t.Errorf("Load of tampered file: %v, want ErrWrongPassphrase", err)
			}
		})
	}
}

func TestMalformedFiles(t *testing.T) {
	path, _, _ := writeKey(t, "ed25519", "pw")
	good, _ := os.ReadFile(path)
	var f map[string]any
	if err := json.Unmarshal(good, &f); err != nil {
		t.Fatal(err)
	}
	with := func(k string, v any) []byte {
		m := map[string]any{}
		for kk, vv := range f {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	kdf := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range f["kdf"].(map[string]any) {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name, data, want string
	}{
		{"empty", "", "not a Rampart private key file"},
		{"not JSON", "hello", "not a Rampart private key file"},
		{"PEM", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not a Rampart private key file"},
		{"no format", `{"cipher":"x"}`, "not a Rampart private key file"},
		{"future version", string(with("format", "rampart-key-v2")), `unsupported key file format "rampart-key-v2"`},
		{"future pkcs11 version", `{"format":"rampart-pkcs11-v7"}`, `unsupported PKCS#11 reference format "rampart-pkcs11-v7"`},
		{"other format", `{"format":"openssh"}`, `unknown key file format "openssh"`},
		{"unknown member", string(with("extra", 1)), `unknown field "extra"`},
		{"trailing data", string(good) + "{}", "malformed key file"},
		{"bad cipher", string(with("cipher", "rot13")), `unsupported cipher "rot13"`},
		{"short nonce", string(with("nonce", "AAAA")), "nonce is 3 bytes"},
		{"no ciphertext", string(with("ciphertext", nil)), "ciphertext missing"},
		{"bad kdf", string(with("kdf", kdf("name", "md5"))), `unsupported KDF "md5"`},
		{"huge memory", string(with("kdf", kdf("memory_kib", 1<<30))), "KDF memory"},
		{"huge time", string(with("kdf", kdf("time", 1000))), "KDF time cost"},
		{"no threads", string(with("kdf", kdf("threads", 0))), "KDF threads"},
		{"short salt", string(with("kdf", kdf("salt", "AAAA"))), "KDF salt"},
		{"bad public", string(with("public", map[string]any{"keytype": "ed25519", "scheme": "ed25519", "keyval": map[string]any{"public": "zz"}})), "public key"},
	}
	// Every truncation of a good file is rejected too.
	for n := 0; n < len(good)-1; n += 7 {
		tests = append(tests, struct{ name, data, want string }{"truncated", string(good[:n]), ""})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.key")
			if err := os.WriteFile(p, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			calls := 0
			_, err := Load(context.Background(), p, fixed("pw", &calls))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
			if tt.want != "" && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if calls != 0 {
				t.Errorf("passphrase asked for a malformed file")
			}
			if _, err := ReadPublic(p); err == nil {
				t.Errorf("ReadPublic succeeded")
			}
		})
	}
}

func TestFileTooLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.key")
	if err := os.WriteFile(p, bytes.Repeat([]byte(" "), MaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(context.Background(), p, fixed("pw", nil))
	if err == nil || !strings.Contains(err.Error(), "larger than the limit") {
		t.Errorf("Load of a large file: %v", err)
	}
	if _, err := Load(context.Background(), filepath.Join(t.TempDir(), "missing.key"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestNoOverwrite(t *testing.T) {
	path, priv, pk := writeKey(t, "ed25519", "pw")
	before, _ := os.ReadFile(path)
	err := WritePrivate(path, priv, "", []byte("pw2"), false)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("WritePrivate over an existing file: %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("existing file changed")
	}
	if err := WritePrivate(path, priv, "", []byte("pw2"), true); err != nil {
		t.Fatalf("WritePrivate with overwrite: %v", err)
	}
	s, err := Load(context.Background(), path, fixed("pw2", nil))
	if err != nil {
		t.Fatal(err)
	}
	signAndVerify(t, s, pk)
	if err := WritePrivate(filepath.Join(t.TempDir(), "x.key"), priv, "", nil, false); err == nil {
		t.Error("WritePrivate with an empty passphrase succeeded")
	}
	if err := WritePrivate(filepath.Join(t.TempDir(), "x.key"), priv, "rsassa-pss-sha256", []byte("p"), false); err == nil {
		t.Error("WritePrivate with a scheme that does not fit the key succeeded")
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(entries))
	}
}

func TestChangePassphrase(t *testing.T) {
	path, _, pk := writeKey(t, "ecdsa", "old")
	if err := ChangePassphrase(path, fixed("wrong", nil), fixed("new", nil)); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("ChangePassphrase with the wrong passphrase: %v", err)
	}
	if err := ChangePassphrase(path, fixed("old", nil), fixed("new", nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(context.Background(), path, fixed("old", nil)); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("old passphrase still works: %v", err)
	}
	s, err := Load(context.Background(), path, fixed("new", nil))
	if err != nil {
		t.Fatal(err)
	}
	signAndVerify(t, s, pk)
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after change", fi.Mode().Perm())
	}
}

func TestPublicFiles(t *testing.T) {
	dir := t.TempDir()
	priv, _ := keys.Generate("ecdsa")
	pk, _ := keys.PublicKeyFor(priv.Public(), "")
	path := filepath.Join(dir, "k.pub")
	if err := WritePublic(path, pk, false); err != nil {
		t.Fatal(err)
	}
	if err := WritePublic(path, pk, false); err == nil {
		t.Error("WritePublic overwrote a file")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	if obj["keytype"] != "ecdsa" || obj["scheme"] != "ecdsa-sha2-nistp256" || obj["keyval"].(map[string]any)["public"] != pk.Value || len(obj) != 3 {
		t.Errorf("public key file:\n%s", data)
	}
	got, err := ReadPublic(path)
	if err != nil || got != pk {
		t.Fatalf("ReadPublic = %+v, %v", got, err)
	}
	if KeyID(got) != metadata.NewKey(pk).ID() {
		t.Error("KeyID differs from metadata's")
	}

	// A PEM public key and a certificate give the same key.
	der, _ := x509.MarshalPKIXPublicKey(priv.Public())
	pemPath := filepath.Join(dir, "k.pem")
	os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
	if got, err := ReadPublic(pemPath); err != nil || got != pk {
		t.Errorf("ReadPublic(PEM) = %+v, %v", got, err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "k"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		t.Fatal(err)
	}
	certPath := filepath.Join(dir, "k.crt")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}), 0o644)
	if got, err := ReadPublic(certPath); err != nil || got != pk {
		t.Errorf("ReadPublic(certificate) = %+v, %v", got, err)
	}

	// Bad public files.
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384PK, _ := keys.PublicKeyFor(p384.Public(), "")
	for name, content := range map[string]string{
		"empty":          "",
		"not a key":      "[]",
		"missing scheme": `{"keytype":"ed25519","keyval":{"public":"00"}}`,
		"bad value":      `{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"00"}}`,
		"wrong curve":    `{"keytype":"ecdsa","scheme":"ecdsa-sha2-nistp256","keyval":{"public":` + strings.ReplaceAll(jsonString(p384PK.Value), "\\u003c", "<") + `}}`,
		"private PEM":    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	} {
		p := filepath.Join(dir, "bad.pub")
		os.WriteFile(p, []byte(content), 0o644)
		if _, err := ReadPublic(p); err == nil {
			t.Errorf("%s: ReadPublic succeeded", name)
		} else if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
	if err := WritePublic(filepath.Join(dir, "bad2.pub"), keys.PublicKey{Type: "ed25519", Scheme: "ed25519", Value: "00"}, false); err == nil {
		t.Error("WritePublic of an invalid key succeeded")
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestEnvOrPrompt(t *testing.T) {
	t.Setenv(EnvPassphrase, "from-env")
	for _, f := range []PassphraseFunc{EnvOrPrompt(nil, nil), EnvOrPromptNew(nil, nil)} {
		if p, err := f("x: "); err != nil || string(p) != "from-env" {
			t.Errorf("with %s set: %q, %v", EnvPassphrase, p, err)
		}
	}
	os.Unsetenv(EnvPassphrase)

	// A pipe is not a terminal: fail at once rather than read from it.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	var stderr bytes.Buffer
	for _, f := range []PassphraseFunc{EnvOrPrompt(r, &stderr), EnvOrPromptNew(r, &stderr), EnvOrPrompt(nil, &stderr)} {
		if _, err := f("x: "); !errors.Is(err, ErrNoPassphrase) {
			t.Errorf("without a terminal: %v, want ErrNoPassphrase", err)
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("prompted without a terminal: %q", stderr.String())
	}
}

func FuzzParse(f *testing.F) {
	defaultKDF = kdfParams{Name: kdfArgon2id, Time: 1, MemoryKiB: 64, Threads: 1}
	priv, _ := keys.Generate("ed25519")
	good, err := encryptKey(priv, "", []byte("pw"), defaultKDF)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"format":"rampart-pkcs11-v1","module":"/x.so","token_label":"t","key_label":"k","public":{}}`))
	f.Add([]byte(`{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"00"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		parsePublic(data)
		// Decrypting runs Argon2id with the file's costs, which parse
		// accepts up to 1 GiB and 16 passes: tens of seconds an input.
		// The costs' bounds are parse's to check; decryption is fuzzed at
		// the test's own small costs.
		if kf, err := parseKeyFile(data); err == nil && kf.KDF.MemoryKiB <= defaultKDF.MemoryKiB && kf.KDF.Time <= defaultKDF.Time {
			decryptKey(kf, []byte("pw"), nil)
		}
		parsePKCS11Ref(data)
	})
}

// TestEncrypter checks that the keys an Encrypter writes share one KDF
// salt (one derivation) but not a nonce, and that each opens with the
// passphrase alone, as any key file does, and with no other.
func TestEncrypter(t *testing.T) {
	dir := t.TempDir()
	e, err := NewEncrypter([]byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var files []*keyFile
	for i := range 2 {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("k%d.key", i))
		if err := e.WritePrivate(path, priv, "", false); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ReadPrivate(path, fixed("wrong horse", nil)); !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("%s opened with another passphrase: %v", path, err)
		}
		got, _, err := ReadPrivate(path, fixed("correct horse", nil))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !priv.Equal(got) {
			t.Errorf("%s holds another key than the one written", path)
		}
		data, _ := os.ReadFile(path)
		f, err := parseKeyFile(data)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if !bytes.Equal(files[0].KDF.Salt, files[1].KDF.Salt) {
		t.Error("the files of one Encrypter have different salts: the key was derived twice")
	}
	if bytes.Equal(files[0].Nonce, files[1].Nonce) {
		t.Error("two files of one Encrypter share a nonce")
	}
	if _, err := NewEncrypter(nil); err == nil {
		t.Error("NewEncrypter took an empty passphrase")
	}
}
