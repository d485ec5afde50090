package remote_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	orasremote "oras.land/oras-go/v2/registry/remote"

	"github.com/rampart-tuf/rampart/internal/ocitest"
	"github.com/rampart-tuf/rampart/oci/remote"
)

// TestSignatures pushes signatures and an artifact of another type that
// refers to the same image, to a real distribution 2.8 registry (referrers
// tag schema), and reads back only the signatures.
func TestSignatures(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a registry")
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := ocitest.StartRegistry(t, "", "")
	checkSignatures(t, reg)

	ctx := context.Background()
	if _, err := remote.Open(reg.Host+"/app", remote.Options{Insecure: true}); err == nil {
		t.Fatal("a reference without tag or digest was accepted")
	}
	if _, err := remote.Open(reg.Host+"/app:v1", remote.Options{Password: "x"}); err == nil {
		t.Fatal("a password without user name was accepted")
	}
	missing, _ := remote.Open(reg.Host+"/app:v2", remote.Options{Insecure: true})
	if _, _, err := missing.Manifest(ctx); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing tag: %v", err)
	}
}

// TestSignaturesReferrersAPI does the same against a registry with the OCI
// 1.1 referrers API, and checks from the registry's request log that the
// signatures were stored and found through that API: no referrers tag was
// written or read.
func TestSignaturesReferrersAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a registry")
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := ocitest.StartReferrersRegistry(t)
	subject := checkSignatures(t, &reg.Registry)

	tag := "sha256-" + subject.Digest.Encoded()
	referrers := "GET /v2/app/referrers/" + subject.Digest.String()
	var listed bool
	for _, req := range reg.Requests() {
		if strings.Contains(req, tag) {
			t.Errorf("the referrers tag schema was used: %s", req)
		}
		listed = listed || req == referrers
	}
	if !listed {
		t.Errorf("the signatures were not listed with %s", referrers)
	}
}

// checkSignatures pushes an image, two signatures and an artifact of
// another type that refers to the image, and reads back only the
// signatures. It returns the image's descriptor.
func checkSignatures(t *testing.T, reg *ocitest.Registry) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	desc, manifest := ocitest.PushImage(t, reg, "app", "v1", "hello\n")

	r, err := remote.Open(reg.Host+"/app:v1", remote.Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	got, data, err := r.Manifest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != desc.Digest || got.MediaType != ocispec.MediaTypeImageManifest || !bytes.Equal(data, manifest) {
		t.Fatalf("manifest %v, want %v", got, desc)
	}
	if sigs, err := r.Signatures(ctx, got); err != nil || len(sigs) != 0 {
		t.Fatalf("signatures before any push: %d, %v", len(sigs), err)
	}
	for _, s := range []string{`{"first":1}`, `{"second":2}`} {
		if _, err := r.PushSignature(ctx, got, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	pushOther(t, reg.Host, got)

	sigs, err := r.Signatures(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	joined := string(bytes.Join(sigs, []byte(" ")))
	if len(sigs) != 2 || !strings.Contains(joined, "first") || !strings.Contains(joined, "second") {
		t.Fatalf("signatures %q", joined)
	}
	return got
}

// pushOther pushes an artifact of another type whose subject is subject.
func pushOther(t *testing.T, host string, subject ocispec.Descriptor) {
	t.Helper()
	repo, err := orasremote.NewRepository(host + "/app")
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	blob := []byte("sbom")
	layer := content.NewDescriptorFromBytes("application/vnd.example.sbom", blob)
	if err := repo.Push(context.Background(), layer, bytes.NewReader(blob)); err != nil {
		t.Fatal(err)
	}
	if _, err := oras.PackManifest(context.Background(), repo, oras.PackManifestVersion1_1, "application/vnd.example.sbom",
		oras.PackManifestOptions{Subject: &subject, Layers: []ocispec.Descriptor{layer}}); err != nil {
		t.Fatal(err)
	}
}
