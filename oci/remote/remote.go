// Package remote reaches OCI registries for artifact signatures: it fetches
// the manifest a reference names, stores signature documents next to the
// artifact they sign, and finds them again. It is a thin layer over CUE's
// OCI distribution client (cuelabs.dev/go/oci/ociregistry), whose reference
// parser compiles its patterns only when first used, so that the commands
// that never reach a registry do not pay for them at start.
//
// A signature is stored as an OCI artifact whose subject is the signed
// manifest: an image manifest of artifact type [ArtifactType] with one layer,
// the signature document. It is pushed through the OCI 1.1 referrers API, or,
// for registries without it (such as distribution 2.8), recorded in the
// referrers tag schema: an image index tagged "sha256-<hex digest of the
// subject>" listing the artifacts that refer to the subject (see
// referrers.go). Copying that tag along with the image makes the signatures
// travel with it.
package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"cuelabs.dev/go/oci/ociregistry"
	"cuelabs.dev/go/oci/ociregistry/ociauth"
	"cuelabs.dev/go/oci/ociregistry/ociclient"
	"cuelabs.dev/go/oci/ociregistry/ociref"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
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
	// Docker credentials file is used ($DOCKER_AUTH_CONFIG,
	// $DOCKER_CONFIG/config.json, ~/.docker/config.json, or Podman's
	// $XDG_RUNTIME_DIR/containers/auth.json, with their credential
	// helpers), and without an entry for the registry the access is
	// anonymous.
	Username, Password string
	// Insecure reaches the registry over plain HTTP.
	Insecure bool
}

// Repository is one repository of a registry and the reference into it.
type Repository struct {
	ref    ociref.Reference
	client ociregistry.Interface
	guard  *guard
}

// Open parses a fully qualified reference (registry/repository:tag or
// @digest) and prepares to reach its repository.
func Open(reference string, o Options) (*Repository, error) {
	ref, err := ociref.Parse(reference)
	if err != nil {
		return nil, fmt.Errorf("reference %q: %w", reference, err)
	}
	if ref.Tag == "" && ref.Digest == "" {
		return nil, fmt.Errorf("reference %q names no tag or digest", reference)
	}
	config, err := authConfig(ref.Host, o)
	if err != nil {
		return nil, err
	}
	// From the client down: the guard sees every response, after
	// authorization and retries, as the registry sent it.
	g := &guard{next: retry.NewTransport(http.DefaultTransport), subjects: map[string]bool{}}
	client, err := ociclient.New(ref.Host, &ociclient.Options{
		Transport: ociauth.NewStdTransport(ociauth.StdTransportParams{Config: config, Transport: g}),
		Insecure:  o.Insecure,
	})
	if err != nil {
		return nil, fmt.Errorf("reference %q: %w", reference, err)
	}
	return &Repository{ref: ref, client: client, guard: g}, nil
}

// authConfig returns where the credentials for host come from.
func authConfig(host string, o Options) (ociauth.Config, error) {
	if o.Username != "" {
		return staticCredentials{host: host, entry: ociauth.ConfigEntry{Username: o.Username, Password: o.Password}}, nil
	}
	if o.Password != "" {
		return nil, errors.New("a password was given without a user name")
	}
	config, err := ociauth.Load(nil)
	if err != nil {
		return nil, fmt.Errorf("reading the Docker credentials file: %w", err)
	}
	return config, nil
}

// staticCredentials gives the credentials of the command line to their
// registry only.
type staticCredentials struct {
	host  string
	entry ociauth.ConfigEntry
}

func (s staticCredentials) EntryForRegistry(host string) (ociauth.ConfigEntry, error) {
	if host != s.host {
		return ociauth.ConfigEntry{}, nil
	}
	return s.entry, nil
}

// String returns the reference.
func (r *Repository) String() string { return r.ref.String() }

// Manifest fetches the manifest the reference names, checked against its
// digest, and returns its descriptor (media type as the registry gives it)
// and content.
func (r *Repository) Manifest(ctx context.Context) (ocispec.Descriptor, []byte, error) {
	var rd ociregistry.BlobReader
	var err error
	if r.ref.Digest != "" {
		rd, err = r.client.GetManifest(ctx, r.ref.Repository, r.ref.Digest)
	} else {
		rd, err = r.client.GetTag(ctx, r.ref.Repository, r.ref.Tag)
	}
	if err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("fetching the manifest of %s: %w", r, notFound(err))
	}
	defer rd.Close()
	desc := rd.Descriptor()
	if desc.Size < 0 || desc.Size > MaxManifest {
		return ocispec.Descriptor{}, nil, fmt.Errorf("manifest of %s: %d bytes, more than the limit of %d", r, desc.Size, MaxManifest)
	}
	if err := desc.Digest.Validate(); err != nil || desc.Digest.Algorithm() != digest.SHA256 {
		return ocispec.Descriptor{}, nil, fmt.Errorf("manifest of %s: registry gave digest %q, want sha256", r, desc.Digest)
	}
	if r.ref.Digest != "" && desc.Digest != r.ref.Digest {
		return ocispec.Descriptor{}, nil, fmt.Errorf("manifest of %s: registry gave digest %s", r, desc.Digest)
	}
	data, err := readContent(rd, desc)
	if err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("manifest of %s: %w", r, err)
	}
	return desc, data, nil
}

// notFound adds "not found" to the registry's error for an unknown
// manifest or repository, which it words in its own way.
func notFound(err error) error {
	if errors.Is(err, ociregistry.ErrManifestUnknown) || errors.Is(err, ociregistry.ErrNameUnknown) {
		return fmt.Errorf("not found: %w", err)
	}
	return err
}

// readContent reads the content desc describes from rc, which must be
// exactly desc.Size bytes with desc.Digest.
func readContent(rc io.Reader, desc ocispec.Descriptor) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(rc, desc.Size+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != desc.Size {
		return nil, fmt.Errorf("registry sent %d bytes or more for %s, which has %d", len(data), desc.Digest, desc.Size)
	}
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("digest %q: %w", desc.Digest, err)
	}
	if desc.Digest.Algorithm().FromBytes(data) != desc.Digest {
		return nil, fmt.Errorf("content does not match its digest %s", desc.Digest)
	}
	return data, nil
}

// describe returns the descriptor of data.
func describe(mediaType string, data []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
}

// PushSignature stores sig as an artifact that refers to subject.
func (r *Repository) PushSignature(ctx context.Context, subject ocispec.Descriptor, sig []byte) (ocispec.Descriptor, error) {
	layer := describe(ArtifactType, sig)
	if _, err := r.client.PushBlob(ctx, r.ref.Repository, layer, bytes.NewReader(sig)); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("uploading the signature to %s: %w", r, err)
	}
	// An artifact without a config of its own has the empty JSON object
	// as config (image spec 1.1, "Guidelines for Artifact Usage").
	empty := ocispec.DescriptorEmptyJSON
	if _, err := r.client.PushBlob(ctx, r.ref.Repository, describe(empty.MediaType, empty.Data), bytes.NewReader(empty.Data)); err != nil {
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
	desc := describe(ocispec.MediaTypeImageManifest, m)
	desc.ArtifactType, desc.Annotations = ArtifactType, created
	if _, err := r.client.PushManifest(ctx, r.ref.Repository, "", m, desc.MediaType); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("storing the signature of %s: %w", r, err)
	}
	// A registry with the referrers API says so in its answer (OCI-Subject);
	// for the others, the signature is recorded in the referrers tag schema.
	if !r.guard.acknowledged(string(subject.Digest)) {
		if err := r.addReferrer(ctx, subject, desc); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("storing the signature of %s: %w", r, err)
		}
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
	for d, err := range r.client.Referrers(ctx, r.ref.Repository, subject.Digest, "") {
		if err != nil {
			return nil, fmt.Errorf("listing the signatures of %s: %w", r, err)
		}
		if d.ArtifactType == "" || d.ArtifactType == ArtifactType {
			found = append(found, d)
		}
		if len(found) > MaxSignatures {
			return nil, fmt.Errorf("listing the signatures of %s: more than %d signatures stored for %s", r, MaxSignatures, subject.Digest)
		}
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
