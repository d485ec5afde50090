package remote

import (
	"context"
	"encoding/json"
	"fmt"

	"cuelabs.dev/go/oci/ociregistry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fetchSignature reads the signature document of one referrer; nil when
// the referrer is an artifact of another type.
func (r *Repository) fetchSignature(ctx context.Context, d ocispec.Descriptor) ([]byte, error) {
	if d.Size < 0 || d.Size > MaxManifest {
		return nil, fmt.Errorf("signature artifact %s: manifest of %d bytes, more than the limit of %d", d.Digest, d.Size, MaxManifest)
	}
	data, err := r.fetchManifest(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("fetching signature artifact %s: %w", d.Digest, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("signature artifact %s: %w", d.Digest, err)
	}
	if m.ArtifactType != ArtifactType {
		return nil, nil
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != ArtifactType {
		return nil, fmt.Errorf("signature artifact %s: want one layer of media type %s", d.Digest, ArtifactType)
	}
	l := m.Layers[0]
	if l.Size < 0 || l.Size > MaxSignature {
		return nil, fmt.Errorf("signature artifact %s: signature of %d bytes, more than the limit of %d", d.Digest, l.Size, MaxSignature)
	}
	sig, err := r.fetchBlob(ctx, l)
	if err != nil {
		return nil, fmt.Errorf("fetching signature %s: %w", l.Digest, err)
	}
	return sig, nil
}

// fetchManifest fetches the manifest d describes, checked against its size
// and digest.
func (r *Repository) fetchManifest(ctx context.Context, d ocispec.Descriptor) ([]byte, error) {
	return r.fetchContent(ctx, d, r.client.GetManifest)
}

// fetchBlob fetches the blob d describes, checked against its size and
// digest.
func (r *Repository) fetchBlob(ctx context.Context, d ocispec.Descriptor) ([]byte, error) {
	return r.fetchContent(ctx, d, r.client.GetBlob)
}

// fetchContent fetches what d describes with get (the registry client's
// GetManifest or GetBlob), checked against its size and digest.
func (r *Repository) fetchContent(ctx context.Context, d ocispec.Descriptor, get func(context.Context, string, ociregistry.Digest) (ociregistry.BlobReader, error)) ([]byte, error) {
	if err := d.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("digest %q: %w", d.Digest, err)
	}
	rd, err := get(ctx, r.ref.Repository, d.Digest)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return readContent(rd, d)
}
