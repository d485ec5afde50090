package signerd_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

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
	gs, err := signerd.NewServer(backend, cfg, signerd.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
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
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var resp signerd.KeyResponse
		return conn.Invoke(ctx, "/"+signerd.ServiceName+"/Key", &signerd.KeyRequest{GUN: "g", Role: "timestamp"}, &resp,
			grpc.ForceCodecV2(signerd.Codec{}))
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
	if err := call(noCert); status.Code(err) != codes.Unavailable {
		t.Errorf("client without a certificate: %v, want Unavailable", err)
	}

	// A certificate from another CA.
	other := newCA(t, "other")
	cert, key := other.issue(t, "intruder")
	wrong, err := signerd.ClientTLS(p.ca.file, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := call(wrong); status.Code(err) != codes.Unavailable {
		t.Errorf("client with another CA's certificate: %v, want Unavailable", err)
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
	if err := call(distrust); status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "certificate") {
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
	// The service bounds requests, whatever the client allows itself.
	addr := startService(t, p, openFiles(t))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(dialTLS(t, p))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var resp signerd.SignResponse
	err = conn.Invoke(ctx, "/"+signerd.ServiceName+"/Sign",
		&signerd.SignRequest{GUN: "g", Role: "timestamp", KeyID: k.ID(), Payload: make([]byte, signerd.MaxRequestBytes)}, &resp,
		grpc.ForceCodecV2(signerd.Codec{}), grpc.MaxCallSendMsgSize(64<<20))
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("oversized request: %v, want ResourceExhausted", err)
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

func dialTLS(t *testing.T, p *pki) *tls.Config {
	cfg, err := signerd.ClientTLS(p.ca.file, p.clientCert, p.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
