package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/signerd"
)

// signerTestPKI writes a CA, a certificate for the signer and one for the
// metadata server into dir, and returns their paths.
func signerTestPKI(t *testing.T, dir string) (caFile, srvCert, srvKey, cliCert, cliKey string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile = write("ca.pem", "CERTIFICATE", caDER)
	issue := func(name string, serial int64) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalPKCS8PrivateKey(key)
		return write(name+".pem", "CERTIFICATE", der), write(name+"-key.pem", "PRIVATE KEY", kder)
	}
	srvCert, srvKey = issue("signer", 2)
	cliCert, cliKey = issue("server", 3)
	return
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startCommand runs args in the background until the test ends.
func startCommand(t *testing.T, args ...string) *syncBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var errb syncBuffer
	done := make(chan int)
	go func() { done <- Run(ctx, args, strings.NewReader(""), &bytes.Buffer{}, &errb) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("%s: exit code %d\n%s", args[0], code, errb.String())
		}
	})
	return &errb
}

// TestSignerServeAndServe runs "rampart signer serve" and "rampart serve
// --signer" and checks that the server's online keys come from the signer.
func TestSignerServeAndServe(t *testing.T) {
	dir := t.TempDir()
	caFile, srvCert, srvKey, cliCert, cliKey := signerTestPKI(t, dir)
	signerAddr, serverAddr := freeAddr(t), freeAddr(t)
	signerLog := startCommand(t, "signer", "serve", "--addr", signerAddr, "--data", filepath.Join(dir, "signer"),
		"--tls-cert", srvCert, "--tls-key", srvKey, "--tls-client-ca", caFile)

	tlsCfg, err := signerd.ClientTLS(caFile, cliCert, cliKey)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := signerd.Dial(signerAddr, tlsCfg, signerd.ClientOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	const gun = "example.com/app"
	var want string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		k, err := direct.Key(context.Background(), gun, "timestamp")
		if err == nil {
			want = k.ID()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("signer did not start: %v\n%s", err, signerLog.String())
		}
	}

	serverLog := startCommand(t, "serve", "--addr", serverAddr, "--data", filepath.Join(dir, "server"), "--insecure-no-auth",
		"--signer", signerAddr, "--signer-ca", caFile, "--signer-cert", cliCert, "--signer-key", cliKey)
	var resp *http.Response
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err = http.Get("http://" + serverAddr + "/api/v1/repositories/" + gun + "/keys/timestamp")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %v\n%s", err, serverLog.String())
		}
	}
	defer resp.Body.Close()
	var out struct {
		Key json.RawMessage `json:"key"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET timestamp key: %d, %v", resp.StatusCode, err)
	}
	k, err := signer.DecodeKey(out.Key)
	if err != nil || k.ID() != want {
		t.Fatalf("server's timestamp key %v (%v), want the signer's %s", k, err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "server", "online-keys.secret")); err == nil {
		t.Error("the server made an online key secret although it uses the signer")
	}
	if !strings.Contains(signerLog.String(), "CN=server") {
		t.Errorf("signer log does not name the client:\n%s", signerLog.String())
	}
}

func TestSignerUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"signer", "serve", "--data", dir}, "mutual TLS"},
		{[]string{"signer", "serve", "--tls-cert", "c", "--tls-key", "k", "--tls-client-ca", "ca"}, "--data"},
		{[]string{"signer", "serve", "--data", dir, "--tls-cert", "c", "--tls-key", "k", "--tls-client-ca", "ca", "--pkcs11-module", "/x.so"}, "--token-label"},
		{[]string{"serve", "--data", dir, "--signer", "127.0.0.1:1"}, "--signer-ca"},
		{[]string{"serve", "--data", dir, "--signer-ca", "ca.pem"}, "need --signer"},
		{[]string{"serve", "--data", dir, "--signer", "nohost", "--signer-ca", "a", "--signer-cert", "b", "--signer-key", "c"}, "HOST:PORT"},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		if code != ExitFailure || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "--help") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error mentioning %q", tc.args, code, errOut, tc.want)
		}
	}
	// A server certificate that cannot be read is reported, not a usage error.
	code, _, errOut := runCLI(t, "signer", "serve", "--data", dir, "--tls-cert", filepath.Join(dir, "none.pem"),
		"--tls-key", filepath.Join(dir, "none-key.pem"), "--tls-client-ca", filepath.Join(dir, "ca.pem"))
	if code != ExitFailure || !strings.Contains(errOut, "server certificate") {
		t.Errorf("missing certificate: exit %d, stderr %q", code, errOut)
	}
}
