// Package remote reaches OCI registries for artifact signatures: it fetches
// the manifest a reference names, stores signature documents next to the
// artifact they sign, and finds them again. It is a thin layer over
// oras-go's distribution API client.
//
// A signature is stored as an OCI artifact whose subject is the signed
// manifest: an image manifest of artifact type [ArtifactType] with one layer,
// the signature document. oras-go pushes it through the OCI 1.1 referrers
// API, or, for registries without it (such as distribution 2.8), records it
// in the referrers tag schema: an image index tagged "sha256-<hex digest of
// the subject>" listing the artifacts that refer to the subject. Copying
// that tag along with the image makes the signatures travel with it.
package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// ArtifactType is the artifact type of a stored signature, and the media
// type of its one layer, the signature document.
const ArtifactType = "application/vnd.rampart.oci.signature.v1+json"

// Limits on what is read from a registry.
const (
	// MaxManifest is the largest manifest fetched.
	MaxManifest = 4 << 20
	// MaxSignature is the largest signature document fetched.
	MaxSignature = 4 << 20
	// MaxSignatures is the most signatures read for one artifact.
	MaxSignatures = 64
)

// Options say how to reach a registry.
type Options struct {
	// Username and Password are the credentials; when Username is empty the
	// Docker credentials file is used ($DOCKER_CONFIG/config.json or
	// ~/.docker/config.json), and without an entry for the registry the
	// access is anonymous.
	Username, Password string
	// Insecure reaches the registry over plain HTTP.
	Insecure bool
}

// Repository is one repository of a registry and the reference into it.
type Repository struct {
	ref  registry.Reference
	repo *remote.Repository
}

// Open parses a fully qualified reference (registry/repository:tag or
// @digest) and prepares to reach its repository.
func Open(reference string, o Options) (*Repository, error) {
	ref, err := registry.ParseReference(reference)
	if err != nil {
		return nil, fmt.Errorf("reference %q: %w", reference, err)
	}
	if ref.Reference == "" {
		return nil, fmt.Errorf("reference %q names no tag or digest", reference)
	}
	repo, err := remote.NewRepository(ref.Registry + "/" + ref.Repository)
	if err != nil {
		return nil, err
	}
	repo.PlainHTTP = o.Insecure
	cred, err := credentialFunc(ref.Registry, o)
	if err != nil {
		return nil, err
	}
	repo.Client = &auth.Client{
		Client:     &http.Client{Transport: retry.NewTransport(http.DefaultTransport)},
		Cache:      auth.NewCache(),
		Credential: cred,
	}
	repo.MaxMetadataBytes = MaxManifest
	return &Repository{ref: ref, repo: repo}, nil
}

func credentialFunc(host string, o Options) (auth.CredentialFunc, error) {
	if o.Username != "" {
		return auth.StaticCredential(host, auth.Credential{Username: o.Username, Password: o.Password}), nil
	}
	if o.Password != "" {
		return nil, errors.New("a password was given without a user name")
	}
	store, err := credentials.NewStoreFromDocker(credentials.StoreOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading the Docker credentials file: %w", err)
	}
	return credentials.Credential(store), nil
}

// String returns the reference.
func (r *Repository) String() string { return r.ref.String() }

// Manifest fetches the manifest the reference names, checked against its
// digest, and returns its descriptor (media type as the registry gives it)
// and content.
func (r *Repository) Manifest(ctx context.Context) (ocispec.Descriptor, []byte, error) {
	desc, rc, err := r.repo.FetchReference(ctx, r.ref.Reference)
	if err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("fetching the manifest of %s: %w", r, err)
	}
	defer rc.Close()
	if desc.Size < 0 || desc.Size > MaxManifest {
		return ocispec.Descriptor{}, nil, fmt.Errorf("manifest of %s: %d bytes, more than the limit of %d", r, desc.Size, MaxManifest)
	}
	data, err := content.ReadAll(rc, desc)
	if err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("fetching the manifest of %s: %w", r, err)
	}
	if err := desc.Digest.Validate(); err != nil || desc.Digest.Algorithm().String() != "sha256" {
		return ocispec.Descriptor{}, nil, fmt.Errorf("manifest of %s: registry gave digest %q, want sha256", r, desc.Digest)
	}
	if desc.Digest.Algorithm().FromBytes(data) != desc.Digest {
		return ocispec.Descriptor{}, nil, fmt.Errorf("manifest of %s does not match its digest %s", r, desc.Digest)
	}
	return desc, data, nil
}

// PushSignature stores sig as an artifact that refers to subject.
func (r *Repository) PushSignature(ctx context.Context, subject ocispec.Descriptor, sig []byte) (ocispec.Descriptor, error) {
	layer := content.NewDescriptorFromBytes(ArtifactType, sig)
	if err := r.repo.Push(ctx, layer, bytes.NewReader(sig)); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("uploading the signature to %s: %w", r, err)
	}
	// An artifact without a config of its own has the empty JSON object
	// as config (image spec 1.1, "Guidelines for Artifact Usage").
	empty := ocispec.DescriptorEmptyJSON
	if err := r.repo.Push(ctx, empty, bytes.NewReader(empty.Data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return ocispec.Descriptor{}, fmt.Errorf("uploading the empty config to %s: %w", r, err)
	}
	created := map[string]string{ocispec.AnnotationCreated: time.Now().UTC().Format(time.RFC3339)}
	m, err := json.Marshal(ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactType,
		Config:       empty,
		Layers:       []ocispec.Descriptor{layer},
		Subject:      &ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		Annotations:  created,
	})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, m)
	desc.ArtifactType, desc.Annotations = ArtifactType, created
	// The repository stores a manifest with a subject through the
	// referrers API, or records it in the referrers tag schema.
	if err := r.repo.Push(ctx, desc, bytes.NewReader(m)); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("storing the signature of %s: %w", r, err)
	}
	return desc, nil
}

// Signatures returns the signature documents stored for subject, in the
// order the registry lists them, at most MaxSignatures.
//
// Referrers are not filtered by the artifact type listed in the referrers
// index: tools that copy an index without knowing that field (skopeo 1.9)
// drop it. Each referrer's own manifest says whether it is a signature.
func (r *Repository) Signatures(ctx context.Context, subject ocispec.Descriptor) ([][]byte, error) {
	var found []ocispec.Descriptor
	err := r.repo.Referrers(ctx, subject, "", func(refs []ocispec.Descriptor) error {
		for _, d := range refs {
			if d.ArtifactType == "" || d.ArtifactType == ArtifactType {
				found = append(found, d)
			}
		}
		if len(found) > MaxSignatures {
			return fmt.Errorf("more than %d signatures stored for %s", MaxSignatures, subject.Digest)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the signatures of %s: %w", r, err)
	}
	var sigs [][]byte
	for _, d := range found {
		sig, err := r.fetchSignature(ctx, d)
		if err != nil {
			return nil, err
		}
		if sig != nil {
			sigs = append(sigs, sig)
		}
	}
	return sigs, nil
}

// fetchSignature reads the signature document of one referrer; nil when
// the referrer is an artifact of another type.
func (r *Repository) fetchSignature(ctx context.Context, d ocispec.Descriptor) ([]byte, error) {
	if d.Size < 0 || d.Size > MaxManifest {
		return nil, fmt.Errorf("signature artifact %s: manifest of %d bytes, more than the limit of %d", d.Digest, d.Size, MaxManifest)
	}
	data, err := content.FetchAll(ctx, r.repo, d)
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
	sig, err := content.FetchAll(ctx, r.repo, l)
	if err != nil {
		return nil, fmt.Errorf("fetching signature %s: %w", l.Digest, err)
	}
	return sig, nil
}
