// Package notaryimport moves a Notary v1 repository to TUF 1.0. [Load]
// reads a Notary repository from a notary server (notary-server, or the
// Notary API of rampart serve) or from a notary client's trust directory
// and verifies it as a Notary client would; [Import] makes a Rampart
// repository from it, with new keys and the same targets and delegations.
package notaryimport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/rampart-tuf/rampart/tuf/notary"
)

// Source is where a Notary repository's documents come from.
type Source interface {
	// Fetch returns the current document of role. When meta is not nil
	// the document must have its length and SHA-256 (sources that can
	// ask by hash do); Load checks that in any case.
	Fetch(ctx context.Context, role string, meta *notary.FileMeta) ([]byte, error)
	// String names the source, for errors and the recorded origin.
	String() string
}

// ErrNoTrustData reports a GUN the source knows nothing of.
var ErrNoTrustData = errors.New("no trust data")

// maxTimestamp bounds a timestamp, as the notary client does; other
// documents are bounded by the length their parent gives, root by
// notary.MaxDocumentSize.
const maxTimestamp = 1 << 20

func limitFor(role string, meta *notary.FileMeta) int64 {
	switch {
	case meta != nil:
		return meta.Length
	case role == notary.RoleTimestamp:
		return maxTimestamp
	}
	return notary.MaxDocumentSize
}

// serverSource reads the /v2/ API of a notary server.
type serverSource struct {
	base   string
	gun    string
	client *http.Client
}

// NewServerSource returns the repository gun on the notary server at
// baseURL ("https://notary.example.com:4443"), read with client (nil:
// http.DefaultClient). Reads need no credentials.
func NewServerSource(baseURL, gun string, client *http.Client) (Source, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://HOST[:PORT]", baseURL)
	}
	if err := checkGUN(gun); err != nil {
		return nil, err
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &serverSource{base: strings.TrimSuffix(baseURL, "/"), gun: gun, client: client}, nil
}

func (s *serverSource) String() string { return s.base + " (" + s.gun + ")" }

func (s *serverSource) Fetch(ctx context.Context, role string, meta *notary.FileMeta) ([]byte, error) {
	name := role
	if meta != nil && len(meta.Hashes["sha256"]) == sha256.Size {
		name += "." + hex.EncodeToString(meta.Hashes["sha256"])
	}
	u := s.base + "/v2/" + s.gun + "/_trust/tuf/" + name + ".json"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", role, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound && role == notary.RoleRoot:
		return nil, fmt.Errorf("%s has no repository %s: %w", s.base, s.gun, ErrNoTrustData)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	limit := limitFor(role, meta)
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d expected", role, resp.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", role, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: more than the %d bytes expected", role, limit)
	}
	return data, nil
}

// dirSource reads a notary client's trust directory.
type dirSource struct {
	dir, gun string
}

// NewTrustDirSource returns the repository gun as the notary client
// cached it in its trust directory (DIR/tuf/GUN/metadata/ROLE.json).
func NewTrustDirSource(dir, gun string) (Source, error) {
	if err := checkGUN(gun); err != nil {
		return nil, err
	}
	return &dirSource{dir: dir, gun: gun}, nil
}

func (s *dirSource) String() string { return "trust directory " + s.dir + " (" + s.gun + ")" }

func (s *dirSource) Fetch(_ context.Context, role string, meta *notary.FileMeta) ([]byte, error) {
	p := filepath.Join(s.dir, "tuf", filepath.FromSlash(s.gun), "metadata", filepath.FromSlash(role)+".json")
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) && role == notary.RoleRoot {
		return nil, fmt.Errorf("%s holds no repository %s: %w", s.dir, s.gun, ErrNoTrustData)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	limit := limitFor(role, meta)
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: more than the %d bytes expected", p, limit)
	}
	return data, nil
}

// checkGUN refuses GUNs that could leave a trust directory or a URL path.
func checkGUN(gun string) error {
	if gun == "" || len(gun) > 255 || strings.ContainsAny(gun, "\\?#%\x00*") || path.Clean(gun) != gun || strings.HasPrefix(gun, "/") || strings.HasPrefix(gun, "..") {
		return fmt.Errorf("invalid GUN %q", gun)
	}
	return nil
}

// Repository is a verified Notary repository.
type Repository struct {
	GUN    string
	Origin string // the source it was read from
	Root   *notary.Document
	// Roles are targets and then every delegated role with a document,
	// each after the role that delegates to it.
	Roles []Role
}

// Role is a verified targets role.
type Role struct {
	Name       string             // "targets" or "targets/..."
	Delegation *notary.Delegation // nil for targets
	Version    int64
	Targets    map[string]notary.FileMeta
}

// Load reads the repository gun from src and verifies it as a notary client
// does, at time now: root by its own keys (and, when trusted is not nil,
// by the keys of that earlier or equal root, which pins it), timestamp,
// snapshot and targets by the keys root gives and the lengths and hashes
// above them, every delegated role by its delegation, within its paths.
// Expired documents are refused.
func Load(ctx context.Context, src Source, gun string, trusted []byte, now time.Time) (*Repository, error) {
	l := &loader{ctx: ctx, src: src, now: now}
	rootData, err := src.Fetch(ctx, notary.RoleRoot, nil)
	if err != nil {
		return nil, err
	}
	root, err := l.root(rootData, trusted)
	if err != nil {
		return nil, err
	}
	ts, _, err := l.doc(notary.RoleTimestamp, nil, notary.TypeTimestamp, root.Root.Keys, root.Root.Roles[notary.RoleTimestamp])
	if err != nil {
		return nil, err
	}
	sm := ts.Timestamp.Meta[notary.RoleSnapshot]
	snap, _, err := l.doc(notary.RoleSnapshot, &sm, notary.TypeSnapshot, root.Root.Keys, root.Root.Roles[notary.RoleSnapshot])
	if err != nil {
		return nil, err
	}
	if m, ok := snap.Snapshot.Meta[notary.RoleRoot]; !ok || !matches(rootData, &m) {
		return nil, fmt.Errorf("%s: the snapshot lists another root than the current one", src)
	}
	repo := &Repository{GUN: gun, Origin: src.String(), Root: root}
	tm := snap.Snapshot.Meta[notary.RoleTargets]
	targets, _, err := l.doc(notary.RoleTargets, &tm, notary.TypeTargets, root.Root.Keys, root.Root.Roles[notary.RoleTargets])
	if err != nil {
		return nil, err
	}
	repo.Roles = append(repo.Roles, Role{Name: notary.RoleTargets, Version: targets.Version, Targets: targets.Targets.Targets})
	type item struct {
		doc   *notary.Document
		name  string
		paths []string // nil: everything
	}
	queue := []item{{targets, notary.RoleTargets, nil}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		for i := range it.doc.Targets.Delegations.Roles {
			d := &it.doc.Targets.Delegations.Roles[i]
			if notary.Parent(d.Name) != it.name {
				return nil, fmt.Errorf("%s: %s delegates to %s, which is not its child", src, it.name, d.Name)
			}
			m, ok := snap.Snapshot.Meta[d.Name]
			if !ok {
				continue // delegated, never published
			}
			if !notary.PathsWithin(d.Paths, it.paths) {
				return nil, fmt.Errorf("%s: %s is delegated paths %q outside those of %s", src, d.Name, d.Paths, it.name)
			}
			doc, _, err := l.doc(d.Name, &m, notary.TypeTargets, it.doc.Targets.Delegations.Keys, d.RoleKeys)
			if err != nil {
				return nil, err
			}
			for name := range doc.Targets.Targets {
				if !d.Allows(name) {
					return nil, fmt.Errorf("%s: %s lists %q, outside its paths %q", src, d.Name, name, d.Paths)
				}
			}
			repo.Roles = append(repo.Roles, Role{Name: d.Name, Delegation: d, Version: doc.Version, Targets: doc.Targets.Targets})
			queue = append(queue, item{doc, d.Name, d.Paths})
		}
	}
	return repo, nil
}

type loader struct {
	ctx context.Context
	src Source
	now time.Time
}

func (l *loader) root(data, trusted []byte) (*notary.Document, error) {
	root, err := notary.ParseAs(data, notary.TypeRoot)
	if err != nil {
		return nil, fmt.Errorf("%s: root: %w", l.src, err)
	}
	if err := root.Verify(root.Root.Keys, root.Root.Roles[notary.RoleRoot]); err != nil {
		return nil, fmt.Errorf("%s: root: %w", l.src, err)
	}
	if trusted != nil && !bytes.Equal(trusted, data) {
		t, err := notary.ParseAs(trusted, notary.TypeRoot)
		if err != nil {
			return nil, fmt.Errorf("trusted root: %w", err)
		}
		if t.Version > root.Version {
			return nil, fmt.Errorf("%s: root version %d is older than the trusted root's %d", l.src, root.Version, t.Version)
		}
		if err := root.Verify(t.Root.Keys, t.Root.Roles[notary.RoleRoot]); err != nil {
			return nil, fmt.Errorf("%s: root is not signed by the trusted root's keys: %w", l.src, err)
		}
	}
	if root.Expired(l.now) {
		return nil, fmt.Errorf("%s: root expired at %s", l.src, root.Expires.Format(time.RFC3339))
	}
	return root, nil
}

// doc fetches, checks and verifies one document.
func (l *loader) doc(role string, meta *notary.FileMeta, typ string, ks map[string]notary.Key, rk notary.RoleKeys) (*notary.Document, []byte, error) {
	data, err := l.src.Fetch(l.ctx, role, meta)
	if err != nil {
		return nil, nil, err
	}
	if meta != nil && !matches(data, meta) {
		return nil, nil, fmt.Errorf("%s: %s does not have the length and hashes its parent gives", l.src, role)
	}
	d, err := notary.ParseAs(data, typ)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %s: %w", l.src, role, err)
	}
	if err := d.Verify(ks, rk); err != nil {
		return nil, nil, fmt.Errorf("%s: %s: %w", l.src, role, err)
	}
	if d.Expired(l.now) {
		return nil, nil, fmt.Errorf("%s: %s expired at %s", l.src, role, d.Expires.Format(time.RFC3339))
	}
	return d, data, nil
}

// matches reports whether data has meta's length and every hash it gives.
func matches(data []byte, meta *notary.FileMeta) bool {
	got := notary.NewFileMeta(data)
	if got.Length != meta.Length {
		return false
	}
	n := 0
	for alg, h := range meta.Hashes {
		if g, ok := got.Hashes[alg]; ok {
			n++
			if !bytes.Equal(g, h) {
				return false
			}
		}
	}
	return n > 0
}
