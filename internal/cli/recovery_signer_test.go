package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runUntilStopped runs the rampart command args in the background and
// returns its standard error and a function that stops it (also called
// when the test ends) and checks that it exited cleanly.
func runUntilStopped(t *testing.T, args ...string) (*syncBuffer, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- Run(ctx, args, strings.NewReader(""), &bytes.Buffer{}, &errb) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("rampart %s: exit code %d\n%s", strings.Join(args, " "), code, errb.String())
		}
	}
	t.Cleanup(stop)
	return &errb, stop
}

// waitListening waits until addr accepts TCP connections.
func waitListening(t *testing.T, addr string, log *syncBuffer) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v\n%s", addr, err, log.String())
		}
	}
}

// signerPKI is what one signing service and its server need: the CA, the
// signer's certificate and the server's client certificate.
type signerPKI struct{ ca, signerCert, signerKey, serverCert, serverKey string }

func newSignerPKI(t *testing.T) signerPKI {
	dir := t.TempDir()
	var p signerPKI
	p.ca, p.signerCert, p.signerKey, p.serverCert, p.serverKey = signerTestPKI(t, dir)
	return p
}

// startSigner runs `rampart signer serve` with its keys in keyDir.
func startSigner(t *testing.T, addr, keyDir string, p signerPKI) func() {
	t.Helper()
	log, stop := runUntilStopped(t, "signer", "serve", "--addr", addr, "--data", keyDir,
		"--tls-cert", p.signerCert, "--tls-key", p.signerKey, "--tls-client-ca", p.ca)
	waitListening(t, addr, log)
	return stop
}

// signerArgs are the flags of `rampart serve` that use the signer at addr.
func signerArgs(addr string, p signerPKI) []string {
	return []string{"--signer", addr, "--signer-ca", p.ca, "--signer-cert", p.serverCert, "--signer-key", p.serverKey}
}

// TestRecoverySigningService runs "The signing service" of
// docs/recovery.md: the signer's host, keys or certificates leaked. A new
// signer with new keys and a new mutual-TLS PKI; the server pointed at
// it; each repository's online keys rotated and published. Clients follow
// the new root, and the old signer's keys sign nothing they accept.
func TestRecoverySigningService(t *testing.T) {
	oldPKI := newSignerPKI(t)
	oldAddr := freeAddr(t)
	stopOld := startSigner(t, oldAddr, filepath.Join(t.TempDir(), "signer-keys"), oldPKI)
	data := filepath.Join(t.TempDir(), "data")
	s, stop := newServerRecovery(t, data, signerArgs(oldAddr, oldPKI)...)
	push := s.pushToken(data)

	// 1. A new signer: new keys, a new CA and certificates.
	newPKI := newSignerPKI(t)
	newAddr := freeAddr(t)
	startSigner(t, newAddr, filepath.Join(t.TempDir(), "signer-keys-new"), newPKI)

	// 2. The server, restarted with the new signer; the old one stopped
	// (and its client certificate revoked at its CA).
	stop()
	stopOld()
	stop = s.serve(data, signerArgs(newAddr, newPKI)...)
	defer stop()
	// Clients still trust the timestamp the old signer's key signed, until
	// it expires: nothing changed for them.
	if code, out := s.refresh(); code != ExitOK || !strings.Contains(out, "nothing changed") {
		t.Errorf("before the rotation the client said: %d %q", code, out)
	}

	// 3. Each repository's online keys, from the new signer, in a new root.
	admin := filepath.Join(data, "admin.token")
	mustRun(t, "repo", "rotate", s.app, "timestamp", "--server-key", "--token-file", admin)
	mustRun(t, "repo", "rotate", s.app, "snapshot", "--server-key", "--token-file", admin)
	t.Setenv("RAMPART_TOKEN", push)
	if out := mustRun(t, "repo", "publish", s.app); !strings.Contains(out, "root v3") {
		t.Errorf("publish after the rotation: %q", out)
	}
	if code, out := s.refresh(); code != ExitOK || !strings.Contains(out, "root v1 → v3") || !strings.Contains(out, "timestamp v1 → v2") {
		t.Errorf("after the rotation the client said: %d %q", code, out)
	}
	s.get("1.0")
	s.publish("1.1", push)
	s.get("1.1")
	if _, err := os.Stat(filepath.Join(data, "online-keys.secret")); err == nil {
		t.Error("the server made an online-key secret although it uses a signer")
	}
}
