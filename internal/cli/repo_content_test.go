package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/server/servertest"
)

// TestRepoContentExternal runs a repository whose target content is hosted
// elsewhere through the CLI: created so with 'repo init --content
// external', its adds hash without copying and its publishes upload no
// content; a client pointed at the content's host gets and verifies the
// file. Then 'repo content' switches it to stored, and 'publish
// --no-content' leaves the content out once.
func TestRepoContentExternal(t *testing.T) {
	t.Setenv("RAMPART_PASSPHRASE", "pw")
	s := servertest.Start(t)
	t.Setenv("RAMPART_TOKEN", s.Admin)
	dir := t.TempDir()
	repoDir := filepath.Join(dir, "repo")
	const gun = "example.com/acme/images"
	out := mustRun(t, "repo", "init", repoDir, "--server", s.URL, "--gun", gun, "--content", "external")
	if !strings.Contains(out, "hosted elsewhere") {
		t.Errorf("repo init --content external says:\n%s", out)
	}
	if out := mustRun(t, "repo", "content", repoDir); !strings.Contains(out, "target content external") {
		t.Errorf("repo content says %q", out)
	}
	if out := mustRun(t, "repo", "status", repoDir); !strings.Contains(out, "Target content: external") {
		t.Errorf("repo status does not give the content mode:\n%s", out)
	}

	content := "image 1.0"
	sum := sha256.Sum256([]byte(content))
	consistent := "img/" + hex.EncodeToString(sum[:]) + ".image-1.0.tar"
	file := filepath.Join(dir, "image-1.0.tar")
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, "repo", "add", repoDir, file, "--as", "img/image-1.0.tar")
	if !strings.Contains(out, "content hosted elsewhere, as "+consistent) || !strings.Contains(out, "content not copied") {
		t.Errorf("repo add says:\n%s", out)
	}
	if entries, err := os.ReadDir(filepath.Join(repoDir, "targets")); err != nil || len(entries) != 0 {
		t.Errorf("repo add copied content into the repository: %v, %v", entries, err)
	}
	out = mustRun(t, "repo", "publish", repoDir)
	if !strings.Contains(out, "no target content: content hosted elsewhere") {
		t.Errorf("repo publish says:\n%s", out)
	}
	mustLackBlob(t, s, content)

	// A client of the metadata server alone finds no content there, and
	// is told where to point it.
	serverClient := filepath.Join(dir, "server-client")
	mustRun(t, "client", "init", "--url", s.URL+"/tuf/"+gun, "--root", filepath.Join(repoDir, "roots", "1.root.json"), "--dir", serverClient)
	mustFail(t, "has no content for it; if the repository's content is hosted elsewhere, point this client at it with 'rampart client init --dir "+serverClient+" --targets-url URL",
		"client", "get", "--dir", serverClient, "img/image-1.0.tar", "-o", filepath.Join(dir, "nothing"))

	// The content's host serves it under its consistent path.
	hosted := filepath.Join(dir, "cdn")
	if err := os.MkdirAll(filepath.Join(hosted, "img"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hosted, filepath.FromSlash(consistent)), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	cdn := httptest.NewServer(http.FileServer(http.Dir(hosted)))
	t.Cleanup(cdn.Close)
	clientDir := filepath.Join(dir, "client")
	mustRun(t, "client", "init", "--metadata-url", s.URL+"/tuf/"+gun+"/metadata", "--targets-url", cdn.URL,
		"--root", filepath.Join(repoDir, "roots", "1.root.json"), "--dir", clientDir)
	got := filepath.Join(dir, "got")
	mustRun(t, "client", "get", "--dir", clientDir, "img/image-1.0.tar", "-o", got)
	if b, err := os.ReadFile(got); err != nil || string(b) != content {
		t.Errorf("client get: %q, %v", b, err)
	}

	// Refusals, each a usage error that changes nothing.
	mustFail(t, `unknown content mode "cdn"`, "repo", "content", repoDir, "cdn")
	mustFail(t, `--content: unknown content mode "cdn"`, "repo", "init", filepath.Join(dir, "other"), "--content", "cdn")
	if _, err := os.Stat(filepath.Join(dir, "other")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused repo init made its directory: %v", err)
	}
	mustFail(t, "give one of them", "repo", "publish", repoDir, "--no-content", "--recheck-targets")
	if out := mustRun(t, "repo", "content", repoDir); !strings.Contains(out, "external") {
		t.Errorf("after refusals, repo content says %q", out)
	}

	// Switched to stored: a file is kept and uploaded, unless
	// --no-content leaves it out for one publish.
	if out := mustRun(t, "repo", "content", repoDir, "stored"); !strings.Contains(out, "now stored") {
		t.Errorf("repo content stored says %q", out)
	}
	if err := os.WriteFile(file, []byte("image 1.1"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "repo", "add", repoDir, file, "--as", "img/image-1.1.tar")
	if out := mustRun(t, "repo", "publish", repoDir, "--no-content"); !strings.Contains(out, "no target content: --no-content") {
		t.Errorf("repo publish --no-content says:\n%s", out)
	}
	mustLackBlob(t, s, "image 1.1")
	if out := mustRun(t, "repo", "publish", repoDir); !strings.Contains(out, "1 target uploaded") {
		t.Errorf("repo publish after --no-content says:\n%s", out)
	}

	// A clone is told the mode, which the server does not know.
	root := filepath.Join(repoDir, "roots", "1.root.json")
	mustFail(t, `--content: unknown content mode "cdn"`, "repo", "clone", filepath.Join(dir, "bad-clone"), "--server", s.URL, "--gun", gun, "--root", root, "--content", "cdn")
	clone := filepath.Join(dir, "clone")
	mustRun(t, "repo", "clone", clone, "--server", s.URL, "--gun", gun, "--root", root, "--content", "external")
	if out := mustRun(t, "repo", "content", clone); !strings.Contains(out, "target content external") {
		t.Errorf("repo content of the clone says %q", out)
	}

	help := mustRun(t, "repo", "content", "--help")
	for _, want := range []string{"stored", "external", "--targets-url", "repo.json"} {
		if !strings.Contains(help, want) {
			t.Errorf("repo content --help does not mention %s:\n%s", want, help)
		}
	}
}

// mustLackBlob fails the test when the server's blob store holds content.
func mustLackBlob(t *testing.T, s *servertest.Server, content string) {
	t.Helper()
	sum := sha256.Sum256([]byte(content))
	b, err := s.Blobs.Open(t.Context(), hex.EncodeToString(sum[:]))
	if err == nil {
		b.Close()
		t.Errorf("the server's blob store holds %q", content)
	} else if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("opening the blob of %q: %v", content, err)
	}
}
