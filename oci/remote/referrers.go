package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"cuelabs.dev/go/oci/ociregistry"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// referrersTag is the tag of the image index that lists the artifacts
// referring to subject, in the referrers tag schema of the distribution
// spec 1.1: "sha256-<hex digest>".
func referrersTag(subject ocispec.Descriptor) string {
	return string(subject.Digest.Algorithm()) + "-" + subject.Digest.Encoded()
}

// addReferrer records desc, an artifact whose subject is subject, in the
// referrers tag schema, for a registry without the referrers API: the
// index under the subject's referrers tag is replaced by one that also
// lists desc, and the index it replaces is deleted when the registry
// allows it (an index left behind is harmless: no tag names it).
func (r *Repository) addReferrer(ctx context.Context, subject, desc ocispec.Descriptor) error {
	tag := referrersTag(subject)
	index, old, err := r.referrersIndex(ctx, tag)
	if err != nil {
		return fmt.Errorf("reading the referrers index %s: %w", tag, err)
	}
	if slices.ContainsFunc(index.Manifests, func(d ocispec.Descriptor) bool { return d.Digest == desc.Digest }) {
		return nil
	}
	index.Manifests = append(index.Manifests, desc)
	data, err := json.Marshal(index)
	if err != nil {
		return err
	}
	pushed, err := r.client.PushManifest(ctx, r.ref.Repository, tag, data, ocispec.MediaTypeImageIndex)
	if err != nil {
		return fmt.Errorf("updating the referrers index %s: %w", tag, err)
	}
	if old != "" && old != pushed.Digest {
		_ = r.client.DeleteManifest(ctx, r.ref.Repository, old)
	}
	return nil
}

// referrersIndex returns the index tagged tag and its digest, or a new empty
// index and "" when there is none.
func (r *Repository) referrersIndex(ctx context.Context, tag string) (ocispec.Index, ociregistry.Digest, error) {
	index := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	rd, err := r.client.GetTag(ctx, r.ref.Repository, tag)
	if errors.Is(err, ociregistry.ErrManifestUnknown) || errors.Is(err, ociregistry.ErrNameUnknown) {
		return index, "", nil
	}
	if err != nil {
		return ocispec.Index{}, "", err
	}
	defer rd.Close()
	d := rd.Descriptor()
	if d.Size < 0 || d.Size > MaxManifest {
		return ocispec.Index{}, "", fmt.Errorf("%d bytes, more than the limit of %d", d.Size, MaxManifest)
	}
	data, err := readContent(rd, d)
	if err != nil {
		return ocispec.Index{}, "", err
	}
	if err := json.Unmarshal(data, &index); err != nil {
		return ocispec.Index{}, "", err
	}
	if index.MediaType != ocispec.MediaTypeImageIndex {
		return ocispec.Index{}, "", fmt.Errorf("media type %q, want %s", index.MediaType, ocispec.MediaTypeImageIndex)
	}
	return index, d.Digest, nil
}
