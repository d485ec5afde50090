package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startNotaryServer starts Debian's notary-server 0.7.0 on loopback with
// its memory store and in-process signer, and returns its URL.
func startNotaryServer(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("notary-server")
	if err != nil {
		t.Fatal("notary-server is not installed: apt-get install notary (Debian package; .ci/run installs it)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "server.json")
	os.WriteFile(cfg, []byte(`{"server":{"http_addr":"`+addr+`"},"trust_service":{"type":"local"},"logging":{"level":"error"},"storage":{"backend":"memory"}}`), 0o644)
	cmd := exec.Command(bin, "-config", cfg)
	logf, _ := os.Create(filepath.Join(dir, "server.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() })
	url := "http://" + addr
	for i := 0; ; i++ {
		resp, err := http.Get(url + "/_notary_server/health")
		if err == nil {
			resp.Body.Close()
			return url
		}
		if i == 100 {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Fatalf("notary-server did not start: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestNotaryImport publishes a repository with the notary client to
// notary-server and imports it with rampart notary import, from the server
// and from the client's trust directory; the result publishes.
func TestNotaryImport(t *testing.T) {
	url := startNotaryServer(t)
	notaryBin, err := exec.LookPath("notary")
	if err != nil {
		t.Fatal("the notary client is not installed: apt-get install notary")
	}
	dir := t.TempDir()
	trust := filepath.Join(dir, "trust")
	gun := "example.com/import/app"
	notaryRun := func(args ...string) {
		t.Helper()
		cmd := exec.Command(notaryBin, append([]string{"-s", url, "-d", trust}, args...)...)
		cmd.Env = append(os.Environ(), "NOTARY_ROOT_PASSPHRASE=r", "NOTARY_TARGETS_PASSPHRASE=t", "NOTARY_SNAPSHOT_PASSPHRASE=s", "NOTARY_DELEGATION_PASSPHRASE=d")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("notary %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	notaryRun("init", gun)
	notaryRun("add", gun, "hello", write("hello.txt", "hello notary\n"))
	notaryRun("publish", gun)
	cert, key := writeDelegationKey(t, dir)
	notaryRun("delegation", "add", gun, "targets/releases", cert, "--paths", "releases/", "-p")
	notaryRun("key", "import", key, "-r", "targets/releases")
	notaryRun("add", gun, "releases/one", write("one.txt", "release one\n"), "-r", "targets/releases", "-p")

	// The trust directory holds what the client last fetched: bring it up
	// to date with what it published.
	notaryRun("list", gun)

	t.Setenv("RAMPART_PASSPHRASE", "import-test")
	for _, src := range [][]string{{"--server", url}, {"--trust-dir", trust}} {
		out := filepath.Join(t.TempDir(), "repo")
		args := append([]string{"notary", "import", "--gun", gun, "--out", out}, src...)
		code, stdout, stderr := runCLI(t, args...)
		if code != ExitOK {
			t.Fatalf("rampart %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
		}
		if !strings.Contains(stdout, "2 targets, 1 delegated roles") || !strings.Contains(stdout, "targets.releases") {
			t.Errorf("import output:\n%s", stdout)
		}
		if !strings.Contains(stderr, "trusting the root") {
			t.Errorf("no warning about trusting the root on first use:\n%s", stderr)
		}
		code, _, stderr = runCLI(t, "repo", "publish", out, "--out", filepath.Join(t.TempDir(), "pub"))
		if code != ExitOK {
			t.Errorf("publishing the imported repository: exit %d\n%s", code, stderr)
		}
		code, stdout, stderr = runCLI(t, "repo", "status", out)
		if code != ExitOK || !strings.Contains(stdout+stderr, "targets.releases") {
			t.Errorf("repo status: exit %d\n%s%s", code, stdout, stderr)
		}
	}
	code, _, stderr := runCLI(t, "notary", "import", "--gun", "example.com/none", "--out", filepath.Join(t.TempDir(), "x"), "--server", url)
	if code == ExitOK || !strings.Contains(stderr, "no trust data") {
		t.Errorf("import of an unknown GUN: exit %d\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, "notary", "import", "--gun", gun, "--out", filepath.Join(t.TempDir(), "x"))
	if code == ExitOK || !strings.Contains(stderr, "exactly one of --server") {
		t.Errorf("import without a source: exit %d\n%s", code, stderr)
	}
}

// writeDelegationKey writes an ECDSA key and a certificate for it, as
// `notary delegation add` and `notary key import` take them.
func writeDelegationKey(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "releases"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := x509.MarshalPKCS8PrivateKey(priv)
	certFile, keyFile = filepath.Join(dir, "releases.crt"), filepath.Join(dir, "releases.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600)
	return certFile, keyFile
}
