package signerd_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/bolt"
	"github.com/rampart-tuf/rampart/signerd"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// pki is a CA with a server and a client certificate.
type pki struct {
	ca                    *ca
	serverCert, serverKey string
	clientCert, clientKey string
}

func newPKI(t *testing.T) *pki {
	p := &pki{ca: newCA(t, "signer")}
	p.serverCert, p.serverKey = p.ca.issue(t, "signer-server")
	p.clientCert, p.clientKey = p.ca.issue(t, "metadata-server")
	return p
}

// startService serves backend on a loopback port and returns its address.
func startService(t *testing.T, p *pki, backend signer.Signer) string {
	t.Helper()
	cfg, err := signerd.ServerTLS(p.serverCert, p.serverKey, p.ca.file)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := signerd.NewServer(backend, cfg, signerd.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.ServeTLS(ln, "", "")
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

func dial(t *testing.T, p *pki, addr string) *signerd.Client {
	t.Helper()
	cfg, err := signerd.ClientTLS(p.ca.file, p.clientCert, p.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := signerd.Dial(addr, cfg, signerd.ClientOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func openFiles(t *testing.T) *signerd.Files {
	t.Helper()
	f, err := signerd.OpenFiles(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// exercise runs the Signer contract through c: idempotent Key, Sign
// verified with tuf/keys, Rotate, Keys, and the errors.
func exercise(t *testing.T, c signer.Signer, wantType string) {
	ctx := context.Background()
	const gun = "example.com/acme/app"
	k1, err := c.Key(ctx, gun, "timestamp")
	if err != nil {
		t.Fatal(err)
	}
	if k1.Type != wantType {
		t.Errorf("key type %q, want %q", k1.Type, wantType)
	}
	if again, err := c.Key(ctx, gun, "timestamp"); err != nil || again.ID() != k1.ID() {
		t.Fatalf("second Key = %v, %v; want the same key %s", again, err, k1.ID())
	}
	if snap, err := c.Key(ctx, gun, "snapshot"); err != nil || snap.ID() == k1.ID() {
		t.Fatalf("snapshot Key = %v, %v; want another key", snap, err)
	}
	if other, err := c.Key(ctx, "example.com/other", "timestamp"); err != nil || other.ID() == k1.ID() {
		t.Fatalf("other GUN's Key = %v, %v; want another key", other, err)
	}

	msg := []byte(`{"_type":"timestamp","version":1}`)
	sig, err := signer.For(c, gun, "timestamp", k1).Sign(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := k1.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(msg, sig); err != nil {
		t.Fatalf("signature from the service does not verify: %v", err)
	}
	if err := v.Verify([]byte("other"), sig); err == nil {
		t.Fatal("signature verifies over another message")
	}

	k2, err := c.Rotate(ctx, gun, "timestamp")
	if err != nil || k2.ID() == k1.ID() {
		t.Fatalf("Rotate = %v, %v", k2, err)
	}
	if k, _ := c.Key(ctx, gun, "timestamp"); k.ID() != k2.ID() {
		t.Errorf("Key after Rotate = %s, want the new key %s", k.ID(), k2.ID())
	}
	ks, err := c.Keys(ctx, gun, "timestamp")
	if err != nil || len(ks) != 2 || ks[0].ID() != k2.ID() || ks[1].ID() != k1.ID() {
		t.Fatalf("Keys = %v, %v; want [%s %s]", ks, err, k2.ID(), k1.ID())
	}
	// The old key still signs.
	sig, err = c.Sign(ctx, gun, "timestamp", k1.ID(), msg)
	if err != nil || v.Verify(msg, sig) != nil {
		t.Fatalf("old key after rotation: %v", err)
	}

	// A key of another role or GUN cannot be used.
	if _, err := c.Sign(ctx, gun, "snapshot", k1.ID(), msg); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Sign with the timestamp key as snapshot = %v, want ErrNotFound", err)
	}
	if _, err := c.Sign(ctx, "example.com/other", "timestamp", k1.ID(), msg); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Sign with another GUN's key = %v, want ErrNotFound", err)
	}
	if _, err := c.Key(ctx, gun, "targets"); err == nil || !strings.Contains(err.Error(), "targets") {
		t.Errorf("Key for targets = %v, want an error naming the role", err)
	}
	if ks, err := c.Keys(ctx, "example.com/none", "snapshot"); err != nil || len(ks) != 0 {
		t.Errorf("Keys of an unknown GUN = %v, %v", ks, err)
	}
}

func TestFilesService(t *testing.T) {
	p := newPKI(t)
	c := dial(t, p, startService(t, p, openFiles(t)))
	exercise(t, c, "ed25519")
}

// TestFilesReopen checks that keys survive a restart of the back end and
// stay encrypted under the secret.
func TestFilesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f, err := signerd.OpenFiles(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	k, err := f.Key(ctx, "g", "snapshot")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	f, err = signerd.OpenFiles(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := f.Key(ctx, "g", "snapshot"); err != nil || again.ID() != k.ID() {
		t.Fatalf("Key after reopening = %v, %v", again, err)
	}
	if _, err := f.Sign(ctx, "g", "snapshot", k.ID(), []byte("m")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// With another secret the keys cannot be used.
	f, err = signerd.OpenFiles(dir, filepath.Join(t.TempDir(), "other.secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Sign(ctx, "g", "snapshot", k.ID(), []byte("m")); err == nil {
		t.Fatal("signed with the wrong secret")
	}
}

// TestFilesOpensEarlierDatabase opens a data directory whose signer.db was
// written when the file back end kept its keys in the metadata server's
// embedded store: the keys are found and sign.
func TestFilesOpensEarlierDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := bolt.Open(filepath.Join(dir, "signer.db"))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := signer.LoadOrCreateSecret(filepath.Join(dir, "keys.secret"))
	if err != nil {
		t.Fatal(err)
	}
	old, err := signer.NewLocal(st, secret)
	if err != nil {
		t.Fatal(err)
	}
	k1, err := old.Key(ctx, "example.com/a", "timestamp")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := old.Rotate(ctx, "example.com/a", "timestamp")
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	f, err := signerd.OpenFiles(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ks, err := f.Keys(ctx, "example.com/a", "timestamp")
	if err != nil || len(ks) != 2 || ks[0].ID() != k2.ID() || ks[1].ID() != k1.ID() {
		t.Fatalf("Keys = %v, %v; want %s, %s", ks, err, k2.ID(), k1.ID())
	}
	if err := f.CheckSecret(ctx); err != nil {
		t.Fatal(err)
	}
	sig, err := f.Sign(ctx, "example.com/a", "timestamp", k1.ID(), []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := k1.Verifier()
	if err := v.Verify([]byte("m"), sig); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	// A new key goes after the old ones: it is the newest.
	k3, err := f.Rotate(ctx, "example.com/a", "timestamp")
	if err != nil {
		t.Fatal(err)
	}
	if k, err := f.Key(ctx, "example.com/a", "timestamp"); err != nil || k.ID() != k3.ID() {
		t.Fatalf("Key after Rotate = %v, %v; want %s", k, err, k3.ID())
	}
	if n, err := f.Retire(ctx, "example.com/a"); err != nil || n != 3 {
		t.Fatalf("Retire = %d, %v; want 3", n, err)
	}
}

// TestMutualTLS checks that the service refuses clients without a
// certificate from its CA, and that the client refuses a server from
// another CA.
func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	addr := startService(t, p, openFiles(t))
	ctx := context.Background()

	call := func(cfg *tls.Config) error {
		code, b, err := post(addr, cfg, signerd.PathKey, "application/json", []byte(`{"gun":"g","role":"timestamp"}`))
		if err == nil && code != 200 {
			err = fmt.Errorf("status %d: %s", code, b)
		}
		return err
	}
	good, err := signerd.ClientTLS(p.ca.file, p.clientCert, p.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := call(good); err != nil {
		t.Fatalf("client with a good certificate: %v", err)
	}

	// No client certificate.
	noCert := good.Clone()
	noCert.Certificates = nil
	if err := call(noCert); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("client without a certificate: %v, want a certificate error", err)
	}

	// A certificate from another CA.
	other := newCA(t, "other")
	cert, key := other.issue(t, "intruder")
	wrong, err := signerd.ClientTLS(p.ca.file, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := call(wrong); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("client with another CA's certificate: %v, want a certificate error", err)
	}
	c, err := signerd.Dial(addr, wrong, signerd.ClientOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Key(ctx, "g", "timestamp"); err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("Client with another CA's certificate: %v, want an error naming %s", err, addr)
	}

	// The client does not trust a server whose CA it was not given.
	distrust, err := signerd.ClientTLS(other.file, p.clientCert, p.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := call(distrust); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("client not trusting the server's CA: %v, want a certificate error", err)
	}

	// Neither side can be built without the other's authentication.
	if _, err := signerd.NewServer(openFiles(t), &tls.Config{}, signerd.ServerOptions{}); err == nil {
		t.Error("NewServer accepted TLS without client certificates")
	}
	if _, err := signerd.Dial(addr, &tls.Config{}, signerd.ClientOptions{}); err == nil {
		t.Error("Dial accepted TLS without a client certificate")
	}
}

// TestBadRequests checks validation and size limits.
func TestBadRequests(t *testing.T) {
	p := newPKI(t)
	c := dial(t, p, startService(t, p, openFiles(t)))
	ctx := context.Background()
	k, err := c.Key(ctx, "g", "timestamp")
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func() error{
		"empty GUN":      func() error { _, err := c.Key(ctx, "", "timestamp"); return err },
		"GUN with space": func() error { _, err := c.Key(ctx, "a b", "timestamp"); return err },
		"long GUN":       func() error { _, err := c.Key(ctx, strings.Repeat("a", 256), "timestamp"); return err },
		"root role":      func() error { _, err := c.Rotate(ctx, "g", metadata.TypeRoot); return err },
		"bad key ID":     func() error { _, err := c.Sign(ctx, "g", "timestamp", "ABC", []byte("m")); return err },
		"empty payload":  func() error { _, err := c.Sign(ctx, "g", "timestamp", k.ID(), nil); return err },
		"huge payload": func() error {
			_, err := c.Sign(ctx, "g", "timestamp", k.ID(), make([]byte, signerd.MaxRequestBytes))
			return err
		},
	} {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.Contains(err.Error(), "remote signer") {
			t.Errorf("%s: %v, want an error naming the remote signer", name, err)
		}
	}
	// The service checks and bounds requests, whatever a client sends, and
	// answers every error with a JSON body.
	addr := startService(t, p, openFiles(t))
	huge, _ := json.Marshal(signerd.SignRequest{GUN: "g", Role: "timestamp", KeyID: k.ID(), Payload: make([]byte, signerd.MaxRequestBytes)})
	for _, tt := range []struct {
		name, method, path, contentType string
		body                            []byte
		want                            int
		wantMsg                         string
	}{
		{"oversized", "POST", signerd.PathSign, "application/json", huge, http.StatusRequestEntityTooLarge, "larger than"},
		{"GET", "GET", signerd.PathKey, "", nil, http.StatusMethodNotAllowed, "want POST"},
		{"not JSON", "POST", signerd.PathKey, "text/plain", []byte(`{"gun":"g","role":"timestamp"}`), http.StatusUnsupportedMediaType, "application/json"},
		{"malformed", "POST", signerd.PathKey, "application/json", []byte(`{"gun":`), http.StatusBadRequest, "malformed"},
		{"unknown method", "POST", "/v1/export", "application/json", []byte(`{}`), http.StatusNotFound, "/v1/export"},
		{"unknown key", "POST", signerd.PathSign, "application/json",
			[]byte(`{"gun":"g","role":"snapshot","keyid":"` + k.ID() + `","payload":"bQ=="}`), http.StatusNotFound, "no snapshot key"},
		{"bad role", "POST", signerd.PathRotate, "application/json", []byte(`{"gun":"g","role":"root"}`), http.StatusBadRequest, `"root"`},
	} {
		code, b, err := doService(addr, dialTLS(t, p), true, tt.method, tt.path, tt.contentType, tt.body)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var e signerd.ErrorResponse
		if code != tt.want || json.Unmarshal(b, &e) != nil || !strings.Contains(e.Error, tt.wantMsg) {
			t.Errorf("%s: %d %s, want %d and a JSON error containing %q", tt.name, code, b, tt.want, tt.wantMsg)
		}
	}

	// The client's timeout applies.
	slow, err := signerd.Dial("127.0.0.1:1", dialTLS(t, p), signerd.ClientOptions{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	start := time.Now()
	if _, err := slow.Key(ctx, "g", "timestamp"); err == nil {
		t.Error("Key against a closed port succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("failed after %v, want within the timeout", d)
	}
}

// post sends body to the service at addr over HTTP/1.1, as the service's
// client does, with cfg.
func post(addr string, cfg *tls.Config, path, contentType string, body []byte) (int, []byte, error) {
	return doService(addr, cfg, false, "POST", path, contentType, body)
}

// doService sends a request over HTTP/1.1 or HTTP/2 and returns the status
// and body. (Over HTTP/2 a client reads the answer to a body the service
// refuses half-way, where HTTP/1.1 may see the connection closed first.)
func doService(addr string, cfg *tls.Config, h2 bool, method, path, contentType string, body []byte) (int, []byte, error) {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: h2}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequest(method, "https://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func dialTLS(t *testing.T, p *pki) *tls.Config {
	cfg, err := signerd.ClientTLS(p.ca.file, p.clientCert, p.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
