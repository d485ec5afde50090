package cli

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/internal/ocitest"
	"github.com/rampart-tuf/rampart/oci/signature"
)

// TestOCIRegistry signs an image in a real registry (distribution 2.8,
// which has no referrers API: the referrers tag schema is used), pushes the
// signature next to it, finds it again, copies image and signatures to a
// second registry with skopeo and verifies there.
func TestOCIRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two registries")
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials unless the test writes them
	a := ocitest.StartRegistry(t, "alice", "wonderland")
	b := ocitest.StartRegistry(t, "", "")
	desc, manifest := ocitest.PushImage(t, a, "hello-world", "v1", "hello\n")

	f := newOCIFixture(t, "127.0.0.1", "registry.acme-rockets.io")
	subject := "docker://" + a.Host + "/hello-world:v1"
	creds := []string{"--insecure", "-u", "alice", "-p", "wonderland"}
	sig := filepath.Join(f.dir, "sig.json")
	mustRun(t, append([]string{"oci", "sign", "--key", f.key, "--cert", f.chain,
		"-r", a.Host + "/hello-world:v1", "-r", "registry.acme-rockets.io/hello-world:v1",
		"--push", "-o", sig, subject}, creds...)...)

	// The media type is the registry's, and the digest the manifest's.
	doc, err := signature.Parse(mustRead(t, sig))
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := doc.Target("registry.acme-rockets.io/hello-world:v1")
	if err != nil {
		t.Fatal(err)
	}
	if tgt.Manifest.MediaType != desc.MediaType || tgt.Manifest.Digest() != string(desc.Digest) || tgt.Manifest.Length != int64(len(manifest)) {
		t.Fatalf("target %+v, manifest %v", tgt.Manifest, desc)
	}

	want := string(desc.Digest) + "\n"
	// With the signature file, and by discovery.
	if out := mustRun(t, append([]string{"oci", "verify", "--signature", sig, "--ca-cert", f.root, subject}, creds...)...); out != want {
		t.Fatalf("verify printed %q, want %q", out, want)
	}
	if out := mustRun(t, append([]string{"oci", "verify", "--ca-cert", f.root, "--reference", "registry.acme-rockets.io/hello-world:v1", a.Host + "/hello-world@" + string(desc.Digest)}, creds...)...); out != want {
		t.Fatalf("verify by discovery printed %q, want %q", out, want)
	}
	// Anonymous access is refused by this registry; the Docker credentials
	// file is used when no --username is given.
	mustFail(t, "401 Unauthorized", "oci", "verify", "--ca-cert", f.root, "--insecure", subject)
	dockerConfig := `{"auths":{"` + a.Host + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("alice:wonderland")) + `"}}}`
	if err := os.WriteFile(filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"), []byte(dockerConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, "oci", "verify", "--ca-cert", f.root, "--insecure", subject); out != want {
		t.Fatalf("verify with the Docker credentials file printed %q", out)
	}
	// Without --insecure the registry is reached over HTTPS, which it does
	// not speak.
	mustFail(t, "https", "oci", "verify", "--ca-cert", f.root, subject)

	// A signature by an untrusted signer is stored too; discovery tries
	// every signature and still finds the good one, and fails when none is
	// trusted.
	other := newOCIFixture(t, "127.0.0.1")
	mustRun(t, append([]string{"oci", "sign", "--key", other.key, "--cert", other.chain, "-r", a.Host + "/hello-world:v1", "--push", subject}, creds...)...)
	mustRun(t, append([]string{"oci", "verify", "--ca-cert", f.root, subject}, creds...)...)
	mustFail(t, "none of the 2 signatures", append([]string{"oci", "verify", "--ca-cert", ocitest.NewCAFile(t), subject}, creds...)...)

	// Copy the image (its digest unchanged: the signature binds it), then
	// its referrers tag, to the second registry. skopeo rewrites the
	// referrers index (it does not know the index's artifactType fields)
	// but copies the signature artifacts unchanged.
	tag := "sha256-" + strings.TrimPrefix(string(desc.Digest), "sha256:")
	skopeo(t, "copy", "--preserve-digests", "--src-creds", "alice:wonderland", "--src-tls-verify=false", "--dest-tls-verify=false",
		"docker://"+a.Host+"/hello-world:v1", "docker://"+b.Host+"/mirror/hello-world:v1")
	mustFail(t, "none is stored in the registry", "oci", "verify", "--ca-cert", f.root, "--insecure", "docker://"+b.Host+"/mirror/hello-world:v1")
	skopeo(t, "copy", "--all", "--src-creds", "alice:wonderland", "--src-tls-verify=false", "--dest-tls-verify=false",
		"docker://"+a.Host+"/hello-world:"+tag, "docker://"+b.Host+"/mirror/hello-world:"+tag)
	if out := mustRun(t, "oci", "verify", "--ca-cert", f.root, "--insecure", "--reference", a.Host+"/hello-world:v1", "docker://"+b.Host+"/mirror/hello-world:v1"); out != want {
		t.Fatalf("verify in the second registry printed %q, want %q", out, want)
	}
}

func skopeo(t *testing.T, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("skopeo")
	if err != nil {
		t.Fatal("this test needs skopeo: apt-get install skopeo")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestOCIReferrersAPI signs with --push against a registry with the OCI 1.1
// referrers API and verifies by discovery; the registry's request log shows
// that the signature was stored and found through the referrers API, never
// through the referrers tag schema.
func TestOCIReferrersAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a registry")
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := ocitest.StartReferrersRegistry(t)
	desc, _ := ocitest.PushImage(t, &reg.Registry, "hello-world", "v1", "hello\n")
	reg.Requests()

	f := newOCIFixture(t, "127.0.0.1")
	subject := reg.Host + "/hello-world:v1"
	mustRun(t, "oci", "sign", "--key", f.key, "--cert", f.chain, "-r", subject, "--push", "--insecure", subject)
	if out := mustRun(t, "oci", "verify", "--ca-cert", f.root, "--insecure", subject); out != string(desc.Digest)+"\n" {
		t.Fatalf("verify by discovery printed %q", out)
	}
	mustFail(t, "unknown authority", "oci", "verify", "--ca-cert", ocitest.NewCAFile(t), "--insecure", subject)

	tag := "sha256-" + desc.Digest.Encoded()
	var pushed, listed bool
	for _, req := range reg.Requests() {
		if strings.Contains(req, tag) {
			t.Errorf("the referrers tag schema was used: %s", req)
		}
		pushed = pushed || strings.HasPrefix(req, "PUT /v2/hello-world/manifests/sha256:")
		listed = listed || req == "GET /v2/hello-world/referrers/"+desc.Digest.String()
	}
	if !pushed || !listed {
		t.Errorf("signature manifest pushed by digest: %v; listed through the referrers API: %v", pushed, listed)
	}
}
