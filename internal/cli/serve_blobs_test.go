package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/server/apiclient"
	"github.com/rampart-tuf/rampart/server/store/postgres"
	"github.com/rampart-tuf/rampart/server/store/postgres/pgtest"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// TestServeBlobsUsage checks the values of --blobs that rampart serve
// refuses before it touches anything.
func TestServeBlobsUsage(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--blobs", "database"}, "--blobs database keeps target content in the PostgreSQL store: it needs --store"},
		{[]string{"--blobs", "s3"}, `--blobs must be disk or database, not "s3"`},
		{[]string{"--blobs", "s3", "--store", "postgres://nowhere.invalid/x"}, `--blobs must be disk or database, not "s3"`},
	} {
		args := append([]string{"serve", "--data", data, "--addr", "127.0.0.1:0"}, tc.args...)
		code, _, errOut := runCLI(t, args...)
		if code != ExitFailure || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "--help") {
			t.Errorf("%q: exit %d, stderr %q; want a usage error saying %q", args, code, errOut, tc.want)
		}
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("a refused serve made the data directory: %v", err)
	}
}

// TestServeReplicasShareTargets runs two `rampart serve` on one PostgreSQL
// database, each with a data directory of its own: content uploaded to
// one is served by the other, since --blobs defaults to database with
// --store. Without --store, target content stays in DATA/blobs.
func TestServeReplicasShareTargets(t *testing.T) {
	pg, err := pgtest.Start()
	if err != nil {
		t.Fatalf("PostgreSQL for the test: %v", err)
	}
	t.Cleanup(pg.Stop)
	url := pg.NewDatabase(t)
	dir := t.TempDir()
	// A data directory with content from an earlier --blobs disk: one
	// blob as it should be, one damaged (its content is not its name).
	oldSum := sha256.Sum256([]byte("old"))
	oldDigest := hex.EncodeToString(oldSum[:])
	for sum, content := range map[string]string{oldDigest: "old", strings.Repeat("ab", 32): "damaged"} {
		d := filepath.Join(dir, "b", "blobs", "sha256", sum[:2])
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, sum), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	start := func(name string, args ...string) (base string, log *syncBuffer) {
		addr := freeAddr(t)
		log = startCommand(t, append([]string{"serve", "--addr", addr, "--data", filepath.Join(dir, name)}, args...)...)
		base = "http://" + addr
		waitFor(t, http.DefaultClient, base+"/healthz", log).Body.Close()
		return base, log
	}
	a, logA := start("a", "--store", url)
	b, logB := start("b", "--store", url)
	local, logLocal := start("local")
	for _, l := range []struct {
		log  *syncBuffer
		want string
	}{{logA, "blobs=database"}, {logB, "blobs=database"}, {logLocal, "blobs=disk"}, {logB, "copied=1"}, {logB, "damaged=1"}, {logB, strings.Repeat("ab", 32)}} {
		if !strings.Contains(l.log.String(), l.want) {
			t.Errorf("the server's log does not say %q:\n%s", l.want, l.log.String())
		}
	}
	if strings.Contains(logA.String(), "copied") {
		t.Errorf("a server without content in DATA/blobs copies some:\n%s", logA.String())
	}
	// The content replica b had on disk is in the database now, for a.
	st, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if blb, err := st.Blobs().Open(context.Background(), oldDigest); err != nil {
		t.Errorf("the content from DATA/blobs is not in the database: %v", err)
	} else {
		got, _ := io.ReadAll(blb)
		blb.Close()
		if string(got) != "old" {
			t.Errorf("copied content %q, want %q", got, "old")
		}
	}
	if _, err := st.Blobs().Open(context.Background(), strings.Repeat("ab", 32)); err == nil {
		t.Error("the damaged blob was copied into the database")
	}
	if _, err := os.Stat(filepath.Join(dir, "b", "blobs", "sha256", oldDigest[:2], oldDigest)); err != nil {
		t.Errorf("the copied file was removed from DATA/blobs: %v", err)
	}

	const gun = "example.com/acme/app"
	content := strings.Repeat("content uploaded to replica a\n", 50000) // 1.5 MB: two chunks
	sum := sha256.Sum256([]byte(content))
	digest := hex.EncodeToString(sum[:])
	upload := func(base, dataDir string) {
		t.Helper()
		tok, err := os.ReadFile(filepath.Join(dir, dataDir, "admin.token"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := apiclient.New(base, strings.TrimSpace(string(tok)), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateRepository(context.Background(), gun); err != nil {
			t.Fatal(err)
		}
		defer publishListing(t, c, gun, "dist/app.txt", []byte(content)) // served once listed
		req, _ := http.NewRequest("PUT", base+"/api/v1/repositories/"+gun+"/targets/dist/app.txt", strings.NewReader(content))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		req.Header.Set("X-Rampart-Sha256", digest)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("upload to %s: %s %s", base, resp.Status, body)
		}
	}
	get := func(base, rng string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/tuf/"+gun+"/targets/dist/"+digest+".app.txt", nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	upload(a, "a")
	if code, body := get(b, ""); code != http.StatusOK || body != content {
		t.Fatalf("GET on replica b of content uploaded to a: %d, %d bytes", code, len(body))
	}
	first, last := 1<<20-5, 1<<20+4
	if code, body := get(b, fmt.Sprintf("bytes=%d-%d", first, last)); code != http.StatusPartialContent || body != content[first:last+1] {
		t.Fatalf("ranged GET on replica b: %d %q, want %q", code, body, content[first:last+1])
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "blobs")); !os.IsNotExist(err) {
		t.Errorf("with --blobs database, replica a made DATA/blobs: %v", err)
	}

	upload(local, "local")
	if code, body := get(local, ""); code != http.StatusOK || body != content {
		t.Fatalf("GET on the server without --store: %d, %d bytes", code, len(body))
	}
	if _, err := os.Stat(filepath.Join(dir, "local", "blobs", "sha256", digest[:2], digest)); err != nil {
		t.Errorf("without --store, the content is not in DATA/blobs: %v", err)
	}
}

// publishListing publishes a repository whose targets list path with
// content, so that the server serves the content.
func publishListing(t *testing.T, c *apiclient.Client, gun, path string, content []byte) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Metadata(ctx, gun, "timestamp.json", 1<<20); err == nil {
		return // published already (a replica sharing the database)
	}
	rootKey, targetsKey := repotest.NewSigner(t), repotest.NewSigner(t)
	expires := time.Now().Add(time.Hour)
	root := metadata.NewRoot(expires)
	root.AddKey("root", repotest.KeyOf(rootKey))
	root.AddKey("targets", repotest.KeyOf(targetsKey))
	for _, role := range []string{"timestamp", "snapshot"} {
		k, err := c.OnlineKey(ctx, gun, role)
		if err != nil {
			t.Fatal(err)
		}
		root.AddKey(role, k)
	}
	tg := metadata.NewTargets(expires)
	tg.Targets[path] = metadata.NewTargetFile(content, false)
	enc := func(md interface{ Encode() ([]byte, error) }) []byte {
		b, err := md.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rmd, tmd := metadata.New(root), metadata.New(tg)
	if _, err := rmd.Sign(ctx, rootKey); err != nil {
		t.Fatal(err)
	}
	if _, err := tmd.Sign(ctx, targetsKey); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, gun, map[string][]byte{"root": enc(rmd), "targets": enc(tmd)}, ""); err != nil {
		t.Fatal(err)
	}
}
