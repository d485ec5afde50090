package cli

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitFor polls url with c until it answers or the deadline passes.
func waitFor(t *testing.T, c *http.Client, url string, log *syncBuffer) *http.Response {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer from %s: %v\n%s", url, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeTokens starts `rampart serve` with authentication, reads the
// admin token it writes, and creates scoped tokens with `rampart token
// create`, checking what each may do.
func TestServeTokens(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addr := freeAddr(t)
	log := startCommand(t, "serve", "--addr", addr, "--data", data)
	base := "http://" + addr
	waitFor(t, http.DefaultClient, base+"/healthz", log).Body.Close()
	st, err := os.Stat(filepath.Join(data, "admin.token"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token: %v, mode %v", err, st)
	}
	if !strings.Contains(log.String(), "admin.token") {
		t.Errorf("the server did not log where the admin token is:\n%s", log.String())
	}
	create := func(args ...string) string {
		t.Helper()
		args = append([]string{"token", "create", "--server", base, "--token-file", filepath.Join(data, "admin.token")}, args...)
		code, out, errOut := runCLI(t, args...)
		if code != ExitOK {
			t.Fatalf("%q: %s", args, errOut)
		}
		return strings.TrimSpace(out)
	}
	push := create("--scope", "push", "--gun-prefix", "example.com/acme")
	pull := create("--scope", "pull", "--gun-prefix", "example.com/acme")
	status := func(token, gun string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/api/v1/repositories/"+gun+"/keys/timestamp", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tt := range []struct {
		name, token, gun string
		want             int
	}{
		{"push token in its prefix", push, "example.com/acme/app", 200},
		{"push token outside its prefix", push, "example.org/other", 403},
		{"pull token cannot write", pull, "example.com/acme/app", 403},
		{"no token", "", "example.com/acme/app", 401},
		{"unknown token", "not-a-token", "example.com/acme/app", 401},
	} {
		if got := status(tt.token, tt.gun); got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
		}
	}
	if code, _, errOut := runCLI(t, "token", "create", "--server", base, "--token", pull, "--scope", "admin"); code != ExitFailure || errOut == "" {
		t.Errorf("a pull token created an admin token: %d %q", code, errOut)
	}
}

// TestServeClientCertificates starts `rampart serve` over TLS requiring
// client certificates: a client without one is refused at the handshake,
// one with a certificate from the configured CA is served.
func TestServeClientCertificates(t *testing.T) {
	dir := t.TempDir()
	caFile, srvCert, srvKey, cliCert, cliKey := signerTestPKI(t, dir)
	addr := freeAddr(t)
	log := startCommand(t, "serve", "--addr", addr, "--data", filepath.Join(dir, "data"), "--insecure-no-auth",
		"--tls-cert", srvCert, "--tls-key", srvKey, "--tls-client-ca", caFile)
	caPEM, _ := os.ReadFile(caFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(cliCert, cliKey)
	if err != nil {
		t.Fatal(err)
	}
	with := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
	resp := waitFor(t, with, "https://"+addr+"/healthz", log)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("with a client certificate: %s", resp.Status)
	}
	without := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if resp, err := without.Get("https://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("a client without a certificate was served: %s", resp.Status)
	}
}
