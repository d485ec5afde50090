package client

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/trust"
)

// A bundle carries a client's trusted metadata, and targets, across an
// air gap: one tar archive of regular files,
//
//	roots/N.root.json       root versions, 1 to the newest
//	metadata/timestamp.json
//	metadata/snapshot.json
//	metadata/ROLE.json      targets and every delegated role
//	targets/PATH            the content of target PATH
//
// metadata first, targets last. Nothing in a bundle is trusted: the
// importing client checks it as a refresh checks a repository, starting
// from the root it already trusts.
const (
	bundleRoots    = "roots/"
	bundleMetadata = "metadata/"
	bundleTargets  = "targets/"
	// maxBundleEntries bounds the entries of a bundle read, and
	// maxBundleMetadata the bytes of all its metadata, which is held in
	// memory until it is checked (a million targets in hashed bins take
	// some 150 MB).
	maxBundleEntries  = 1 << 20
	maxBundleMetadata = 1 << 30
)

// RootChain returns the repository's root versions from 1 to the trusted
// one, fetched and checked one after the other as a refresh checks them;
// the last is the trusted root. The client must have refreshed.
func (c *Client) RootChain(ctx context.Context) ([][]byte, error) {
	c.mu.Lock()
	set := c.trusted
	c.mu.Unlock()
	if set == nil {
		return nil, errors.New("client: RootChain before a refresh")
	}
	current := set.Root()
	chain := make([][]byte, 0, current.Signed.Version)
	var walk *trust.Set
	for v := int64(1); v <= current.Signed.Version; v++ {
		data := current.Raw
		if v < current.Signed.Version {
			var err error
			if data, err = readAll(ctx, c.cfg.Fetcher, c.metaURL(fmt.Sprintf("%d.root.json", v)), c.limits.RootBytes); err != nil {
				return nil, fmt.Errorf("%d.root.json: %w", v, err)
			}
		}
		var err error
		if walk == nil {
			walk, err = trust.New(data, trust.Options{Time: set.Reference(), StrictKeyIDs: c.cfg.StrictKeyIDs})
		} else {
			err = walk.UpdateRoot(data)
		}
		if err != nil {
			return nil, err
		}
		chain = append(chain, data)
	}
	if walk == nil || !bytes.Equal(walk.Root().Raw, current.Raw) {
		return nil, errors.New("root chain: it does not end at the trusted root")
	}
	return chain, nil
}

// WriteBundle writes a bundle to w: the repository's root chain, the
// metadata this client trusts (every role the delegations reach is
// loaded first) and the content of targets, each downloaded and verified.
// The client must be online.
func (c *Client) WriteBundle(ctx context.Context, w io.Writer, targets []string) error {
	if _, err := c.ListTargets(ctx, 0); err != nil {
		return err
	}
	tr := c.Trusted()
	if tr == nil {
		return errors.New("client: no trusted metadata to bundle")
	}
	chain, err := c.RootChain(ctx)
	if err != nil {
		return err
	}
	infos := make([]TargetInfo, len(targets))
	for i, p := range targets {
		if infos[i], err = c.Target(ctx, p); err != nil {
			return err
		}
	}
	tw := tar.NewWriter(w)
	mtime := time.Unix(0, 0)
	put := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for i, data := range chain {
		if err := put(fmt.Sprintf("%s%d.root.json", bundleRoots, i+1), data); err != nil {
			return err
		}
	}
	if err := put(bundleMetadata+"timestamp.json", tr.Timestamp); err != nil {
		return err
	}
	if err := put(bundleMetadata+"snapshot.json", tr.Snapshot); err != nil {
		return err
	}
	for _, role := range slices.Sorted(maps.Keys(tr.Targets)) {
		if err := put(bundleMetadata+role+".json", tr.Targets[role]); err != nil {
			return err
		}
	}
	for _, t := range infos {
		if err := tw.WriteHeader(&tar.Header{Name: bundleTargets + t.Path, Mode: 0o644, Size: t.Length, ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if err := c.Download(ctx, t, tw); err != nil {
			return err
		}
	}
	return tw.Close()
}

// ImportResult says what ImportBundle did.
type ImportResult struct {
	RootVersion, TimestampVersion int64
	Roles                         int      // targets roles in the bundle
	Targets                       []string // target paths stored
}

// ImportBundle reads a bundle and checks it as a refresh checks a
// repository: the root chain from the root dir trusts, timestamp and
// snapshot signatures, versions against what dir already trusts (no
// rollback), expiry (no freeze), every role's length, hashes, version and
// signatures, and each target's length and hashes against the verified
// metadata. Only when all of it checks does it change anything: the
// metadata becomes dir's trusted metadata and the targets go to store.
// Entry sizes are bounded by limits (targets by their listed length).
func ImportBundle(ctx context.Context, dir string, store TargetStore, r io.Reader, limits Limits, now func() time.Time) (*ImportResult, error) {
	if now == nil {
		now = time.Now
	}
	limits = limits.withDefaults()
	if _, err := os.Stat(filepath.Join(dir, fileName(metadata.TypeRoot))); err != nil {
		return nil, fmt.Errorf("no trusted root in %s: run init first: %w", dir, err)
	}
	work, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), ".rampart-import-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	meta := filepath.Join(work, "metadata")
	if err := cloneFlat(dir, meta); err != nil {
		return nil, err
	}
	b := &bundleReader{tr: tar.NewReader(r), files: map[string][]byte{}, limits: limits}
	if err := b.readMetadata(); err != nil {
		return nil, err
	}
	c, err := New(Config{MetadataURL: "bundle:", TargetsURL: "bundle:", Dir: meta, Fetcher: b, Limits: limits, Now: now})
	if err != nil {
		return nil, err
	}
	if err := c.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if _, err := c.ListTargets(ctx, 0); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	tr := c.Trusted()
	if err := b.checkAccepted(tr); err != nil {
		return nil, err
	}
	res := &ImportResult{RootVersion: tr.Versions[metadata.TypeRoot], TimestampVersion: tr.Versions[metadata.TypeTimestamp], Roles: len(tr.Targets)}
	staged, err := b.readTargets(ctx, c, filepath.Join(work, "targets"), res)
	if err != nil {
		return nil, err
	}
	if err := replaceFlat(meta, dir); err != nil {
		return nil, err
	}
	for _, s := range staged {
		p, err := store.path(s.t)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(s.tmp, p); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// bundleReader reads a bundle as a repository: the client's Fetcher over
// the metadata entries, which are read before any target.
type bundleReader struct {
	tr     *tar.Reader
	limits Limits
	files  map[string][]byte // metadata entries by name
	next   *tar.Header       // the first target entry, read past the metadata
	count  int
	total  int64 // metadata bytes read
}

// header returns the next entry, checked: a regular file with a clean,
// relative name.
func (b *bundleReader) header() (*tar.Header, error) {
	h, err := b.tr.Next()
	if err != nil {
		return nil, err
	}
	if b.count++; b.count > maxBundleEntries {
		return nil, fmt.Errorf("bundle: more than %d entries", maxBundleEntries)
	}
	if h.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("bundle: %q is not a regular file (type %q)", h.Name, h.Typeflag)
	}
	if h.Name == "" || path.Clean(h.Name) != h.Name || !filepath.IsLocal(filepath.FromSlash(h.Name)) || strings.Contains(h.Name, "\\") || path.IsAbs(h.Name) {
		return nil, fmt.Errorf("bundle: entry name %q is not a clean relative path", h.Name)
	}
	if h.Size < 0 {
		return nil, fmt.Errorf("bundle: %s: negative size", h.Name)
	}
	return h, nil
}

// readMetadata reads the root and metadata entries, each within the bound
// of its kind, up to the first target.
func (b *bundleReader) readMetadata() error {
	for {
		h, err := b.header()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var bound int64
		switch name := h.Name; {
		case strings.HasPrefix(name, bundleTargets):
			b.next = h
			return nil
		case strings.HasPrefix(name, bundleRoots) && strings.HasSuffix(name, ".root.json"):
			bound = b.limits.RootBytes
		case name == bundleMetadata+"timestamp.json":
			bound = b.limits.TimestampBytes
		case name == bundleMetadata+"snapshot.json":
			bound = b.limits.SnapshotBytes
		case strings.HasPrefix(name, bundleMetadata) && strings.HasSuffix(name, ".json"):
			bound = b.limits.TargetsBytes
		default:
			return fmt.Errorf("bundle: unexpected entry %q", name)
		}
		if h.Size > bound {
			return fmt.Errorf("bundle: %s: %d bytes exceeds the bound of %d", h.Name, h.Size, bound)
		}
		if b.total += h.Size; b.total > maxBundleMetadata {
			return fmt.Errorf("bundle: more than %d bytes of metadata", maxBundleMetadata)
		}
		if _, dup := b.files[h.Name]; dup {
			return fmt.Errorf("bundle: %s appears twice", h.Name)
		}
		data, err := io.ReadAll(io.LimitReader(b.tr, bound+1))
		if err != nil {
			return fmt.Errorf("bundle: %s: %w", h.Name, err)
		}
		if int64(len(data)) != h.Size {
			return fmt.Errorf("bundle: %s: %d bytes, its header says %d", h.Name, len(data), h.Size)
		}
		b.files[h.Name] = data
	}
}

// Fetch serves a metadata entry by the name the client asks for: roots by
// version, and the other documents by role with or without the version
// prefix of consistent snapshots (the client checks versions).
func (b *bundleReader) Fetch(_ context.Context, u string, maxLength int64) (io.ReadCloser, error) {
	name, ok := strings.CutPrefix(u, "bundle:/")
	if !ok {
		return nil, fmt.Errorf("bundle: nothing at %s", u)
	}
	name, err := url.PathUnescape(name)
	if err != nil {
		return nil, err
	}
	var candidates []string
	if _, rest, ok := strings.Cut(name, "."); ok && rest == "root.json" {
		candidates = []string{bundleRoots + name}
	} else {
		candidates = []string{bundleMetadata + name}
		if v, rest, ok := strings.Cut(name, "."); ok {
			if _, err := strconv.ParseUint(v, 10, 63); err == nil {
				candidates = append(candidates, bundleMetadata+rest)
			}
		}
	}
	for _, cand := range candidates {
		if data, ok := b.files[cand]; ok {
			if int64(len(data)) > maxLength {
				return nil, fmt.Errorf("bundle: %s: %w of %d bytes", cand, ErrTooLarge, maxLength)
			}
			return io.NopCloser(bytes.NewReader(data)), nil
		}
	}
	return nil, fmt.Errorf("bundle: no %s: %w", name, ErrNotFound)
}

// checkAccepted refuses metadata entries other than the documents the
// checks accepted (roles nothing delegates, a document of the trusted
// version with other bytes): a bundle holds what it is checked for, and
// nothing else. Root versions are checked by the chain, or older than
// the trusted root and unread.
func (b *bundleReader) checkAccepted(tr *Trusted) error {
	for _, name := range slices.Sorted(maps.Keys(b.files)) {
		role, ok := strings.CutPrefix(name, bundleMetadata)
		if !ok {
			continue
		}
		role = strings.TrimSuffix(role, ".json")
		var want []byte
		switch role {
		case metadata.TypeTimestamp:
			want = tr.Timestamp
		case metadata.TypeSnapshot:
			want = tr.Snapshot
		default:
			want = tr.Targets[role]
		}
		if !bytes.Equal(want, b.files[name]) {
			return fmt.Errorf("bundle: %s is not the %s metadata the checks accepted (not reached from the trusted metadata, or another copy of its version)", name, role)
		}
	}
	return nil
}

type stagedTarget struct {
	t   TargetInfo
	tmp string
}

// readTargets reads the target entries into dir, each checked against the
// verified metadata.
func (b *bundleReader) readTargets(ctx context.Context, c *Client, dir string, res *ImportResult) ([]stagedTarget, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var staged []stagedTarget
	seen := map[string]bool{}
	h := b.next
	for h != nil {
		p, _ := strings.CutPrefix(h.Name, bundleTargets)
		if !strings.HasPrefix(h.Name, bundleTargets) {
			return nil, fmt.Errorf("bundle: %s comes after the targets (metadata goes first)", h.Name)
		}
		if seen[p] {
			return nil, fmt.Errorf("bundle: %s appears twice", h.Name)
		}
		seen[p] = true
		t, err := c.Target(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("bundle: %s: %w", h.Name, err)
		}
		if h.Size != t.Length {
			return nil, fmt.Errorf("bundle: %s: %d bytes, metadata says %d", h.Name, h.Size, t.Length)
		}
		tmp := filepath.Join(dir, strconv.Itoa(len(staged)))
		if err := copyVerified(t, io.LimitReader(b.tr, t.Length+1), tmp); err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
		staged = append(staged, stagedTarget{t, tmp})
		res.Targets = append(res.Targets, p)
		h, err = b.header()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return staged, nil
}

// cloneFlat makes dst a copy of the regular files of directory src, with
// hard links where possible (the store replaces files, never edits them).
func cloneFlat(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		from, to := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if os.Link(from, to) == nil {
			continue
		}
		data, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		if err := os.WriteFile(to, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// replaceFlat makes the trusted metadata in dst that of src, file by file
// and each atomically, root first: as a refresh leaves it.
func replaceFlat(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	names := map[string]bool{}
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".tmp-") {
			names[e.Name()] = true
		}
	}
	order := slices.SortedFunc(maps.Keys(names), func(a, b string) int {
		rank := func(n string) int {
			switch n {
			case fileName(metadata.TypeRoot):
				return 0
			case fileName(metadata.TypeTimestamp):
				return 2
			}
			return 1
		}
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	for _, n := range order {
		data, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			return err
		}
		if old, err := os.ReadFile(filepath.Join(dst, n)); err == nil && bytes.Equal(old, data) {
			continue
		}
		if err := writeFileAtomic(filepath.Join(dst, n), data, 0o644); err != nil {
			return err
		}
	}
	old, err := os.ReadDir(dst)
	if err != nil {
		return err
	}
	for _, e := range old {
		if e.Type().IsRegular() && !names[e.Name()] && strings.HasSuffix(e.Name(), ".json") {
			os.Remove(filepath.Join(dst, e.Name())) // dropped by a key rotation
		}
	}
	return nil
}

// BundleRoot returns the oldest root version a bundle carries, read
// within the root bound, without checking it: for a first import that has
// no root obtained out of band to start from.
func BundleRoot(r io.Reader) ([]byte, error) {
	b := &bundleReader{tr: tar.NewReader(r), files: map[string][]byte{}, limits: Limits{}.withDefaults()}
	if err := b.readMetadata(); err != nil {
		return nil, err
	}
	var best []byte
	bestV := int64(-1)
	for name, data := range b.files {
		v, ok := strings.CutPrefix(name, bundleRoots)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(v, ".root.json"), 10, 64)
		if err == nil && n > 0 && (bestV < 0 || n < bestV) {
			best, bestV = data, n
		}
	}
	if best == nil {
		return nil, errors.New("bundle: no root")
	}
	return best, nil
}
