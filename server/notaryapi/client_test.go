package notaryapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/repo/notaryimport"
	"github.com/rampart-tuf/rampart/tuf/notary"
)

// notaryCLI runs Debian's notary client (0.7.0) against a test server, with
// its own trust directory and configuration.
type notaryCLI struct {
	t      *testing.T
	bin    string
	config string
	trust  string
	env    []string
	stdin  string // answers to the client's questions
}

func newNotaryCLI(t *testing.T, s *testServer, token string) *notaryCLI {
	t.Helper()
	bin, err := exec.LookPath("notary")
	if err != nil {
		t.Fatal("the notary client is not installed: apt-get install notary (Debian package; .ci/run installs it)")
	}
	dir := t.TempDir()
	n := &notaryCLI{t: t, bin: bin, trust: filepath.Join(dir, "trust"), config: filepath.Join(dir, "config.json")}
	cfg := map[string]any{
		"trust_dir":     n.trust,
		"remote_server": map[string]any{"url": s.URL, "root_ca": s.CAFile},
	}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(n.config, b, 0o644); err != nil {
		t.Fatal(err)
	}
	n.env = append(os.Environ(),
		"NOTARY_ROOT_PASSPHRASE=root-pass", "NOTARY_TARGETS_PASSPHRASE=targets-pass",
		"NOTARY_SNAPSHOT_PASSPHRASE=snapshot-pass", "NOTARY_DELEGATION_PASSPHRASE=delegation-pass",
		"NOTARY_AUTH="+base64.StdEncoding.EncodeToString([]byte("maintainer:"+token)),
		"HOME="+dir)
	return n
}

// withTrust returns a client sharing n's configuration with a fresh trust
// directory.
func (n *notaryCLI) fresh() *notaryCLI {
	c := *n
	dir := n.t.TempDir()
	c.trust = filepath.Join(dir, "trust")
	b, _ := os.ReadFile(n.config)
	var cfg map[string]any
	json.Unmarshal(b, &cfg)
	cfg["trust_dir"] = c.trust
	b, _ = json.Marshal(cfg)
	c.config = filepath.Join(dir, "config.json")
	os.WriteFile(c.config, b, 0o644)
	return &c
}

// run runs notary with args and returns its output; ok reports exit status 0.
func (n *notaryCLI) run(args ...string) (string, bool) {
	n.t.Helper()
	cmd := exec.Command(n.bin, append([]string{"-c", n.config}, args...)...)
	cmd.Env = n.env
	cmd.Stdin = strings.NewReader(n.stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// must runs notary and fails the test if it fails.
func (n *notaryCLI) must(args ...string) string {
	n.t.Helper()
	out, ok := n.run(args...)
	if !ok {
		n.t.Fatalf("notary %s failed:\n%s", strings.Join(args, " "), out)
	}
	return out
}

// TestNotaryClient drives the real notary client against rampart serve
// over TLS, on both stores: init, add, publish, list and lookup (also from
// a fresh trust directory), a delegation and a publish into it, rotations
// of the snapshot key to the server, of the targets key and of the root
// key, remove, witness, the repository read for rampart notary import, and
// delete --remote.
func TestNotaryClient(t *testing.T) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) { testNotaryClient(t, kind) })
	}
}

func testNotaryClient(t *testing.T, kind string) {
	s := startServer(t, kind)
	gun := "example.com/notary/app"
	n := newNotaryCLI(t, s, s.token(t, "admin", "example.com/notary"))
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// init, add, publish, list, lookup.
	n.must("init", gun)
	n.must("add", gun, "hello", file("hello.txt", "hello notary\n"))
	n.must("publish", gun)
	out := n.must("list", gun)
	sum := sha256.Sum256([]byte("hello notary\n"))
	if !strings.Contains(out, "hello") || !strings.Contains(out, hex.EncodeToString(sum[:])) {
		t.Fatalf("list after publish:\n%s", out)
	}
	out = n.must("lookup", gun, "hello")
	if want := "hello sha256:" + hex.EncodeToString(sum[:]) + " 13"; !strings.Contains(out, want) {
		t.Errorf("lookup: %s, want %s", out, want)
	}
	reader := n.fresh()
	if out := reader.must("list", gun); !strings.Contains(out, "hello") {
		t.Errorf("list from a fresh trust directory:\n%s", out)
	}
	checkServerSigned(t, s, gun, notary.RoleTimestamp)

	// A delegation with a path prefix, and a publish into it.
	delCert, delKey := delegationKey(t, dir)
	n.must("delegation", "add", gun, "targets/releases", delCert, "--paths", "releases/", "-p")
	n.must("key", "import", delKey, "-r", "targets/releases")
	n.must("add", gun, "releases/one", file("one.txt", "release one\n"), "-r", "targets/releases", "-p")
	out = reader.must("list", gun)
	if !strings.Contains(out, "releases/one") || !strings.Contains(out, "targets/releases") {
		t.Errorf("list after the delegated publish:\n%s", out)
	}
	if out, ok := n.run("add", gun, "elsewhere", file("x.txt", "x"), "-r", "targets/releases", "-p"); ok {
		// The client itself refuses a target outside the delegation's paths.
		t.Errorf("publish of a target outside the delegation's paths succeeded:\n%s", out)
	}
	n.must("reset", gun, "--all") // drop the refused change

	// The snapshot key goes to the server; publishes then omit the snapshot.
	n.must("key", "rotate", gun, "snapshot", "-r")
	n.must("add", gun, "after-snapshot-rotation", file("two.txt", "two\n"), "-p")
	checkServerSigned(t, s, gun, notary.RoleSnapshot)
	if out := reader.must("list", gun); !strings.Contains(out, "after-snapshot-rotation") {
		t.Errorf("list after the snapshot key rotation:\n%s", out)
	}

	// A new targets key.
	n.must("key", "rotate", gun, "targets")
	n.must("add", gun, "after-targets-rotation", file("three.txt", "three\n"), "-p")
	if out := reader.must("list", gun); !strings.Contains(out, "after-targets-rotation") {
		t.Errorf("list after the targets key rotation:\n%s", out)
	}
	if out := n.fresh().must("list", gun); !strings.Contains(out, "after-targets-rotation") {
		t.Errorf("list from a fresh trust directory after the rotations:\n%s", out)
	}

	// remove and witness.
	n.must("remove", gun, "hello", "-p")
	if out := reader.must("list", gun); strings.Contains(out, "hello ") || !strings.Contains(out, "after-targets-rotation") {
		t.Errorf("list after remove:\n%s", out)
	}
	before := roleVersion(t, s, gun, "targets/releases")
	n.must("witness", gun, "targets/releases", "-p")
	if after := roleVersion(t, s, gun, "targets/releases"); after != before+1 {
		t.Errorf("targets/releases version %d after witness, was %d", after, before)
	}
	if out := reader.must("list", gun); !strings.Contains(out, "releases/one") {
		t.Errorf("list after witness:\n%s", out)
	}

	// A new root key: the root is signed by the old and the new key, and
	// a client that trusted the old root follows.
	rootBefore := roleVersion(t, s, gun, "root")
	n.stdin = "yes\n" // notary asks before it rotates a root key
	n.must("key", "rotate", gun, "root")
	n.stdin = ""
	if out := reader.must("list", gun); !strings.Contains(out, "releases/one") {
		t.Errorf("list after the root key rotation:\n%s", out)
	}
	if v := roleVersion(t, s, gun, "root"); v != rootBefore+1 {
		t.Errorf("root version %d after the rotation of root, was %d", v, rootBefore)
	}
	if code, body, _ := s.do(t, "GET", fmt.Sprintf("/v2/%s/_trust/tuf/%d.root.json", gun, rootBefore), "", "", nil); code != 200 || !bytes.Contains(body, []byte(`"_type":"Root"`)) {
		t.Errorf("GET %d.root.json: %d", rootBefore, code)
	}

	// The repository as rampart notary import reads it: verified through
	// the same API.
	src, err := notaryimport.NewServerSource(s.URL, gun, s.Client)
	if err != nil {
		t.Fatal(err)
	}
	nr, err := notaryimport.Load(context.Background(), src, gun, nil, time.Now())
	if err != nil {
		t.Fatalf("loading the repository for import: %v", err)
	}
	if len(nr.Roles) != 2 || nr.Roles[1].Name != "targets/releases" || nr.Roles[0].Targets["after-targets-rotation"].Length != 6 {
		t.Errorf("loaded roles %+v", nr.Roles)
	}

	// delete --remote.
	n.must("delete", gun, "--remote")
	if code, body, _ := s.do(t, "GET", "/v2/"+gun+"/_trust/tuf/root.json", "", "", nil); code != 404 || !bytes.Contains(body, []byte("METADATA_NOT_FOUND")) {
		t.Errorf("root.json after delete --remote: %d %s", code, body)
	}
	if out, ok := n.fresh().run("list", gun); ok || !strings.Contains(out, "does not have trust data") {
		t.Errorf("list after delete --remote succeeded or said something else:\n%s", out)
	}
}

// checkServerSigned checks that the current document of role is signed by
// the server's online key of that role, in Notary's dialect.
func checkServerSigned(t *testing.T, s *testServer, gun, role string) {
	t.Helper()
	code, body, _ := s.do(t, "GET", "/v2/"+gun+"/_trust/tuf/"+role+".json", "", "", nil)
	if code != 200 {
		t.Fatalf("GET %s.json: %d %s", role, code, body)
	}
	code, kb, _ := s.do(t, "GET", "/v2/"+gun+"/_trust/tuf/root.json", "", "", nil)
	if code != 200 {
		t.Fatalf("GET root.json: %d", code)
	}
	root, err := notary.ParseAs(kb, notary.TypeRoot)
	if err != nil {
		t.Fatal(err)
	}
	d, err := notary.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Verify(root.Root.Keys, root.Root.Roles[role]); err != nil {
		t.Errorf("%s: %v", role, err)
	}
	if m := d.Signatures[0].Method; m != notary.MethodEdDSA {
		t.Errorf("%s signed with method %q, want the server's eddsa", role, m)
	}
}

func roleVersion(t *testing.T, s *testServer, gun, role string) int64 {
	t.Helper()
	code, body, _ := s.do(t, "GET", "/v2/"+gun+"/_trust/tuf/"+role+".json", "", "", nil)
	if code != 200 {
		t.Fatalf("GET %s.json: %d %s", role, code, body)
	}
	d, err := notary.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	return d.Version
}

// delegationKey writes an ECDSA key (PKCS #8, unencrypted) and a
// certificate for it, as `notary delegation add` and `key import` take them.
func delegationKey(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "releases"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "releases.crt"), filepath.Join(dir, "releases.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600)
	return certFile, keyFile
}
