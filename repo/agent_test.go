package repo_test

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/agent"
	"github.com/rampart-tuf/rampart/keystore"
	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// TestBulkAddSignsBinsWithAgent imports a manifest into 64 hashed bins
// with every key in an agent and no key file on disk: the agent signs every
// bin, and the result publishes and verifies.
func TestBulkAddSignsBinsWithAgent(t *testing.T) {
	tmp := t.TempDir()
	srv, err := agent.Listen(filepath.Join(tmp, "agent", "sock"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(actx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	t.Setenv(agent.EnvSocket, srv.Path())

	r := initRepo(t, repo.InitOptions{Bins: 6})
	// Every key of the repository into the agent, and its file away.
	files, _ := filepath.Glob(filepath.Join(r.Dir(), "keys", "*.key"))
	if len(files) == 0 {
		t.Fatal("no key files in the new repository")
	}
	away := t.TempDir()
	for _, f := range files {
		addToAgent(t, f)
		if err := os.Rename(f, filepath.Join(away, filepath.Base(f))); err != nil {
			t.Fatal(err)
		}
	}
	r = reopen(t, r)
	if _, err := r.AddManifest(ctx, strings.NewReader(manifest(2000)), 0, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	reqs, msgs := srv.SignCounts()
	if msgs < 64 {
		t.Fatalf("the agent signed %d messages, fewer than the 64 bins", msgs)
	}
	t.Logf("the agent signed %d messages in %d requests", msgs, reqs)
	pub := filepath.Join(tmp, "pub")
	publish(t, r, pub)
	c := newGoTUF(t, pub)
	if err := c.refresh(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.info("pkg/p00042.tgz"); err != nil {
		t.Error(err)
	}
}

// addToAgent hands the plain key file at path to the agent of
// RAMPART_AGENT_SOCK.
func addToAgent(t *testing.T, path string) {
	t.Helper()
	pem, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	key, err := keys.ParsePrivatePEM(pem)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pk := loadKey(t, path).PublicKey()
	if _, err := agent.FromEnv().Add(ctx, &keystore.Unlocked{Public: pk, PKCS8: der}, path); err != nil {
		t.Fatal(err)
	}
}
