package repo_test

import (
	"context"
	"crypto/x509"
	"errors"
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
	r, srv := agentOnlyRepo(t, 6)
	if _, err := r.AddManifest(ctx, strings.NewReader(manifest(2000)), 0, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	reqs, msgs := srv.SignCounts()
	if msgs < 64 {
		t.Fatalf("the agent signed %d messages, fewer than the 64 bins", msgs)
	}
	t.Logf("the agent signed %d messages in %d requests", msgs, reqs)
	pub := filepath.Join(t.TempDir(), "pub")
	publishAndFind(t, r, pub, "pkg/p00042.tgz")
}

// TestAgentSignedBinsCheckedAtPublish: the signatures the agent made for
// the bins of a bulk add are checked by publishing, not taken as checked
// because the same Repo made them: a staged bin whose signature no longer
// verifies is refused.
func TestAgentSignedBinsCheckedAtPublish(t *testing.T) {
	r, _ := agentOnlyRepo(t, 2)
	if _, err := r.AddManifest(ctx, strings.NewReader(manifest(100)), 0, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	bins, _ := filepath.Glob(filepath.Join(r.Dir(), "staged", "bins-*.json"))
	if len(bins) != 4 {
		t.Fatalf("%d staged bins, want 4", len(bins))
	}
	b, err := os.ReadFile(bins[1])
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), `"sig":"`) + len(`"sig":"`)
	if i < len(`"sig":"`) {
		t.Fatalf("%s has no signature", bins[1])
	}
	if b[i] == '0' { // another hex digit
		b[i] = '1'
	} else {
		b[i] = '0'
	}
	if err := os.WriteFile(bins[1], b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = r.Publish(ctx, filepath.Join(t.TempDir(), "pub"))
	var se *repo.SignatureError
	if !errors.As(err, &se) || len(se.Problems) != 1 || se.Problems[0].Role+".json" != filepath.Base(bins[1]) {
		t.Fatalf("Publish = %v, want a signature problem of %s", err, filepath.Base(bins[1]))
	}
}

// agentOnlyRepo makes a repository with hashed bins of the given bits
// whose keys are all held by an agent (listening while the test runs),
// with no key file on disk.
func agentOnlyRepo(t *testing.T, bits int) (*repo.Repo, *agent.Server) {
	t.Helper()
	srv, err := agent.Listen(filepath.Join(t.TempDir(), "agent", "sock"), time.Hour)
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

	r := initRepo(t, repo.InitOptions{Bins: bits})
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
	return reopen(t, r), srv
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
