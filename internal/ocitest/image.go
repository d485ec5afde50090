package ocitest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// PushImage pushes a small image (one file in one layer) to
// registry/repository:tag with oras-go and returns its manifest's
// descriptor and content.
func PushImage(t testing.TB, reg *Registry, repository, tag, file string) (ocispec.Descriptor, []byte) {
	t.Helper()
	ctx := context.Background()
	repo, err := remote.NewRepository(reg.Host + "/" + repository)
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	if reg.Username != "" {
		repo.Client = &auth.Client{Credential: auth.StaticCredential(reg.Host, auth.Credential{Username: reg.Username, Password: reg.Password})}
	}

	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(file))})
	tw.Write([]byte(file))
	tw.Close()
	layerDesc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageLayer, layer.Bytes())

	config, _ := json.Marshal(ocispec.Image{
		Platform: ocispec.Platform{Architecture: "amd64", OS: "linux"},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layerDesc.Digest}},
	})
	configDesc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageConfig, config)

	manifest, _ := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    configDesc,
		Layers:    []ocispec.Descriptor{layerDesc},
	})
	manifestDesc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, manifest)

	for _, b := range []struct {
		d    ocispec.Descriptor
		data []byte
	}{{layerDesc, layer.Bytes()}, {configDesc, config}} {
		if err := repo.Push(ctx, b.d, bytes.NewReader(b.data)); err != nil {
			t.Fatalf("pushing blob %s: %v", b.d.Digest, err)
		}
	}
	if err := repo.PushReference(ctx, manifestDesc, bytes.NewReader(manifest), tag); err != nil {
		t.Fatalf("pushing manifest %s:%s: %v", repository, tag, err)
	}
	return manifestDesc, manifest
}
