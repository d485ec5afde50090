// Package repotest builds signed TUF repositories in memory and serves them
// over HTTP, so that client tests can play a repository, a mirror or an
// attacker.
package repotest

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// Repo is a repository under construction. Publish signs whatever changed
// and makes it visible to the server.
type Repo struct {
	t       testing.TB
	Expires time.Time

	Root      *metadata.Metadata[*metadata.Root]
	Timestamp *metadata.Metadata[*metadata.Timestamp]
	Snapshot  *metadata.Metadata[*metadata.Snapshot]
	Targets   map[string]*metadata.Metadata[*metadata.Targets] // by role name
	// Signers of each role; the top-level ones are listed in root,
	// delegated ones in their delegating role.
	Signers map[string][]keys.Signer
	Content map[string][]byte // target content by path

	mu    sync.Mutex
	files map[string][]byte // published files, by path below the server root
	dirty map[string]bool   // roles changed since the last Publish

	// Hook, if set, sees every request and may answer it instead.
	Hook func(w http.ResponseWriter, r *http.Request) bool
	// Requests counts requests by path.
	Requests map[string]int
}

// NewSigner returns a new ed25519 signer.
func NewSigner(t testing.TB) keys.Signer {
	t.Helper()
	priv, err := keys.Generate("ed25519")
	if err != nil {
		t.Fatal(err)
	}
	s, err := keys.NewSigner(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// KeyOf returns the key object of a signer.
func KeyOf(s keys.Signer) *metadata.Key { return metadata.NewKey(s.PublicKey()) }

// New returns a published repository with consistent snapshots, one key
// per top-level role, no targets, and metadata expiring in a week.
func New(t testing.TB) *Repo {
	t.Helper()
	r := &Repo{
		t: t, Expires: time.Now().Add(7 * 24 * time.Hour).UTC().Truncate(time.Second),
		Targets: map[string]*metadata.Metadata[*metadata.Targets]{}, Signers: map[string][]keys.Signer{},
		Content: map[string][]byte{}, files: map[string][]byte{}, dirty: map[string]bool{}, Requests: map[string]int{},
	}
	root := metadata.NewRoot(r.Expires)
	for _, role := range metadata.TopLevelRoles {
		s := NewSigner(t)
		r.Signers[role] = []keys.Signer{s}
		if err := root.AddKey(role, KeyOf(s)); err != nil {
			t.Fatal(err)
		}
	}
	r.Root = metadata.New(root)
	r.Targets[metadata.TypeTargets] = metadata.New(metadata.NewTargets(r.Expires))
	r.Snapshot = metadata.New(metadata.NewSnapshot(r.Expires))
	r.Snapshot.Signed.Meta = map[string]metadata.MetaFile{}
	r.Timestamp = metadata.New(metadata.NewTimestamp(r.Expires))
	r.dirty[metadata.TypeRoot] = true
	r.dirty[metadata.TypeTargets] = true
	r.Publish()
	return r
}

// AddTarget lists content at path in role's metadata.
func (r *Repo) AddTarget(role, path string, content []byte) {
	r.Targets[role].Signed.Targets[path] = metadata.NewTargetFile(content, false)
	r.Content[path] = content
	r.dirty[role] = true
}

// Delegate makes parent delegate role, with a new key, for the paths.
func (r *Repo) Delegate(parent, role string, paths []string, terminating bool) keys.Signer {
	r.t.Helper()
	s := NewSigner(r.t)
	r.DelegateWith(parent, role, paths, terminating, s)
	return s
}

// DelegateWith makes parent delegate role to the given signer's key.
func (r *Repo) DelegateWith(parent, role string, paths []string, terminating bool, s keys.Signer) {
	p := r.Targets[parent].Signed
	if p.Delegations == nil {
		p.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{}, Roles: []metadata.DelegatedRole{}}
	}
	k := KeyOf(s)
	p.Delegations.Keys[k.ID()] = k
	p.Delegations.Roles = append(p.Delegations.Roles, metadata.DelegatedRole{Name: role, KeyIDs: []string{k.ID()}, Threshold: 1, Paths: paths, Terminating: terminating})
	if _, ok := r.Targets[role]; !ok {
		r.Targets[role] = metadata.New(metadata.NewTargets(r.Expires))
		r.dirty[role] = true
	}
	if !hasSigner(r.Signers[role], s) {
		r.Signers[role] = append(r.Signers[role], s)
	}
	r.dirty[parent] = true
}

func hasSigner(list []keys.Signer, s keys.Signer) bool {
	for _, x := range list {
		if KeyOf(x).ID() == KeyOf(s).ID() {
			return true
		}
	}
	return false
}

// RotateKeys replaces the keys of a top-level role with n new ones and
// threshold, and marks root for a new version.
func (r *Repo) RotateKeys(role string, n, threshold int) []keys.Signer {
	r.t.Helper()
	root := r.Root.Signed
	for _, id := range append([]string(nil), root.Roles[role].KeyIDs...) {
		if err := root.RevokeKey(role, id); err != nil {
			r.t.Fatal(err)
		}
	}
	var signers []keys.Signer
	for range n {
		s := NewSigner(r.t)
		signers = append(signers, s)
		if err := root.AddKey(role, KeyOf(s)); err != nil {
			r.t.Fatal(err)
		}
	}
	root.Roles[role].Threshold = threshold
	if role == metadata.TypeRoot {
		// The new root must also be signed by the old root keys.
		r.Signers[role] = append(r.Signers[role], signers...)
	} else {
		r.Signers[role] = signers
	}
	r.dirty[metadata.TypeRoot] = true
	return signers
}

// MarkDirty makes Publish bump and re-sign role.
func (r *Repo) MarkDirty(role string) { r.dirty[role] = true }

// Publish bumps the version of every changed role, signs it, regenerates
// snapshot and timestamp, and serves the result.
func (r *Repo) Publish() {
	r.t.Helper()
	ctx := context.Background()
	r.mu.Lock()
	defer r.mu.Unlock()
	first := r.files["metadata/timestamp.json"] == nil
	if r.dirty[metadata.TypeRoot] {
		if _, ok := r.files["metadata/1.root.json"]; ok {
			r.Root.Signed.Version++
		}
		r.Root.ClearSignatures()
		for _, s := range r.Signers[metadata.TypeRoot] {
			r.sign(ctx, r.Root, s)
		}
		data := r.encode(r.Root)
		r.files[fmt.Sprintf("metadata/%d.root.json", r.Root.Signed.Version)] = data
		r.files["metadata/root.json"] = data
		// Signers kept only for cross-signing are dropped after use.
		keep := []keys.Signer{}
		for _, s := range r.Signers[metadata.TypeRoot] {
			if contains(r.Root.Signed.Roles[metadata.TypeRoot].KeyIDs, KeyOf(s).ID()) {
				keep = append(keep, s)
			}
		}
		r.Signers[metadata.TypeRoot] = keep
	}
	for role, md := range r.Targets {
		if !r.dirty[role] && r.Snapshot.Signed.Meta[role+".json"].Version != 0 {
			continue
		}
		if r.Snapshot.Signed.Meta[role+".json"].Version != 0 {
			md.Signed.Version++
		}
		md.ClearSignatures()
		for _, s := range r.Signers[role] {
			r.sign(ctx, md, s)
		}
		data := r.encode(md)
		r.files[fmt.Sprintf("metadata/%d.%s.json", md.Signed.Version, role)] = data
		r.files[fmt.Sprintf("metadata/%s.json", role)] = data
		r.Snapshot.Signed.Meta[role+".json"] = metadata.MetaFile{Version: md.Signed.Version}
	}
	for p, c := range r.Content {
		tf := metadata.NewTargetFile(c, false)
		r.files["targets/"+p] = c
		r.files["targets/"+tf.ConsistentPath(p)] = c
	}
	if !first {
		r.Snapshot.Signed.Version++
		r.Timestamp.Signed.Version++
	}
	r.Snapshot.ClearSignatures()
	for _, s := range r.Signers[metadata.TypeSnapshot] {
		r.sign(ctx, r.Snapshot, s)
	}
	snap := r.encode(r.Snapshot)
	r.files[fmt.Sprintf("metadata/%d.snapshot.json", r.Snapshot.Signed.Version)] = snap
	r.files["metadata/snapshot.json"] = snap
	r.Timestamp.Signed.Meta["snapshot.json"] = metadata.MetaFile{Version: r.Snapshot.Signed.Version, Length: int64(len(snap)), Hashes: metadata.HashesOf(snap, false)}
	r.Timestamp.ClearSignatures()
	for _, s := range r.Signers[metadata.TypeTimestamp] {
		r.sign(ctx, r.Timestamp, s)
	}
	r.files["metadata/timestamp.json"] = r.encode(r.Timestamp)
	r.dirty = map[string]bool{}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (r *Repo) sign(ctx context.Context, md interface {
	Sign(context.Context, keys.Signer) (metadata.Signature, error)
}, s keys.Signer) {
	if _, err := md.Sign(ctx, s); err != nil {
		r.t.Fatal(err)
	}
}

type encoder interface{ Encode() ([]byte, error) }

func (r *Repo) encode(md encoder) []byte {
	data, err := md.Encode()
	if err != nil {
		r.t.Fatal(err)
	}
	return data
}

// File returns a published file ("metadata/timestamp.json",
// "targets/a.txt"), or nil.
func (r *Repo) File(p string) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.files[p]
}

// SetFile replaces or adds a published file, as an attacker might.
func (r *Repo) SetFile(p string, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files[p] = data
}

// RootBytes returns the published root of a version.
func (r *Repo) RootBytes(version int64) []byte {
	return r.File(fmt.Sprintf("metadata/%d.root.json", version))
}

// ServeHTTP serves the published files: metadata under /metadata/ and
// targets under /targets/.
func (r *Repo) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.Requests[req.URL.Path]++
	hook := r.Hook
	r.mu.Unlock()
	if hook != nil && hook(w, req) {
		return
	}
	data := r.File(strings.TrimPrefix(req.URL.Path, "/"))
	if data == nil {
		http.NotFound(w, req)
		return
	}
	w.Write(data)
}

// RequestCount returns how many requests were made for a path.
func (r *Repo) RequestCount(p string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Requests[p]
}

// Serve starts an HTTP server of the repository, closed when the test ends.
func (r *Repo) Serve() *httptest.Server {
	srv := httptest.NewServer(r)
	r.t.Cleanup(srv.Close)
	return srv
}

// Forge parses data as metadata of type T, lets change alter the document,
// and returns it signed by signers only (unsigned when there are none). It
// plays both a repository re-signing an edited document and an attacker
// signing with keys of their own.
func Forge[T metadata.Role](t testing.TB, data []byte, change func(T), signers ...keys.Signer) []byte {
	t.Helper()
	md, err := metadata.Parse[T](data)
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(md.Signed)
	}
	md.ClearSignatures()
	for _, s := range signers {
		if _, err := md.Sign(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	out, err := md.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Resign is Forge with the repository's own signers of role.
func Resign[T metadata.Role](r *Repo, role string, data []byte, change func(T)) []byte {
	r.t.Helper()
	return Forge(r.t, data, change, r.Signers[role]...)
}

// Meta returns the published metadata of role as the client fetches it:
// the current version of root, timestamp, snapshot or a targets role.
func (r *Repo) Meta(role string) []byte {
	r.t.Helper()
	var p string
	switch role {
	case metadata.TypeRoot:
		p = fmt.Sprintf("metadata/%d.root.json", r.Root.Signed.Version)
	case metadata.TypeTimestamp:
		p = "metadata/timestamp.json"
	case metadata.TypeSnapshot:
		p = fmt.Sprintf("metadata/%d.snapshot.json", r.Snapshot.Signed.Version)
	default:
		md, ok := r.Targets[role]
		if !ok {
			r.t.Fatalf("repotest: no role %q", role)
		}
		p = fmt.Sprintf("metadata/%d.%s.json", md.Signed.Version, role)
	}
	data := r.File(p)
	if data == nil {
		r.t.Fatalf("repotest: %s is not published", p)
	}
	return data
}

// DelegateSuccinct makes parent delegate to 2^bitLength hashed bins named
// prefix-HEX (TAP 15), all signed by one new key, and returns the key.
// Targets go to a bin with AddTarget(repo.BinFor(parent, path), ...).
func (r *Repo) DelegateSuccinct(parent, prefix string, bitLength int) keys.Signer {
	r.t.Helper()
	s := NewSigner(r.t)
	k := KeyOf(s)
	p := r.Targets[parent].Signed
	p.Delegations = &metadata.Delegations{
		Keys:     map[string]*metadata.Key{k.ID(): k},
		Succinct: &metadata.SuccinctRoles{KeyIDs: []string{k.ID()}, Threshold: 1, BitLength: bitLength, NamePrefix: prefix},
	}
	for i := range p.Delegations.Succinct.NumBins() {
		name := p.Delegations.Succinct.BinName(i)
		r.Targets[name] = metadata.New(metadata.NewTargets(r.Expires))
		r.Signers[name] = []keys.Signer{s}
		r.dirty[name] = true
	}
	r.dirty[parent] = true
	return s
}

// BinFor returns the name of the bin of parent's succinct delegation that
// is trusted for targetPath.
func (r *Repo) BinFor(parent, targetPath string) string {
	return r.Targets[parent].Signed.Delegations.Succinct.RoleFor(targetPath)
}

// RequestCounts returns a copy of the request counts by path.
func (r *Repo) RequestCounts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.Requests)
}
