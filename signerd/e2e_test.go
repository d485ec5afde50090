package signerd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/blob"
	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/bolt"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// TestServerWithRemoteSigner runs the metadata server with its online keys
// in the signing service: a published repository's timestamp and snapshot
// verify with the keys the service holds, and the server's database holds
// none.
func TestServerWithRemoteSigner(t *testing.T) {
	serverWithRemoteSigner(t, openFiles(t), "ed25519")
}

// serverWithRemoteSigner publishes a repository through a metadata server
// whose signer is the service over backend, whose keys are of keyType.
func serverWithRemoteSigner(t *testing.T, backend signer.Signer, keyType string) {
	ctx := context.Background()
	p := newPKI(t)
	remote := dial(t, p, startService(t, p, backend))

	st, err := bolt.Open(filepath.Join(t.TempDir(), "rampart.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	blobs, err := blob.OpenDir(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: st, Signer: remote, Blobs: blobs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { srv.Run(runCtx); close(done) }()
	hs := httptest.NewServer(srv.Handler())
	defer func() { hs.Close(); cancel(); <-done }()
	token, hash := auth.NewToken()
	if err := st.CreateToken(ctx, store.Token{Hash: hash, Scope: "admin"}); err != nil {
		t.Fatal(err)
	}

	const gun = "example.com/acme/app"
	if code, b := do(t, "POST", hs.URL+"/api/v1/repositories/"+gun, token, nil); code != http.StatusCreated {
		t.Fatalf("creating %s: %d %s", gun, code, b)
	}
	online := map[string]*metadata.Key{}
	for _, role := range []string{"timestamp", "snapshot"} {
		code, b := do(t, "GET", hs.URL+"/api/v1/repositories/"+gun+"/keys/"+role, token, nil)
		if code != 200 {
			t.Fatalf("GET %s key: %d %s", role, code, b)
		}
		var out struct {
			Key json.RawMessage `json:"key"`
		}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		k, err := signer.DecodeKey(out.Key)
		if err != nil {
			t.Fatal(err)
		}
		held, err := remote.Key(ctx, gun, role)
		if err != nil || held.ID() != k.ID() {
			t.Fatalf("server's %s key %s, the signer's %v (%v)", role, k.ID(), held, err)
		}
		if k.Type != keyType {
			t.Errorf("%s key type %q, want %q", role, k.Type, keyType)
		}
		online[role] = k
	}
	if ks, err := st.OnlineKeys(ctx, gun, "timestamp"); err != nil || len(ks) != 0 {
		t.Errorf("the server's store holds online keys: %v, %v", ks, err)
	}

	rootKey, targetsKey := newEd25519(t), newEd25519(t)
	expires := time.Now().Add(24 * time.Hour)
	root := metadata.NewRoot(expires)
	must(t, root.AddKey("root", metadata.NewKey(rootKey.PublicKey())))
	must(t, root.AddKey("targets", metadata.NewKey(targetsKey.PublicKey())))
	must(t, root.AddKey("timestamp", online["timestamp"]))
	must(t, root.AddKey("snapshot", online["snapshot"]))
	body, _ := json.Marshal(map[string]any{"roles": map[string]json.RawMessage{
		"root":    signDoc(t, root, rootKey),
		"targets": signDoc(t, metadata.NewTargets(expires), targetsKey),
	}})
	if code, b := do(t, "POST", hs.URL+"/api/v1/repositories/"+gun+"/metadata", token, body); code != 200 {
		t.Fatalf("publish: %d %s", code, b)
	}

	code, b := do(t, "GET", hs.URL+"/tuf/"+gun+"/metadata/timestamp.json", "", nil)
	if code != 200 {
		t.Fatalf("timestamp.json: %d %s", code, b)
	}
	ts, err := metadata.ParseTimestamp(b)
	if err != nil {
		t.Fatal(err)
	}
	tk := online["timestamp"]
	if err := metadata.VerifySignatures("timestamp", ts, []string{tk.ID()}, map[string]*metadata.Key{tk.ID(): tk}, 1); err != nil {
		t.Fatalf("timestamp does not verify with the signer's key: %v", err)
	}
	code, b = do(t, "GET", hs.URL+"/tuf/"+gun+"/metadata/1.snapshot.json", "", nil)
	if code != 200 {
		t.Fatalf("1.snapshot.json: %d %s", code, b)
	}
	snap, err := metadata.ParseSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	sk := online["snapshot"]
	if err := metadata.VerifySignatures("snapshot", snap, []string{sk.ID()}, map[string]*metadata.Key{sk.ID(): sk}, 1); err != nil {
		t.Fatalf("snapshot does not verify with the signer's key: %v", err)
	}

	// Deleting the repository destroys its keys in the signing service:
	// the service holds none for the GUN and signs with none of them.
	if code, b := do(t, "DELETE", hs.URL+"/api/v1/repositories/"+gun, token, nil); code != 200 {
		t.Fatalf("delete: %d %s", code, b)
	}
	for _, role := range []string{"timestamp", "snapshot"} {
		if ks, err := remote.Keys(ctx, gun, role); err != nil || len(ks) != 0 {
			t.Errorf("the signer's %s keys after the deletion: %v, %v", role, ks, err)
		}
		if _, err := remote.Sign(ctx, gun, role, online[role].ID(), []byte("payload")); err == nil {
			t.Errorf("the signer still signs with the deleted repository's %s key", role)
		}
		if code, _ := do(t, "GET", hs.URL+"/api/v1/repositories/"+gun+"/keys/"+role, token, nil); code != http.StatusNotFound {
			t.Errorf("GET %s key of the deleted repository: %d, want 404", role, code)
		}
	}
	// Created again (by an admin), the GUN gets new keys.
	if code, b := do(t, "POST", hs.URL+"/api/v1/repositories/"+gun, token, nil); code != http.StatusCreated {
		t.Fatalf("creating %s again: %d %s", gun, code, b)
	}
	for _, role := range []string{"timestamp", "snapshot"} {
		ks, err := remote.Keys(ctx, gun, role)
		if err != nil || len(ks) != 1 || ks[0].ID() == online[role].ID() {
			t.Errorf("%s keys after creating the GUN again: %v, %v (old key %s)", role, ks, err, online[role].ID())
		}
	}
}

func do(t *testing.T, method, url, token string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func newEd25519(t *testing.T) keys.Signer {
	t.Helper()
	priv, err := keys.Generate(keys.KeyTypeEd25519)
	if err != nil {
		t.Fatal(err)
	}
	s, err := keys.NewSigner(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signDoc[T metadata.Role](t *testing.T, doc T, s keys.Signer) []byte {
	t.Helper()
	md := metadata.New(doc)
	if _, err := md.Sign(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	b, err := md.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
