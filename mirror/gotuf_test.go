package mirror_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	gotuf "github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/rampart-tuf/rampart/mirror"
)

// goTUFOrigin writes a repository made with go-tuf v2's metadata API (not
// Rampart's), with a delegated role and targets listed with SHA-256 and
// SHA-512, in the layout go-tuf's updater reads, and serves it.
func goTUFOrigin(t *testing.T) (root []byte, url string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signature.LoadED25519Signer(priv)
	if err != nil {
		t.Fatal(err)
	}
	key, err := gotuf.KeyFromPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(24 * time.Hour).UTC()
	dir := t.TempDir()
	write := func(name string, data []byte) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	target := func(md *gotuf.Metadata[gotuf.TargetsType], p string, content []byte) {
		tf, err := gotuf.TargetFile().FromBytes(p, content, "sha256", "sha512")
		if err != nil {
			t.Fatal(err)
		}
		md.Signed.Targets[p] = tf
		s256, s512 := sha256.Sum256(content), sha512.Sum512(content)
		dirName, base := filepath.Split(p)
		write("targets/"+dirName+hex.EncodeToString(s256[:])+"."+base, content)
		write("targets/"+dirName+hex.EncodeToString(s512[:])+"."+base, content)
	}

	rootMD := gotuf.Root(expires)
	for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
		if err := rootMD.Signed.AddKey(key, role); err != nil {
			t.Fatal(err)
		}
	}
	targets := gotuf.Targets(expires)
	target(targets, "files/a.txt", []byte("from go-tuf"))
	targets.Signed.Delegations = &gotuf.Delegations{Keys: map[string]*gotuf.Key{},
		Roles: []gotuf.DelegatedRole{{Name: "team", Threshold: 1, Paths: []string{"team/*"}}}}
	if err := targets.Signed.AddKey(key, "team"); err != nil {
		t.Fatal(err)
	}
	team := gotuf.Targets(expires)
	target(team, "team/b.txt", []byte("from the team"))
	snapshot := gotuf.Snapshot(expires)
	snapshot.Signed.Meta["team.json"] = gotuf.MetaFile(1)
	timestamp := gotuf.Timestamp(expires)

	sign := func(name string, md interface {
		Sign(signature.Signer) (*gotuf.Signature, error)
		ToBytes(bool) ([]byte, error)
	}) []byte {
		if _, err := md.Sign(signer); err != nil {
			t.Fatal(err)
		}
		data, err := md.ToBytes(true)
		if err != nil {
			t.Fatal(err)
		}
		write("metadata/"+name, data)
		return data
	}
	root = sign("1.root.json", rootMD)
	sign("1.targets.json", targets)
	sign("1.team.json", team)
	sign("1.snapshot.json", snapshot)
	sign("timestamp.json", timestamp)
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return root, srv.URL
}

// TestMirrorGoTUFRepository mirrors a repository that go-tuf made and
// reads the mirror with both clients.
func TestMirrorGoTUFRepository(t *testing.T) {
	root, url := goTUFOrigin(t)
	dir := t.TempDir()
	res, err := mirror.Run(t.Context(), mirror.Options{URL: url, Dir: dir, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if res.Targets != 2 {
		t.Fatalf("copied %d targets, want 2", res.Targets)
	}
	// Both names a client may fetch a target by.
	content := []byte("from go-tuf")
	s256, s512 := sha256.Sum256(content), sha512.Sum512(content)
	for _, h := range []string{hex.EncodeToString(s256[:]), hex.EncodeToString(s512[:])} {
		if data, err := os.ReadFile(filepath.Join(dir, "targets", "files", h+".a.txt")); err != nil || string(data) != "from go-tuf" {
			t.Fatalf("targets/files/%s.a.txt in the mirror: %q, %v", h[:8], data, err)
		}
	}
	base := serveDir(t, dir)
	for p, want := range map[string]string{"files/a.txt": "from go-tuf", "team/b.txt": "from the team"} {
		for i := range 4 { // go-tuf picks one of the hashes at random
			got, err := goTUFGet(t, base, root, p)
			if err != nil || string(got) != want {
				t.Fatalf("go-tuf, %s from the mirror (try %d): %q, %v", p, i, got, err)
			}
		}
		got, err := rampartGet(t, base, root, p)
		if err != nil || string(got) != want {
			t.Fatalf("rampart, %s from the mirror: %q, %v", p, got, err)
		}
	}
}
