package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/ocitest"
	"github.com/rampart-tuf/rampart/keystore"
	"github.com/rampart-tuf/rampart/oci/signature"
	"github.com/rampart-tuf/rampart/server/servertest"
)

// publishedRepo is a TUF repository that trusts the signer's certificate
// for registry.acme-rockets.io/*, holds the signature as that role's
// metadata, and is published and served on loopback.
type publishedRepo struct {
	dir, out string
	srv      *httptest.Server
}

func newSignatureRepo(t *testing.T, name, leafCert, sig string) *publishedRepo {
	t.Helper()
	base := t.TempDir()
	r := &publishedRepo{dir: filepath.Join(base, name), out: filepath.Join(base, name+"-public")}
	mustRun(t, "repo", "init", r.dir)
	mustRun(t, "repo", "delegate", r.dir, "acme", "--cert", leafCert, "--paths", "registry.acme-rockets.io/*")
	out := mustRun(t, "repo", "import-signature", r.dir, "acme", sig)
	if !strings.Contains(out, "acme is now version 1") {
		t.Fatalf("import-signature printed %q", out)
	}
	mustRun(t, "repo", "publish", r.dir, "--out", r.out)
	r.srv = httptest.NewServer(http.FileServer(http.Dir(r.out)))
	t.Cleanup(r.srv.Close)
	return r
}

// resolve looks ref up through the repository as a TUF client, from a root
// obtained out of band.
func (r *publishedRepo) resolve(t *testing.T, ref string) (client.TargetInfo, string) {
	t.Helper()
	dir := t.TempDir()
	root, err := os.ReadFile(filepath.Join(r.out, "metadata", "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Init(dir, root); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{MetadataURL: r.srv.URL + "/metadata", TargetsURL: r.srv.URL + "/targets", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Target(context.Background(), ref)
	if err != nil {
		t.Fatalf("resolving %s through %s: %v", ref, r.dir, err)
	}
	return info, dir
}

// TestOCISignatureAirGap: one signature, made once offline, is registered
// in two independent repositories (a public one, and one inside an
// isolated network with its own root); the artifact verifies through either
// without the other being reachable, with update protection from the
// repository and forgery protection from the developer's own signature.
func TestOCISignatureAirGap(t *testing.T) {
	t.Setenv(keystore.EnvPassphrase, "correct horse")
	f := newOCIFixture(t, "registry.acme-rockets.io")
	leaf := filepath.Join(f.dir, "leaf.pem")
	chain, err := readCerts(f.chain)
	if err != nil {
		t.Fatal(err)
	}
	ocitest.WriteCerts(t, leaf, chain[0])
	sig := filepath.Join(f.dir, "sig.json")
	mustRun(t, "oci", "sign", "--key", f.key, "--cert", f.chain, "-r", ociRef, "-o", sig, "file:"+f.manifest)
	sigBytes := mustRead(t, sig)

	public := newSignatureRepo(t, "public", leaf, sig)
	isolated := newSignatureRepo(t, "isolated", leaf, sig)
	if string(mustRead(t, filepath.Join(public.out, "metadata", "1.root.json"))) == string(mustRead(t, filepath.Join(isolated.out, "metadata", "1.root.json"))) {
		t.Fatal("the two repositories share a root")
	}
	// The isolated network cannot reach the public repository.
	public.srv.Close()

	info, clientDir := isolated.resolve(t, ociRef)
	if info.Role != "acme" {
		t.Fatalf("resolved through role %q, want acme", info.Role)
	}
	if err := info.Verify(ociManifest); err != nil {
		t.Fatalf("manifest against the target the repository resolved: %v", err)
	}
	// The role's metadata the client trusted is the developer's signature,
	// byte for byte, and it verifies on its own against the PKI.
	roleFile := mustRead(t, filepath.Join(clientDir, "acme.json"))
	if strings.TrimSpace(string(roleFile)) != strings.TrimSpace(string(sigBytes)) {
		t.Fatal("the repository re-signed or changed the signature")
	}
	doc, err := signature.Parse(roleFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := doc.Verify(signature.Policy{Roots: f.ca.Pool()}); err != nil {
		t.Fatal(err)
	}

	// And the other way round.
	public.srv = httptest.NewServer(http.FileServer(http.Dir(public.out)))
	defer public.srv.Close()
	isolated.srv.Close()
	if info, _ := public.resolve(t, ociRef); info.Verify(ociManifest) != nil {
		t.Fatal("manifest does not match the target the public repository resolved")
	}
}

func TestRepoImportSignatureRefuses(t *testing.T) {
	t.Setenv(keystore.EnvPassphrase, "correct horse")
	f := newOCIFixture(t, "registry.acme-rockets.io", "registry.example.com")
	chain, err := readCerts(f.chain)
	if err != nil {
		t.Fatal(err)
	}
	leaf := filepath.Join(f.dir, "leaf.pem")
	ocitest.WriteCerts(t, leaf, chain[0])
	dir := filepath.Join(t.TempDir(), "repo")
	mustRun(t, "repo", "init", dir)
	mustRun(t, "repo", "delegate", dir, "acme", "--cert", leaf, "--paths", "registry.acme-rockets.io/*")

	sign := func(name string, args ...string) string {
		p := filepath.Join(f.dir, name)
		mustRun(t, append([]string{"oci", "sign", "-o", p, "file:" + f.manifest}, args...)...)
		return p
	}
	other := newOCIFixture(t, "registry.acme-rockets.io")
	byOther := sign("other.json", "--key", other.key, "--cert", other.chain, "-r", ociRef)
	mustFail(t, "not signed by the keys targets delegates it to", "repo", "import-signature", dir, "acme", byOther)
	outside := sign("outside.json", "--key", f.key, "--cert", f.chain, "-r", "registry.example.com/app:1")
	mustFail(t, `lists "registry.example.com/app:1", which targets does not trust acme for`, "repo", "import-signature", dir, "acme", outside)
	mustFail(t, "not delegated", "repo", "import-signature", dir, "nobody", byOther)

	v1 := sign("v1.json", "--key", f.key, "--cert", f.chain, "-r", ociRef)
	mustRun(t, "repo", "import-signature", dir, "acme", v1)
	mustFail(t, "not newer than the role's version 1", "repo", "import-signature", dir, "acme", v1)
	v2 := filepath.Join(f.dir, "v2.json")
	mustRun(t, "oci", "sign", "--key", f.key, "--cert", f.chain, "-r", "registry.acme-rockets.io/hello-world:latest", "--base", v1, "-o", v2, "file:"+f.manifest)
	if out := mustRun(t, "repo", "import-signature", dir, "acme", v2); !strings.Contains(out, "version 2") {
		t.Fatalf("import of version 2 printed %q", out)
	}
	mustFail(t, "not newer", "repo", "import-signature", dir, "acme", v1)
	mustRun(t, "repo", "publish", dir, "--out", filepath.Join(t.TempDir(), "public"))
}

// TestRepoImportSignatureOnServer registers a signature in a repository kept
// on `rampart serve`, and a client resolves the reference from the server.
func TestRepoImportSignatureOnServer(t *testing.T) {
	t.Setenv(keystore.EnvPassphrase, "correct horse")
	srv := servertest.Start(t)
	t.Setenv("RAMPART_TOKEN", srv.Token(t, "push", "example.com/acme"))
	f := newOCIFixture(t, "registry.acme-rockets.io")
	chain, err := readCerts(f.chain)
	if err != nil {
		t.Fatal(err)
	}
	leaf := filepath.Join(f.dir, "leaf.pem")
	ocitest.WriteCerts(t, leaf, chain[0])
	sig := filepath.Join(f.dir, "sig.json")
	mustRun(t, "oci", "sign", "--key", f.key, "--cert", f.chain, "-r", ociRef, "-o", sig, "file:"+f.manifest)

	const gun = "example.com/acme/images"
	dir := filepath.Join(t.TempDir(), "images")
	mustRun(t, "repo", "init", dir, "--server", srv.URL, "--gun", gun)
	mustRun(t, "repo", "delegate", dir, "acme", "--cert", leaf, "--paths", "registry.acme-rockets.io/*")
	mustRun(t, "repo", "import-signature", dir, "acme", sig)
	mustRun(t, "repo", "publish", dir)

	clientDir := t.TempDir()
	if err := client.Init(clientDir, mustRead(t, filepath.Join(dir, "roots", "1.root.json"))); err != nil {
		t.Fatal(err)
	}
	base := srv.URL + "/tuf/" + gun
	c, err := client.New(client.Config{MetadataURL: base + "/metadata", TargetsURL: base + "/targets", Dir: clientDir})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Target(context.Background(), ociRef)
	if err != nil {
		t.Fatal(err)
	}
	if info.Role != "acme" || info.Verify(ociManifest) != nil {
		t.Fatalf("resolved %+v", info)
	}
	if strings.TrimSpace(string(mustRead(t, filepath.Join(clientDir, "acme.json")))) != strings.TrimSpace(string(mustRead(t, sig))) {
		t.Fatal("the server changed the signature")
	}
}
