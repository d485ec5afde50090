package signerd_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/servertest"
	"github.com/rampart-tuf/rampart/server/signer"
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

	srv := servertest.Start(t, func(c *server.Config) { c.Signer = remote })

	// The maintainer gets the server's online keys when it creates the
	// repository: they are the signing service's.
	const gun = "example.com/acme/app"
	m := servertest.NewMaintainer(t, srv, gun)
	online := m.Online
	for _, role := range []string{"timestamp", "snapshot"} {
		k := online[role]
		held, err := remote.Key(ctx, gun, role)
		if err != nil || held.ID() != k.ID() {
			t.Fatalf("server's %s key %s, the signer's %v (%v)", role, k.ID(), held, err)
		}
		if k.Type != keyType {
			t.Errorf("%s key type %q, want %q", role, k.Type, keyType)
		}
	}
	if ks, err := srv.Store.OnlineKeys(ctx, gun, "timestamp"); err != nil || len(ks) != 0 {
		t.Errorf("the server's store holds online keys: %v, %v", ks, err)
	}
	m.MustPublish(map[string][]byte{
		"root":    servertest.Sign(t, m.RootDoc(1), m.Root),
		"targets": servertest.Sign(t, m.TargetsDoc(1, nil), m.Targets),
	})

	code, b, _ := srv.Do(t, "GET", "/tuf/"+gun+"/metadata/timestamp.json", "", nil)
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
	code, b, _ = srv.Do(t, "GET", "/tuf/"+gun+"/metadata/1.snapshot.json", "", nil)
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
	if code, b, _ := srv.Do(t, "DELETE", "/api/v1/repositories/"+gun, srv.Admin, nil); code != 200 {
		t.Fatalf("delete: %d %s", code, b)
	}
	for _, role := range []string{"timestamp", "snapshot"} {
		if ks, err := remote.Keys(ctx, gun, role); err != nil || len(ks) != 0 {
			t.Errorf("the signer's %s keys after the deletion: %v, %v", role, ks, err)
		}
		if _, err := remote.Sign(ctx, gun, role, online[role].ID(), []byte("payload")); err == nil {
			t.Errorf("the signer still signs with the deleted repository's %s key", role)
		}
		if code, _, _ := srv.Do(t, "GET", "/api/v1/repositories/"+gun+"/keys/"+role, srv.Admin, nil); code != http.StatusNotFound {
			t.Errorf("GET %s key of the deleted repository: %d, want 404", role, code)
		}
	}
	// Created again (by an admin), the GUN gets new keys.
	if code, b, _ := srv.Do(t, "POST", "/api/v1/repositories/"+gun, srv.Admin, nil); code != http.StatusCreated {
		t.Fatalf("creating %s again: %d %s", gun, code, b)
	}
	for _, role := range []string{"timestamp", "snapshot"} {
		ks, err := remote.Keys(ctx, gun, role)
		if err != nil || len(ks) != 1 || ks[0].ID() == online[role].ID() {
			t.Errorf("%s keys after creating the GUN again: %v, %v (old key %s)", role, ks, err, online[role].ID())
		}
	}
}
