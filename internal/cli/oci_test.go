package cli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/internal/ocitest"
	"github.com/rampart-tuf/rampart/keystore"
	"github.com/rampart-tuf/rampart/keystore/softhsmtest"
	"github.com/rampart-tuf/rampart/oci/signature"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

const ociRef = "registry.acme-rockets.io/hello-world:v1"

var ociManifest = []byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{}}`)

func manifestDigest(m []byte) string {
	sum := sha256.Sum256(m)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// runCLIStdin runs rampart with stdin.
func runCLIStdin(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(context.Background(), NewRootCommand(), args, bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// ociFixture is a signer's key and certificates on disk.
type ociFixture struct {
	dir, key, chain, root, manifest string
	ca                              *ocitest.CA
}

func newOCIFixture(t *testing.T, hosts ...string) *ociFixture {
	t.Helper()
	dir := t.TempDir()
	f := &ociFixture{dir: dir, ca: ocitest.NewCA(t, "acme"),
		key: filepath.Join(dir, "signer.key"), chain: filepath.Join(dir, "chain.pem"),
		root: filepath.Join(dir, "root.pem"), manifest: filepath.Join(dir, "manifest.json")}
	key, chain := f.ca.Issue(t, ocitest.Leaf{Hosts: hosts})
	ocitest.WriteKey(t, f.key, key)
	ocitest.WriteCerts(t, f.chain, chain...)
	ocitest.WriteCerts(t, f.root, f.ca.Root)
	if err := os.WriteFile(f.manifest, ociManifest, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, args...)
	if code != ExitOK {
		t.Fatalf("rampart %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func mustFail(t *testing.T, want string, args ...string) {
	t.Helper()
	code, _, errOut := runCLI(t, args...)
	if code == ExitOK || !strings.Contains(errOut, want) {
		t.Fatalf("rampart %s: exit %d, stderr %q; want failure with %q", strings.Join(args, " "), code, errOut, want)
	}
}

func TestOCISignVerifyFile(t *testing.T) {
	f := newOCIFixture(t, "registry.acme-rockets.io")
	sig := filepath.Join(f.dir, "sig.json")
	mustRun(t, "oci", "sign", "--key", f.key, "--cert", f.chain, "--reference", ociRef, "--expires", "240h", "-o", sig, "file:"+f.manifest)

	data, err := os.ReadFile(sig)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := signature.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(doc.Expires()); d < 239*time.Hour || d > 241*time.Hour {
		t.Fatalf("expires in %v, want 240h", d)
	}
	want := manifestDigest(ociManifest) + "\n"
	if out := mustRun(t, "oci", "verify", "--signature", sig, "--ca-cert", f.root, "file:"+f.manifest); out != want {
		t.Fatalf("verify printed %q, want %q", out, want)
	}
	if out := mustRun(t, "oci", "verify", "--signature", sig, "--ca-cert", f.root, "--reference", ociRef, "file:"+f.manifest); out != want {
		t.Fatalf("verify --reference printed %q, want %q", out, want)
	}
	// The document alone.
	if out := mustRun(t, "oci", "verify", "--signature", sig, "--ca-cert", f.root); out != want {
		t.Fatalf("verify without SUBJECT printed %q, want %q", out, want)
	}

	tampered := filepath.Join(f.dir, "tampered.json")
	if err := os.WriteFile(tampered, append(ociManifest, ' '), 0o644); err != nil {
		t.Fatal(err)
	}
	mustFail(t, "the signature lists no reference to manifest", "oci", "verify", "--signature", sig, "--ca-cert", f.root, "file:"+tampered)
	mustFail(t, "bytes, the signature says", "oci", "verify", "--signature", sig, "--ca-cert", f.root, "--reference", ociRef, "file:"+tampered)
	mustFail(t, "does not list", "oci", "verify", "--signature", sig, "--ca-cert", f.root, "--reference", "registry.acme-rockets.io/hello-world:v2", "file:"+f.manifest)
	mustFail(t, "unknown authority", "oci", "verify", "--signature", sig, "file:"+f.manifest)
	mustFail(t, "lower than the minimum version 2", "oci", "verify", "--signature", sig, "--ca-cert", f.root, "--min-version", "2", "file:"+f.manifest)
	mustFail(t, "signature document expired", "oci", "verify", "--signature", sig, "--ca-cert", f.root, "--at", time.Now().Add(300*time.Hour).UTC().Format(time.RFC3339))
	mustFail(t, "certificate", "oci", "verify", "--signature", sig, "--ca-cert", f.root, "--at", time.Now().Add(-48*time.Hour).UTC().Format(time.RFC3339))
	mustFail(t, "media type", "oci", "verify", "--signature", sig, "--ca-cert", f.root, "--reference", ociRef, "--media-type", "application/vnd.oci.image.manifest.v1+json", "file:"+f.manifest)

	// --base adds a reference, keeps the first, and bumps the version.
	latest := "registry.acme-rockets.io/hello-world:latest"
	mustRun(t, "oci", "sign", "--key", f.key, "--cert", f.chain, "--reference", latest, "--base", sig, "-o", sig, "file:"+f.manifest)
	mustRun(t, "oci", "verify", "--signature", sig, "--ca-cert", f.root, "--min-version", "2", "--reference", ociRef, "file:"+f.manifest)
	mustRun(t, "oci", "verify", "--signature", sig, "--ca-cert", f.root, "--min-version", "2", "--reference", latest, "file:"+f.manifest)

	// Another signer cannot extend it.
	other := newOCIFixture(t, "registry.acme-rockets.io")
	mustFail(t, "not signed by this signer", "oci", "sign", "--key", other.key, "--cert", other.chain, "--reference", latest, "--base", sig, "-o", "-", "file:"+f.manifest)
	// A key that does not match the certificate is refused.
	mustFail(t, "does not match the certificate", "oci", "sign", "--key", other.key, "--cert", f.chain, "--reference", ociRef, "-o", "-", "file:"+f.manifest)
	// A signer whose certificate names another registry does not verify.
	mustRun(t, "oci", "sign", "--key", f.key, "--cert", f.chain, "--reference", "registry.example.com/app:1", "-o", sig, "file:"+f.manifest)
	mustFail(t, `does not name registry "registry.example.com"`, "oci", "verify", "--signature", sig, "--ca-cert", f.root, "file:"+f.manifest)
	mustRun(t, "oci", "verify", "--signature", sig, "--ca-cert", f.root, "--any-host", "file:"+f.manifest)
}

func TestOCISignStdinSelfSigned(t *testing.T) {
	dir := t.TempDir()
	key, cert := ocitest.SelfSigned(t, ocitest.Leaf{Hosts: []string{"registry.acme-rockets.io"}})
	keyFile, certFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	ocitest.WriteKey(t, keyFile, key)
	ocitest.WriteCerts(t, certFile, cert)

	code, sig, errOut := runCLIStdin(t, ociManifest, "oci", "sign", "-k", keyFile, "-c", certFile, "-r", ociRef, "-o", "-")
	if code != ExitOK {
		t.Fatal(errOut)
	}
	sigFile := filepath.Join(dir, "sig.json")
	if err := os.WriteFile(sigFile, []byte(sig), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLIStdin(t, ociManifest, "oci", "verify", "-s", sigFile, "-c", certFile, "file:-")
	if code != ExitOK || out != manifestDigest(ociManifest)+"\n" {
		t.Fatalf("exit %d, out %q, stderr %q", code, out, errOut)
	}
	mustFail(t, "unknown authority", "oci", "verify", "-s", sigFile)
}

// TestOCIBareKey signs with an encrypted Rampart key file and no
// certificate; the verifier names the key by its certificate.
func TestOCIBareKey(t *testing.T) {
	t.Setenv(keystore.EnvPassphrase, "s3cret")
	f := newOCIFixture(t, "registry.acme-rockets.io")
	priv, err := keys.ParsePrivatePEM(mustRead(t, f.key))
	if err != nil {
		t.Fatal(err)
	}
	encKey := filepath.Join(f.dir, "signer.rampart-key")
	if err := keystore.WritePrivate(encKey, priv, "", []byte("s3cret"), false); err != nil {
		t.Fatal(err)
	}
	sig := filepath.Join(f.dir, "sig.json")
	mustRun(t, "oci", "sign", "--key", encKey, "--reference", ociRef, "-o", sig, "file:"+f.manifest)
	if bytes.Contains(mustRead(t, sig), []byte("x5c")) {
		t.Fatal("signature without --cert carries x5c")
	}
	mustRun(t, "oci", "verify", "--signature", sig, "--cert", f.chain, "file:"+f.manifest)
	mustFail(t, "no trusted certificate has this key ID", "oci", "verify", "--signature", sig, "--ca-cert", f.root, "file:"+f.manifest)
}

func TestOCIUsage(t *testing.T) {
	f := newOCIFixture(t, "registry.acme-rockets.io")
	mustFail(t, "--reference", "oci", "sign", "--key", f.key, "-o", "-", "file:"+f.manifest)
	mustFail(t, "-o is required", "oci", "sign", "--key", f.key, "-r", ociRef, "file:"+f.manifest)
	mustFail(t, "not a fully qualified reference", "oci", "sign", "--key", f.key, "-r", "hello-world:v1", "-o", "-", "file:"+f.manifest)
	mustFail(t, "--expires", "oci", "sign", "--key", f.key, "-r", ociRef, "-e", "soon", "-o", "-", "file:"+f.manifest)
	mustFail(t, "--format", "oci", "sign", "--key", f.key, "-r", ociRef, "--format", "x", "-o", "-", "file:"+f.manifest)
	mustFail(t, "--signature is required", "oci", "verify", "file:"+f.manifest)
	mustFail(t, "--at", "oci", "verify", "-s", f.manifest, "--at", "yesterday")
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOCINotaryFormat(t *testing.T) {
	f := newOCIFixture(t, "registry.acme-rockets.io")
	sig := filepath.Join(f.dir, "sig.json")
	mustRun(t, "oci", "sign", "--key", f.key, "--cert", f.chain, "-r", ociRef, "--format", "notary", "-o", sig, "file:"+f.manifest)
	if data := string(mustRead(t, sig)); !strings.Contains(data, `"_type":"Targets"`) || !strings.Contains(data, `"method":"ecdsa"`) || !strings.Contains(data, `"x5c":[`) {
		t.Fatalf("not Notary's dialect:\n%s", data)
	}
	if out := mustRun(t, "oci", "verify", "--signature", sig, "--ca-cert", f.root, "--reference", ociRef, "file:"+f.manifest); out != manifestDigest(ociManifest)+"\n" {
		t.Fatalf("verify printed %q", out)
	}
	// --base keeps the references of a Notary signature.
	latest := "registry.acme-rockets.io/hello-world:latest"
	mustRun(t, "oci", "sign", "--key", f.key, "--cert", f.chain, "-r", latest, "--base", sig, "--format", "notary", "-o", sig, "file:"+f.manifest)
	mustRun(t, "oci", "verify", "--signature", sig, "--ca-cert", f.root, "--min-version", "2", "--reference", ociRef, "file:"+f.manifest)
	mustRun(t, "oci", "verify", "--signature", sig, "--ca-cert", f.root, "--min-version", "2", "--reference", latest, "file:"+f.manifest)

	// A TUF repository takes TUF-format signatures only.
	t.Setenv(keystore.EnvPassphrase, "correct horse")
	leaf := filepath.Join(f.dir, "leaf.pem")
	chain, _ := readCerts(f.chain)
	ocitest.WriteCerts(t, leaf, chain[0])
	dir := filepath.Join(t.TempDir(), "repo")
	mustRun(t, "repo", "init", dir)
	mustRun(t, "repo", "delegate", dir, "acme", "--cert", leaf, "--paths", "registry.acme-rockets.io/*")
	mustFail(t, "Notary's dialect", "repo", "import-signature", dir, "acme", sig)
}

// TestOCIVerifySeed verifies the nv2 prototype's signatures from the seed
// with the CLI, as of 2020-08-21.
func TestOCIVerifySeed(t *testing.T) {
	dir := t.TempDir()
	seed := "../../oci/signature/testdata/"
	var env struct {
		Signatures []struct{ X5C []string } `json:"signatures"`
	}
	if err := json.Unmarshal(mustRead(t, seed+"seed-x5c-v1.json"), &env); err != nil {
		t.Fatal(err)
	}
	der, _ := base64.StdEncoding.DecodeString(env.Signatures[0].X5C[0])
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(dir, "cert.crt")
	ocitest.WriteCerts(t, cert, leaf)
	hash, _ := base64.StdEncoding.DecodeString("JKdJAKTnSe8xKV5aq95wk+MkSxGVgr1uZLGojHHEENA=")
	want := "sha256:" + hex.EncodeToString(hash) + "\n"
	for _, name := range []string{"seed-x5c-v1.json", "seed-x5c-v2.json", "seed-nocert-v1.json"} {
		out := mustRun(t, "oci", "verify", "--signature", seed+name, "--cert", cert, "--at", "2020-08-21T00:00:00Z", "--reference", "registry.acme-rockets.io/hello-world:v1")
		if out != want {
			t.Fatalf("%s: printed %q, want %q", name, out, want)
		}
	}
	mustFail(t, "expired", "oci", "verify", "--signature", seed+"seed-x5c-v1.json", "--cert", cert)
	mustFail(t, "lower than the minimum version 2", "oci", "verify", "--signature", seed+"seed-x5c-v1.json", "--cert", cert, "--at", "2020-08-21T00:00:00Z", "--min-version", "2")
}

// TestOCISignPKCS11 signs with a key on a SoftHSM token, named by a
// Rampart PKCS#11 key reference file, under a certificate for that key.
func TestOCISignPKCS11(t *testing.T) {
	tok := softhsmtest.NewToken(t, "oci-test")
	t.Setenv(keystore.EnvPKCS11PIN, tok.PIN)
	f := newOCIFixture(t, "registry.acme-rockets.io")
	hsm := filepath.Join(f.dir, "signer-hsm")
	mustRun(t, "key", "generate", "--type", "ecdsa", "-o", hsm, "--pkcs11-module", tok.Module, "--token-label", tok.Label)
	pk, err := keystore.ReadPublic(hsm + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.NewVerifier(pk)
	if err != nil {
		t.Fatal(err)
	}
	_, chain := f.ca.Issue(t, ocitest.Leaf{Key: publicOnly{v.Public()}, Hosts: []string{"registry.acme-rockets.io"}})
	certs := filepath.Join(f.dir, "hsm-chain.pem")
	ocitest.WriteCerts(t, certs, chain...)
	sig := filepath.Join(f.dir, "sig.json")
	mustRun(t, "oci", "sign", "--key", hsm+".key", "--cert", certs, "-r", ociRef, "-o", sig, "file:"+f.manifest)
	mustRun(t, "oci", "verify", "--signature", sig, "--ca-cert", f.root, "--reference", ociRef, "file:"+f.manifest)
	mustFail(t, "does not match the certificate", "oci", "sign", "--key", hsm+".key", "--cert", f.chain, "-r", ociRef, "-o", sig, "file:"+f.manifest)
}

// publicOnly is a crypto.Signer that only has a public key: enough for a
// CA to issue a certificate for a key held elsewhere.
type publicOnly struct{ pub crypto.PublicKey }

func (p publicOnly) Public() crypto.PublicKey { return p.pub }
func (p publicOnly) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("no private key")
}
