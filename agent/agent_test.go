package agent

import (
	"context"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/keystore"
	"github.com/rampart-tuf/rampart/keystore/softhsmtest"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// startAgent runs an agent on a socket in a new directory and returns it
// with a client; the agent is closed when the test ends.
func startAgent(t *testing.T, ttl time.Duration) (*Server, *Client) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent", "sock")
	srv, err := Listen(path, ttl)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv, &Client{Path: path}
}

// unlocked returns a new key of the given type as keystore.Unlock returns
// an encrypted key file's.
func unlocked(t *testing.T, keyType string) *keystore.Unlocked {
	t.Helper()
	priv, err := keys.Generate(keyType)
	if err != nil {
		t.Fatal(err)
	}
	s, err := keys.NewSigner(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return &keystore.Unlocked{Public: s.PublicKey(), PKCS8: der}
}

func TestSignWithEachKeyType(t *testing.T) {
	_, c := startAgent(t, time.Hour)
	ctx := context.Background()
	for _, typ := range []string{keys.KeyTypeEd25519, "ecdsa", "rsa"} {
		t.Run(typ, func(t *testing.T) {
			u := unlocked(t, typ)
			info, err := c.Add(ctx, u, "/keys/"+typ+".key")
			if err != nil {
				t.Fatal(err)
			}
			id := keystore.KeyID(u.Public)
			if info.KeyID != id || info.Kind != KindFile || info.Source != "/keys/"+typ+".key" {
				t.Errorf("Add = %+v, want key %s of kind file", info, id)
			}
			k, err := c.Signer(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if k.PublicKey() != u.Public {
				t.Errorf("PublicKey = %+v, want %+v", k.PublicKey(), u.Public)
			}
			msg := []byte(`{"signed":"` + typ + `"}`)
			sig, err := k.Sign(ctx, msg)
			if err != nil {
				t.Fatal(err)
			}
			v, _ := keys.NewVerifier(u.Public)
			if err := v.Verify(msg, sig); err != nil {
				t.Errorf("signature does not verify: %v", err)
			}
			// Unchecked: the agent's signature as it comes, for a caller
			// that checks it later.
			uk := k.Unchecked()
			if uk.PublicKey() != u.Public {
				t.Errorf("Unchecked().PublicKey = %+v, want %+v", uk.PublicKey(), u.Public)
			}
			usig, err := uk.Sign(ctx, msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Verify(msg, usig); err != nil {
				t.Errorf("unchecked signature does not verify: %v", err)
			}
			// As a crypto.Signer, through keys.NewSigner (whole messages).
			ks, err := keys.NewSigner(k.CryptoSigner(), u.Public.Scheme)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ks.Sign(ctx, msg); err != nil {
				t.Errorf("keys.NewSigner(CryptoSigner).Sign: %v", err)
			}
		})
	}
	held, err := c.List(ctx)
	if err != nil || len(held) != 3 {
		t.Fatalf("List = %d keys, %v; want 3", len(held), err)
	}
}

func TestRemovedKeyIsNotUsed(t *testing.T) {
	_, c := startAgent(t, time.Hour)
	ctx := context.Background()
	a, b := unlocked(t, keys.KeyTypeEd25519), unlocked(t, keys.KeyTypeEd25519)
	for _, u := range []*keystore.Unlocked{a, b} {
		if _, err := c.Add(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
	}
	ka, err := c.Signer(ctx, keystore.KeyID(a.Public))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.Remove(ctx, []string{keystore.KeyID(a.Public), "00ff"}, false); err != nil || n != 1 {
		t.Fatalf("Remove = %d, %v; want 1", n, err)
	}
	if _, err := ka.Sign(ctx, []byte("m")); err == nil || !strings.Contains(err.Error(), "not held") {
		t.Errorf("Sign with a removed key: %v, want an error saying it is not held", err)
	}
	if _, err := c.Signer(ctx, keystore.KeyID(a.Public)); !errors.Is(err, ErrNotHeld) {
		t.Errorf("Signer of a removed key: %v, want ErrNotHeld", err)
	}
	if _, err := c.Signer(ctx, keystore.KeyID(b.Public)); err != nil {
		t.Errorf("the other key went too: %v", err)
	}
	if _, err := c.Remove(ctx, []string{"x"}, true); err == nil {
		t.Error("Remove with IDs and all: no error")
	}
	if n, err := c.Remove(ctx, nil, true); err != nil || n != 1 {
		t.Errorf("Remove all = %d, %v; want 1", n, err)
	}
	if held, _ := c.List(ctx); len(held) != 0 {
		t.Errorf("after remove all, the agent lists %d keys", len(held))
	}
}

func TestExpiredKeyIsNotUsed(t *testing.T) {
	srv, c := startAgent(t, 300*time.Millisecond)
	ctx := context.Background()
	u := unlocked(t, keys.KeyTypeEd25519)
	id := keystore.KeyID(u.Public)
	if _, err := c.Add(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	k, err := c.Signer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Sign(ctx, []byte("m")); err != nil {
		t.Fatalf("Sign before expiry: %v", err)
	}
	// Even before the timer sweeps it, an expired key does not sign.
	srv.mu.Lock()
	srv.keys[id].info.Expires = time.Now().Add(-time.Second)
	srv.mu.Unlock()
	if _, err := k.Sign(ctx, []byte("m")); err == nil {
		t.Error("a key past its expiry signed")
	}
	time.Sleep(500 * time.Millisecond)
	srv.mu.Lock()
	_, still := srv.keys[id]
	srv.mu.Unlock()
	if still {
		t.Error("the expired key was not swept")
	}
	if _, err := c.Signer(ctx, id); !errors.Is(err, ErrNotHeld) {
		t.Errorf("Signer of an expired key: %v, want ErrNotHeld", err)
	}
	if held, _ := c.List(ctx); len(held) != 0 {
		t.Errorf("the agent lists %d keys after expiry", len(held))
	}
}

func TestAddRefusesWrongKeys(t *testing.T) {
	_, c := startAgent(t, time.Hour)
	ctx := context.Background()
	a, b := unlocked(t, keys.KeyTypeEd25519), unlocked(t, "ecdsa")
	mixed := &keystore.Unlocked{Public: b.Public, PKCS8: a.PKCS8}
	if _, err := c.Add(ctx, mixed, ""); err == nil || !strings.Contains(err.Error(), "not the public key") {
		t.Errorf("Add of a private key under another's public key: %v", err)
	}
	garbage := &keystore.Unlocked{Public: a.Public, PKCS8: []byte("not DER")}
	if _, err := c.Add(ctx, garbage, ""); err == nil || !strings.Contains(err.Error(), "PKCS#8") {
		t.Errorf("Add of garbage: %v", err)
	}
	if _, err := c.Add(ctx, &keystore.Unlocked{Public: a.Public}, ""); err == nil {
		t.Error("Add without a private key: no error")
	}
	if held, _ := c.List(ctx); len(held) != 0 {
		t.Errorf("refused adds left %d keys behind", len(held))
	}
}

// rawRequest sends a frame of the given bytes (with the length given) and
// returns the agent's error message.
func rawRequest(t *testing.T, path string, length uint32, body []byte) string {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], length)
	conn.Write(append(hdr[:], body...))
	var resp response
	if err := readFrame(conn, &resp, MaxResponse); err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	return resp.Error
}

func TestMalformedRequestsRefused(t *testing.T) {
	srv, _ := startAgent(t, time.Hour)
	for _, tc := range []struct {
		name   string
		length uint32
		body   string
		want   string
	}{
		{"too long", MaxRequest + 1, "", "out of range"},
		{"empty", 0, "", "out of range"},
		{"unknown member", 27, `{"op":"list","extra":true} `, "unknown field"},
		{"unknown op", 15, `{"op":"steal"} `, "unknown operation"},
		{"trailing", 16, `{"op":"list"}{} `, "after the JSON"},
		{"truncated", 100, `{"op":"list"}`, "reading message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			if tc.name != "truncated" {
				body = body[:min(len(body), int(tc.length))]
			}
			if tc.name == "truncated" {
				conn, err := net.Dial("unix", srv.Path())
				if err != nil {
					t.Fatal(err)
				}
				var hdr [4]byte
				binary.BigEndian.PutUint32(hdr[:], tc.length)
				conn.Write(append(hdr[:], body...))
				conn.(*net.UnixConn).CloseWrite()
				var resp response
				if err := readFrame(conn, &resp, MaxResponse); err != nil || !strings.Contains(resp.Error, tc.want) {
					t.Errorf("response %q, %v; want an error containing %q", resp.Error, err, tc.want)
				}
				conn.Close()
				return
			}
			if got := rawRequest(t, srv.Path(), tc.length, body); !strings.Contains(got, tc.want) {
				t.Errorf("error %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

func TestSocketAndDirectoryModes(t *testing.T) {
	srv, _ := startAgent(t, time.Hour)
	fi, err := os.Lstat(srv.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with mode 0600", fi.Mode())
	}
	di, err := os.Stat(filepath.Dir(srv.Path()))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("socket directory mode %04o, want 0700", di.Mode().Perm())
	}

	// A directory others can enter is refused, and so is a live agent's
	// socket; a stale socket is replaced.
	open := filepath.Join(t.TempDir(), "open")
	os.Mkdir(open, 0o755)
	os.Chmod(open, 0o755)
	if _, err := Listen(filepath.Join(open, "sock"), time.Hour); err == nil || !strings.Contains(err.Error(), "mode 0755") {
		t.Errorf("Listen in a 0755 directory: %v", err)
	}
	if _, err := Listen(srv.Path(), time.Hour); err == nil || !strings.Contains(err.Error(), "already listening") {
		t.Errorf("Listen on a live agent's socket: %v", err)
	}
	stale := filepath.Join(t.TempDir(), "stale", "sock")
	s1, err := Listen(stale, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s1.ln.SetUnlinkOnClose(false)
	s1.Close()
	s2, err := Listen(stale, time.Hour)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	s2.Close()
	if _, err := os.Lstat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Close left the socket behind: %v", err)
	}
}

func TestCheckUID(t *testing.T) {
	if err := checkUID(1000, 1000); err != nil {
		t.Errorf("same user refused: %v", err)
	}
	for _, got := range []uint32{0, 1001, 65534} {
		if err := checkUID(got, 1000); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("checkUID(%d, 1000) = %v, want a refusal", got, err)
		}
	}
}

// TestPeerOfAnotherUserRefused runs an agent that serves another user ID
// than the test's, so that the test's own connection is another user's
// to it, as the kernel reports it with SO_PEERCRED.
func TestPeerOfAnotherUserRefused(t *testing.T) {
	srv, c := startAgent(t, time.Hour)
	ctx := context.Background()
	u := unlocked(t, keys.KeyTypeEd25519)
	if _, err := c.Add(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	got, err := peerUIDOf(t, srv.Path())
	if err != nil || got != uint32(os.Getuid()) {
		t.Fatalf("SO_PEERCRED of the agent = %d, %v; want %d", got, err, os.Getuid())
	}
	srv.uid.Store(uint32(os.Getuid()) + 1)
	for _, op := range []func() error{
		func() error { _, err := c.List(ctx); return err },
		func() error { _, err := c.Signer(ctx, keystore.KeyID(u.Public)); return err },
		func() error { _, err := c.sign(ctx, keystore.KeyID(u.Public), []byte("m")); return err },
		func() error { _, err := c.Remove(ctx, nil, true); return err },
	} {
		if err := op(); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("request from another user: %v, want a refusal", err)
		}
	}
	srv.uid.Store(uint32(os.Getuid()))
	if held, err := c.List(ctx); err != nil || len(held) != 1 {
		t.Errorf("after the refusals, List = %d keys, %v; want the key still held", len(held), err)
	}
}

func peerUIDOf(t *testing.T, path string) (uint32, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return peerUID(conn.(*net.UnixConn))
}

func TestFromEnvFallsBack(t *testing.T) {
	ctx := context.Background()
	t.Setenv(EnvSocket, "")
	if k, err := SignerFromEnv(ctx, "ab"); k != nil || err != nil {
		t.Errorf("unset: %v, %v; want nothing", k, err)
	}
	t.Setenv(EnvSocket, filepath.Join(t.TempDir(), "none"))
	if k, err := SignerFromEnv(ctx, "ab"); k != nil || err != nil {
		t.Errorf("no agent: %v, %v; want nothing", k, err)
	}
	srv, _ := startAgent(t, time.Hour)
	t.Setenv(EnvSocket, srv.Path())
	if k, err := SignerFromEnv(ctx, "ab"); k != nil || err != nil {
		t.Errorf("key not held: %v, %v; want nothing", k, err)
	}
	srv.uid.Add(1)
	envList.forget()
	if _, err := SignerFromEnv(ctx, "ab"); err == nil {
		t.Error("an agent that refuses us: no error")
	}
}

func TestCloseStopsPromptly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "sock")
	srv, err := Listen(path, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	c := &Client{Path: path}
	if _, err := c.Add(context.Background(), unlocked(t, keys.KeyTypeEd25519), ""); err != nil {
		t.Fatal(err)
	}
	// A connection that never sends its request does not hold it up.
	idle, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the socket is still there: %v", err)
	}
	if len(srv.keys) != 0 {
		t.Errorf("%d keys still held after Close", len(srv.keys))
	}
}

// TestPKCS11KeyHeld holds a key on a real SoftHSM token: the agent opens
// the token session once, keeps it, and signs through it.
func TestPKCS11KeyHeld(t *testing.T) {
	tok := softhsmtest.NewToken(t, "agent-test")
	ctx := context.Background()
	pin := func(string) ([]byte, error) { return []byte(tok.PIN), nil }
	s, k, err := keystore.GeneratePKCS11(ctx, keystore.PKCS11Key{Module: tok.Module, TokenLabel: tok.Label, KeyLabel: "targets"}, "ecdsa", pin)
	if err != nil {
		t.Fatal(err)
	}
	pk := s.PublicKey()
	s.Close()
	ref := filepath.Join(t.TempDir(), "targets.key")
	if err := keystore.WritePKCS11Ref(ref, k, pk, false); err != nil {
		t.Fatal(err)
	}
	u, err := keystore.Unlock(ref, pin)
	if err != nil {
		t.Fatal(err)
	}
	if u.PKCS8 != nil || string(u.PIN) != tok.PIN {
		t.Fatalf("Unlock of a PKCS#11 reference: PKCS8 %v, PIN %q", u.PKCS8 != nil, u.PIN)
	}
	_, c := startAgent(t, time.Hour)
	// A wrong PIN is refused, and nothing is held for it. (Once the agent
	// holds a key of a token, PKCS#11 has it logged in to that token, and
	// a later login is not checked again: so this comes first.)
	t.Setenv(keystore.EnvPKCS11PIN, "")
	os.Unsetenv(keystore.EnvPKCS11PIN)
	bad := &keystore.Unlocked{Public: pk, PKCS11: u.PKCS11, PIN: []byte("0000")}
	if _, err := c.Add(ctx, bad, ref); err == nil || !strings.Contains(err.Error(), "PIN") {
		t.Errorf("Add with a wrong PIN: %v", err)
	}
	if held, _ := c.List(ctx); len(held) != 0 {
		t.Errorf("the agent holds %d keys after a wrong PIN", len(held))
	}
	info, err := c.Add(ctx, u, ref)
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != KindPKCS11 || info.KeyID != keystore.KeyID(pk) {
		t.Errorf("Add = %+v", info)
	}
	key, err := c.Signer(ctx, info.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := keys.NewVerifier(pk)
	for i := range 3 {
		msg := []byte{byte(i)}
		sig, err := key.Sign(ctx, msg)
		if err != nil {
			t.Fatalf("signature %d: %v", i, err)
		}
		if err := v.Verify(msg, sig); err != nil {
			t.Errorf("signature %d does not verify: %v", i, err)
		}
	}
	if n, err := c.Remove(ctx, []string{info.KeyID}, false); err != nil || n != 1 {
		t.Fatalf("Remove = %d, %v", n, err)
	}
	if _, err := key.Sign(ctx, []byte("m")); err == nil {
		t.Error("a removed PKCS#11 key signed")
	}
}

// TestConnectionReuse checks that signatures go over one connection kept
// open between them, and that a connection the agent closed while idle is
// replaced without the caller seeing it.
func TestConnectionReuse(t *testing.T) {
	_, c := startAgent(t, time.Hour)
	defer c.Close()
	ctx := context.Background()
	u := unlocked(t, keys.KeyTypeEd25519)
	if _, err := c.Add(ctx, u, "/keys/a.key"); err != nil {
		t.Fatal(err)
	}
	k, err := c.Signer(ctx, keystore.KeyID(u.Public))
	if err != nil {
		t.Fatal(err)
	}
	sign := func() {
		t.Helper()
		if _, err := k.Sign(ctx, []byte(`{"n":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	sign()
	c.mu.Lock()
	if len(c.idle) != 1 {
		t.Fatalf("%d idle connections after a signature, want 1", len(c.idle))
	}
	first := c.idle[0]
	c.mu.Unlock()
	for range 5 {
		sign()
	}
	c.mu.Lock()
	if len(c.idle) != 1 || c.idle[0] != first {
		t.Errorf("sequential signatures did not reuse the connection: %d idle", len(c.idle))
	}
	c.mu.Unlock()
	// The agent closes a connection left idle; the next signature goes
	// over a new one.
	time.Sleep(idleTimeout + 200*time.Millisecond)
	sign()
	c.mu.Lock()
	if len(c.idle) != 1 || c.idle[0] == first {
		t.Errorf("after the agent closed the idle connection: %d idle, reused the closed one: %v", len(c.idle), len(c.idle) == 1 && c.idle[0] == first)
	}
	c.mu.Unlock()
}

// checkRawRequest sends body to the agent as it comes: its JSON object
// (up to the first "}") as a request frame and the rest as raw bytes, then
// ends the connection's writing when closeWrite is set; the agent's answer
// must be an error containing want.
func checkRawRequest(t *testing.T, srv *Server, body string, closeWrite bool, want string) {
	t.Helper()
	conn, err := net.Dial("unix", srv.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	frame, rest, _ := strings.Cut(body, "}")
	frame += "}"
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(frame)))
	conn.Write(append(append(hdr[:], frame...), rest...))
	if closeWrite {
		conn.(*net.UnixConn).CloseWrite()
	}
	var resp response
	if err := readFrame(conn, &resp, MaxResponse); err != nil || !strings.Contains(resp.Error, want) {
		t.Errorf("response %q, %v; want an error containing %q", resp.Error, err, want)
	}
}

// TestSignMessageBounds checks the message that follows a sign request:
// its length must be 1 to MaxSignMessage, and all of it must come.
func TestSignMessageBounds(t *testing.T) {
	srv, _ := startAgent(t, time.Hour)
	for _, tc := range []struct {
		name, body, want string
		close            bool
	}{
		{"no length", `{"op":"sign","key_id":"ab"}`, "out of range", false},
		{"too long", fmt.Sprintf(`{"op":"sign","key_id":"ab","message_length":%d}`, MaxSignMessage+1), "out of range", false},
		{"truncated", `{"op":"sign","key_id":"ab","message_length":10}abc`, "reading a message", true},
	} {
		t.Run(tc.name, func(t *testing.T) { checkRawRequest(t, srv, tc.body, tc.close, tc.want) })
	}
}

// TestSignBatch signs a batch with each kind of key: one signature per
// message, in order, each verifying against the key, and counted once as a
// request.
func TestSignBatch(t *testing.T) {
	srv, c := startAgent(t, time.Hour)
	defer c.Close()
	ctx := context.Background()
	for _, kt := range []string{keys.KeyTypeEd25519, keys.KeyTypeECDSA, keys.KeyTypeRSA} {
		t.Run(kt, func(t *testing.T) {
			u := unlocked(t, kt)
			if _, err := c.Add(ctx, u, ""); err != nil {
				t.Fatal(err)
			}
			id := keystore.KeyID(u.Public)
			msgs := [][]byte{[]byte(`{"a":1}`), []byte(`{"b":22}`), []byte(`{"c":333}`)}
			reqs0, msgs0 := srv.SignCounts()
			sigs, err := c.signBatch(ctx, id, msgs)
			if err != nil {
				t.Fatal(err)
			}
			if reqs, n := srv.SignCounts(); reqs-reqs0 != 1 || n-msgs0 != 3 {
				t.Errorf("the agent counted %d requests and %d messages, want 1 and 3", reqs-reqs0, n-msgs0)
			}
			v, err := keys.NewVerifier(u.Public)
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range msgs {
				if err := v.Verify(m, sigs[i]); err != nil {
					t.Errorf("signature %d: %v", i, err)
				}
			}
			if err := v.Verify(msgs[0], sigs[1]); err == nil {
				t.Error("signature 1 verifies message 0: the batch's signatures are not each its own message's")
			}
			if string(msgs[0]) != `{"a":1}` || string(msgs[2]) != `{"c":333}` {
				t.Errorf("sending the batch changed its messages: %q", msgs)
			}
			if _, err := c.signBatch(ctx, strings.Repeat("ab", 32), msgs); err == nil || !strings.Contains(err.Error(), "not held") {
				t.Errorf("batch with a key not held: %v", err)
			}
			if kt != keys.KeyTypeEd25519 {
				return
			}
			// A full batch: its frame and MaxBatch messages are more
			// buffers than one gathering write takes.
			full := make([][]byte, MaxBatch)
			for i := range full {
				full[i] = []byte(fmt.Sprintf(`{"n":%d}`, i))
			}
			sigs, err = c.signBatch(ctx, id, full)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range []int{0, 1, MaxBatch - 2, MaxBatch - 1} {
				if err := v.Verify(full[i], sigs[i]); err != nil {
					t.Errorf("full batch, signature %d: %v", i, err)
				}
			}
			// The small batch again, over the connection (and into the
			// agent's buffer) the full one used.
			sigs, err = c.signBatch(ctx, id, msgs)
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range msgs {
				if err := v.Verify(m, sigs[i]); err != nil {
					t.Errorf("after the full batch, signature %d: %v", i, err)
				}
			}
		})
	}
}

// TestSignBatchBounds checks the messages that follow a batch sign
// request: 1 to MaxBatch of them, none empty, at most MaxSignMessage bytes
// in all, and all of them must come.
func TestSignBatchBounds(t *testing.T) {
	srv, c := startAgent(t, time.Hour)
	lengths := func(n, each int) string {
		b, _ := json.Marshal(slices.Repeat([]int{each}, n))
		return string(b)
	}
	for _, tc := range []struct {
		name, body, want string
		close            bool
	}{
		{"no messages", `{"op":"sign-batch","key_id":"ab"}`, "batch of 0 messages", false},
		{"too many", `{"op":"sign-batch","key_id":"ab","message_lengths":` + lengths(MaxBatch+1, 1) + `}`, "out of range 1 to 1024", false},
		{"empty message", `{"op":"sign-batch","key_id":"ab","message_lengths":[3,0]}`, "batch message 1: length 0", false},
		{"too long in all", `{"op":"sign-batch","key_id":"ab","message_lengths":` + lengths(3, MaxSignMessage/2) + `}`, "batch message 2", false},
		{"truncated", `{"op":"sign-batch","key_id":"ab","message_lengths":[2,8]}abc`, "reading a message", true},
	} {
		t.Run(tc.name, func(t *testing.T) { checkRawRequest(t, srv, tc.body, tc.close, tc.want) })
	}
	// The client refuses to send a batch out of bounds.
	if _, err := c.signBatch(context.Background(), "ab", nil); err == nil {
		t.Error("the client sent an empty batch")
	}
}

// TestConcurrentSignsShareBatches holds the agent's key busy while many
// Sign calls of one Key queue up: once it is free, they go to the agent in
// a few batch requests, not one request each, and every signature
// verifies.
func TestConcurrentSignsShareBatches(t *testing.T) {
	srv, c := startAgent(t, time.Hour)
	defer c.Close()
	ctx := context.Background()
	u := unlocked(t, keys.KeyTypeEd25519)
	if _, err := c.Add(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	id := keystore.KeyID(u.Public)
	k, err := c.Signer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// The agent takes the key's lock for reading to sign with it: holding
	// it for writing keeps the first requests waiting in the agent.
	srv.mu.Lock()
	held := srv.keys[id]
	srv.mu.Unlock()
	held.mu.Lock()
	const n = 50
	errs := make(chan error, n)
	for i := range n {
		go func() {
			msg := fmt.Appendf(nil, `{"n":%d}`, i)
			_, err := k.Sign(ctx, msg) // Sign verifies the signature
			errs <- err
		}()
	}
	// Wait until every call is either with the agent or queued.
	for {
		k.b.mu.Lock()
		pending, sending := k.b.pending, k.b.sending
		k.b.mu.Unlock()
		if sending == maxSending && pending == n {
			break
		}
		time.Sleep(time.Millisecond)
	}
	held.mu.Unlock()
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	reqs, msgs := srv.SignCounts()
	if msgs != n {
		t.Errorf("the agent signed %d messages, want %d", msgs, n)
	}
	if reqs > maxSending+2 {
		t.Errorf("%d concurrent signatures took %d requests, want at most %d", n, reqs, maxSending+2)
	}
}

// BenchmarkKeySign signs 8 KiB messages from 8 goroutines with an
// Ed25519 key of the agent, as a commit signs its bins: one request per
// signature ("single"), and concurrent signatures sharing batch requests
// ("shared").
func BenchmarkKeySign(b *testing.B) {
	srv, err := Listen(filepath.Join(b.TempDir(), "agent", "sock"), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(context.Background())
	defer srv.Close()
	c := &Client{Path: srv.Path()}
	defer c.Close()
	ctx := context.Background()
	priv, err := keys.Generate(keys.KeyTypeEd25519)
	if err != nil {
		b.Fatal(err)
	}
	s, _ := keys.NewSigner(priv, "")
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	u := &keystore.Unlocked{Public: s.PublicKey(), PKCS8: der}
	if _, err := c.Add(ctx, u, ""); err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 8<<10)
	for _, shared := range []bool{false, true} {
		name := map[bool]string{false: "single", true: "shared"}[shared]
		b.Run(name, func(b *testing.B) {
			k, err := c.Signer(ctx, keystore.KeyID(u.Public))
			if err != nil {
				b.Fatal(err)
			}
			if !shared {
				k.b = nil
			}
			b.SetParallelism(4) // 8 goroutines on 2 processors
			b.SetBytes(int64(len(msg)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := k.Sign(ctx, msg); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
