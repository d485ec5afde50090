package signature

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"cuelabs.dev/go/oci/ociregistry/ociref"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// Limits on what Parse reads.
const (
	// MaxSize is the largest signature document Parse reads.
	MaxSize = 4 << 20
	// MaxChain is the longest certificate chain in one "x5c".
	MaxChain = 8
	// maxCert bounds one certificate's base64 DER.
	maxCert = 64 << 10
)

// DockerManifestV2 is the media type of a Docker image manifest, the
// default for manifests read from files.
const DockerManifestV2 = "application/vnd.docker.distribution.manifest.v2+json"

// DefaultExpiry is how long a new signature stays valid.
const DefaultExpiry = 365 * 24 * time.Hour

// Manifest describes the content a reference names: its media type,
// length and sha256 digest.
type Manifest struct {
	MediaType string
	Length    int64
	SHA256    [sha256.Size]byte
}

// Describe describes a manifest's content.
func Describe(content []byte, mediaType string) Manifest {
	return Manifest{MediaType: mediaType, Length: int64(len(content)), SHA256: sha256.Sum256(content)}
}

// Digest returns the manifest's OCI digest, "sha256:" and hex.
func (m Manifest) Digest() string { return "sha256:" + hex.EncodeToString(m.SHA256[:]) }

// A Target is one reference a document lists.
type Target struct {
	Reference  string
	Manifest   Manifest
	AccessedAt time.Time // when the signer read the manifest; zero if not recorded
}

// custom is a target's "custom" member.
type custom struct {
	AccessedAt string `json:"accessedAt,omitempty"`
	MediaType  string `json:"mediaType"`
}

// Formats of a signature document.
const (
	FormatTUF    = "tuf"    // TUF 1.0 targets metadata
	FormatNotary = "notary" // Notary's dialect, as the nv2 prototype wrote it
)

// Document is a signature document.
type Document struct {
	// Meta holds the document's content as TUF targets metadata. For a
	// document in Notary's dialect it is a conversion, whose own signatures
	// are empty: the Notary signatures are over the Notary bytes.
	Meta *metadata.Metadata[*metadata.Targets]

	notary *notaryDoc // set for a signed document in Notary's dialect
}

// New returns an empty, unsigned document, version 1.
func New() *Document {
	t := metadata.NewTargets(time.Now().Add(DefaultExpiry))
	return &Document{Meta: metadata.New(t)}
}

// Parse reads a signature document in TUF format and checks its form: TUF
// targets metadata that delegates nothing, whose targets are references
// carrying a media type, and whose signatures' x5c chains, if any, are
// certificates.
//
// A document in Notary's dialect ("_type": "Targets") is read with
// tuf/notary, and its content converted to Meta.
func Parse(data []byte) (*Document, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("signature document is %d bytes, more than the limit of %d", len(data), MaxSize)
	}
	if isNotary(data) {
		return parseNotary(data)
	}
	m, err := metadata.ParseTargets(data)
	if err != nil {
		return nil, fmt.Errorf("signature document: %w", err)
	}
	d := &Document{Meta: m}
	if err := d.check(); err != nil {
		return nil, err
	}
	for i, s := range m.Signatures {
		if _, err := Chain(s); err != nil {
			return nil, fmt.Errorf("signature document: signatures[%d]: %w", i, err)
		}
	}
	return d, nil
}

// check checks the content: no delegations, targets that are references
// with a media type.
func (d *Document) check() error {
	m := d.Meta
	if del := m.Signed.Delegations; del != nil && (len(del.Roles) > 0 || del.Succinct != nil) {
		return errors.New("signature document: signed.delegations: a signature delegates to no role")
	}
	for ref := range m.Signed.Targets {
		if _, err := d.Target(ref); err != nil {
			return err
		}
	}
	return nil
}

// Format returns the document's format, FormatTUF or FormatNotary.
func (d *Document) Format() string {
	if d.notary != nil {
		return FormatNotary
	}
	return FormatTUF
}

// Encode returns the signed document as a file.
func (d *Document) Encode() ([]byte, error) {
	if d.notary != nil {
		return d.notary.raw, nil
	}
	return d.Meta.Encode()
}

// Version returns the document's version.
func (d *Document) Version() int64 { return d.Meta.Signed.Version }

// Expires returns when the document expires.
func (d *Document) Expires() time.Time { return d.Meta.Signed.Expires }

// References returns the references the document lists, sorted.
func (d *Document) References() []string {
	refs := make([]string, 0, len(d.Meta.Signed.Targets))
	for ref := range d.Meta.Signed.Targets {
		refs = append(refs, ref)
	}
	slices.Sort(refs)
	return refs
}

// Target returns the target listed for ref, with its media type and access
// time read from "custom".
func (d *Document) Target(ref string) (Target, error) {
	tf, ok := d.Meta.Signed.Targets[ref]
	if !ok {
		return Target{}, fmt.Errorf("signature document does not list %q", ref)
	}
	field := fmt.Sprintf("signature document: signed.targets[%q]", ref)
	if _, err := Host(ref); err != nil {
		return Target{}, fmt.Errorf("%s: %w", field, err)
	}
	if len(tf.Hashes.SHA256) != sha256.Size {
		return Target{}, fmt.Errorf("%s.hashes: no sha256 digest", field)
	}
	var c custom
	if tf.Custom == nil {
		return Target{}, fmt.Errorf("%s: no custom.mediaType", field)
	}
	if err := canonjson.Unmarshal(tf.Custom, &c); err != nil {
		return Target{}, fmt.Errorf("%s.custom: %v", field, err)
	}
	if c.MediaType == "" {
		return Target{}, fmt.Errorf("%s: no custom.mediaType", field)
	}
	t := Target{Reference: ref, Manifest: Manifest{MediaType: c.MediaType, Length: tf.Length}}
	copy(t.Manifest.SHA256[:], tf.Hashes.SHA256)
	if c.AccessedAt != "" {
		at, err := time.Parse(time.RFC3339Nano, c.AccessedAt)
		if err != nil {
			return Target{}, fmt.Errorf("%s.custom.accessedAt: %q is not an RFC 3339 time", field, c.AccessedAt)
		}
		t.AccessedAt = at
	}
	return t, nil
}

// Add lists ref as a target naming m, read at accessedAt, replacing an
// earlier entry for ref. It drops the document's signatures: sign it again.
func (d *Document) Add(ref string, m Manifest, accessedAt time.Time) error {
	if _, err := Host(ref); err != nil {
		return err
	}
	if m.MediaType == "" {
		return fmt.Errorf("reference %q: no media type for the manifest", ref)
	}
	c, err := canonjson.Marshal(custom{AccessedAt: accessedAt.UTC().Format(time.RFC3339Nano), MediaType: m.MediaType})
	if err != nil {
		return err
	}
	d.Meta.ClearSignatures()
	d.notary = nil
	d.Meta.Signed.Targets[ref] = metadata.TargetFile{
		Length: m.Length,
		Hashes: metadata.Hashes{SHA256: bytes.Clone(m.SHA256[:])},
		Custom: c,
	}
	return nil
}

// Check checks manifest m against the target listed for ref: same length,
// sha256 digest and media type.
func (d *Document) Check(ref string, m Manifest) error {
	t, err := d.Target(ref)
	if err != nil {
		return err
	}
	switch {
	case t.Manifest.Length != m.Length:
		return fmt.Errorf("reference %q: manifest is %d bytes, the signature says %d", ref, m.Length, t.Manifest.Length)
	case t.Manifest.SHA256 != m.SHA256:
		return fmt.Errorf("reference %q: manifest digest is %s, the signature says %s", ref, m.Digest(), t.Manifest.Digest())
	case t.Manifest.MediaType != m.MediaType:
		return fmt.Errorf("reference %q: manifest media type is %q, the signature says %q", ref, m.MediaType, t.Manifest.MediaType)
	}
	return nil
}

// Match returns the references whose target is m, sorted; an error when
// there is none.
func (d *Document) Match(m Manifest) ([]string, error) {
	var refs []string
	for _, ref := range d.References() {
		if d.Check(ref, m) == nil {
			refs = append(refs, ref)
		}
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("the signature lists no reference to manifest %s (%d bytes, %s)", m.Digest(), m.Length, m.MediaType)
	}
	return refs, nil
}

// Host returns the registry host of a fully qualified reference, without
// its port: "registry.acme-rockets.io" for
// "registry.acme-rockets.io/hello-world:v1".
func Host(ref string) (string, error) {
	r, err := ociref.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("reference %q is not a fully qualified reference (registry/repository:tag or @digest): %w", ref, err)
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return host, nil
}

// Chain returns the certificate chain that signature s carries in "x5c",
// leaf first, or nil when it carries none.
func Chain(s metadata.Signature) ([]*x509.Certificate, error) {
	raw := s.Unknown.Get("x5c")
	if raw == nil {
		return nil, nil
	}
	var b64 []string
	if err := canonjson.Unmarshal(raw, &b64); err != nil {
		return nil, fmt.Errorf("x5c: want an array of base64 strings: %v", err)
	}
	return parseChain(b64)
}

// parseChain decodes an x5c array.
func parseChain(b64 []string) ([]*x509.Certificate, error) {
	if len(b64) == 0 || len(b64) > MaxChain {
		return nil, fmt.Errorf("x5c: %d certificates, want 1 to %d", len(b64), MaxChain)
	}
	chain := make([]*x509.Certificate, len(b64))
	for i, s := range b64 {
		if len(s) > maxCert {
			return nil, fmt.Errorf("x5c[%d]: %d characters, more than the limit of %d", i, len(s), maxCert)
		}
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("x5c[%d]: not standard base64", i)
		}
		if chain[i], err = x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("x5c[%d]: %v", i, err)
		}
	}
	return chain, nil
}

// setChain records chain in s's "x5c".
func setChain(s *metadata.Signature, chain []*x509.Certificate) error {
	b64 := make([]string, len(chain))
	for i, c := range chain {
		b64[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	raw, err := json.Marshal(b64)
	if err != nil {
		return err
	}
	return s.Unknown.Set("x5c", raw)
}
