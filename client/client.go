// Package client is a TUF client: it runs the update workflow of the TUF
// specification (section 5) against a repository and downloads targets only
// after verifying them, which defeats the attacks the specification lists.
//
// The package is in three layers. The trust rules (package tuf/trust)
// decide what may be loaded, in which order and checked how, with no I/O.
// Policy (Limits) bounds sizes, rotations, delegations and transfer rates.
// I/O goes through one small Fetcher interface and a directory that holds
// the trusted metadata byte for byte, written atomically.
//
// The client reads the repositories other implementations write, as
// python-tuf and go-tuf read them (key IDs as names, RFC 3339 times with
// offsets, legacy ECDSA key forms: see package metadata and
// docs/compatibility.md); Config.StrictKeyIDs keeps the specification's key
// ID rule.
package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rampart-tuf/rampart/internal/atomicfile"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/trust"
)

// Limits is the client's policy: how much it is willing to download, follow
// and wait for. The zero value of a field means its default. (How long it
// waits is the Fetcher's policy: see HTTPFetcher.)
type Limits struct {
	// MaxRootRotations bounds the root versions followed in one refresh
	// (spec 5.3.3's Y); default 256. Past it, the refresh goes on with
	// the newest root reached, and the next refresh continues the chain.
	MaxRootRotations int
	// MaxDelegations bounds the roles visited in one target lookup
	// (spec 5.6.7.1); default 32.
	MaxDelegations int
	// Byte bounds of the files whose length no trusted metadata lists:
	// root (default 1 MiB), timestamp (default 1 MiB), snapshot when the
	// timestamp lists no length, and targets metadata when the snapshot
	// lists no length (default 64 MiB each: a 15 MB targets.json fits).
	// A listed length is the exact bound, as is a target's length.
	RootBytes      int64
	TimestampBytes int64
	SnapshotBytes  int64
	TargetsBytes   int64
}

func (l Limits) withDefaults() Limits {
	l.MaxRootRotations = cmp.Or(l.MaxRootRotations, 256)
	l.MaxDelegations = cmp.Or(l.MaxDelegations, 32)
	l.RootBytes = cmp.Or(l.RootBytes, 1<<20)
	l.TimestampBytes = cmp.Or(l.TimestampBytes, 1<<20)
	l.SnapshotBytes = cmp.Or(l.SnapshotBytes, 64<<20)
	l.TargetsBytes = cmp.Or(l.TargetsBytes, 64<<20)
	return l
}

// Config configures a Client.
type Config struct {
	MetadataURL string // base URL of the metadata, e.g. https://example.com/metadata
	TargetsURL  string // base URL of the targets
	// Dir holds the trusted metadata. It must contain a trusted root.json
	// (see Init).
	Dir string
	// Fetcher fetches from the repository; default an HTTPFetcher.
	Fetcher Fetcher
	Limits  Limits
	// Now returns the reference time of each refresh; default time.Now.
	Now func() time.Time
	// StrictKeyIDs refuses metadata listing a key under an ID that is not
	// the key's hash (see trust.Options); by default key IDs are names.
	StrictKeyIDs bool
}

// Client is a TUF client of one repository. It is safe for concurrent use
// and can refresh any number of times.
type Client struct {
	cfg    Config
	limits Limits
	store  store

	mu      sync.Mutex
	trusted *trust.Set // the outcome of the last successful refresh, or nil
}

// Init makes dir a client state directory that trusts rootData. It checks
// that rootData is root metadata signed by a threshold of its own root keys
// (its expiry may be past, as the specification allows for the first root),
// but does nothing on the network.
func Init(dir string, rootData []byte) error {
	return InitWithOptions(dir, rootData, trust.Options{})
}

// InitWithOptions is Init that also checks rootData against opts (such as
// the strict key ID rule).
func InitWithOptions(dir string, rootData []byte, opts trust.Options) error {
	root, err := metadata.ParseRoot(rootData)
	if err != nil {
		return fmt.Errorf("trusted root: %w", err)
	}
	if opts.StrictKeyIDs {
		if err := metadata.CheckKeyIDs(root); err != nil {
			return fmt.Errorf("trusted root: %w", err)
		}
	}
	if _, err := trust.New(rootData, opts); err != nil {
		return fmt.Errorf("trusted root: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return store{dir}.write(metadata.TypeRoot, rootData)
}

// New returns a client.
func New(cfg Config) (*Client, error) {
	if cfg.MetadataURL == "" {
		return nil, errors.New("client: no metadata URL")
	}
	if cfg.Dir == "" {
		return nil, errors.New("client: no metadata directory")
	}
	if cfg.Fetcher == nil {
		cfg.Fetcher = &HTTPFetcher{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.MetadataURL = strings.TrimSuffix(cfg.MetadataURL, "/")
	cfg.TargetsURL = strings.TrimSuffix(cfg.TargetsURL, "/")
	st := store{cfg.Dir}
	st.removeStaleTemp(time.Now().Add(-staleTempAge))
	return &Client{cfg: cfg, limits: cfg.Limits.withDefaults(), store: st}, nil
}

// Refresh updates the top-level metadata: root, timestamp, snapshot and
// targets, in that order, as the specification requires. On failure the
// trusted metadata on disk is what it was before the failed step.
func (c *Client) Refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.refresh(ctx)
	return err
}

func (c *Client) refresh(ctx context.Context) (*trust.Set, error) {
	c.trusted = nil
	ref := c.cfg.Now()
	rootData, err := c.store.read(metadata.TypeRoot, c.limits.RootBytes)
	if err != nil {
		return nil, err
	}
	if rootData == nil {
		return nil, fmt.Errorf("no trusted root in %s: run init first", c.cfg.Dir)
	}
	set, err := trust.New(rootData, trust.Options{Time: ref, StrictKeyIDs: c.cfg.StrictKeyIDs})
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	if err := c.updateRoot(ctx, set); err != nil {
		return nil, err
	}
	if err := c.updateTimestamp(ctx, set); err != nil {
		return nil, err
	}
	if err := c.updateSnapshot(ctx, set); err != nil {
		return nil, err
	}
	if err := c.updateTargets(ctx, set, metadata.TypeTargets, metadata.TypeRoot); err != nil {
		return nil, err
	}
	c.trusted = set
	return set, nil
}

func (c *Client) updateRoot(ctx context.Context, set *trust.Set) error {
	for range c.limits.MaxRootRotations {
		next := set.Root().Signed.Version + 1
		data, err := readAll(ctx, c.cfg.Fetcher, c.metaURL(fmt.Sprintf("%d.root.json", next)), c.limits.RootBytes)
		if errors.Is(err, ErrNotFound) {
			break
		}
		if err != nil {
			return fmt.Errorf("%d.root.json: %w", next, err)
		}
		if err := set.UpdateRoot(data); err != nil {
			return err
		}
		if set.RotatedKeys() {
			// Fast-forward attack recovery (5.3.11): versions pushed ahead
			// with the old timestamp or snapshot keys must not block the
			// new keys' metadata. The caches go before the new root is
			// persisted, so that an interrupted update cannot keep them.
			if err := c.store.remove(metadata.TypeTimestamp); err != nil {
				return err
			}
			if err := c.store.remove(metadata.TypeSnapshot); err != nil {
				return err
			}
		}
		if err := c.store.write(metadata.TypeRoot, data); err != nil {
			return err
		}
	}
	return set.CheckRootExpiry()
}

func (c *Client) updateTimestamp(ctx context.Context, set *trust.Set) error {
	if local, err := c.store.read(metadata.TypeTimestamp, c.limits.TimestampBytes); err == nil && local != nil {
		_ = set.LoadTimestamp(local) // a cache that does not verify is ignored
	}
	data, err := readAll(ctx, c.cfg.Fetcher, c.metaURL("timestamp.json"), c.limits.TimestampBytes)
	if err != nil {
		return fmt.Errorf("timestamp.json: %w", err)
	}
	err = set.UpdateTimestamp(data)
	if errors.Is(err, trust.ErrUnchanged) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.store.write(metadata.TypeTimestamp, data)
}

func (c *Client) updateSnapshot(ctx context.Context, set *trust.Set) error {
	if local, err := c.store.read(metadata.TypeSnapshot, c.limits.SnapshotBytes); err == nil && local != nil {
		_ = set.LoadSnapshot(local)
		if set.CheckSnapshot() == nil {
			return nil // the cached snapshot is the current one
		}
	}
	meta, err := set.SnapshotMeta()
	if err != nil {
		return err
	}
	name := "snapshot.json"
	if set.Root().Signed.ConsistentSnapshot {
		name = fmt.Sprintf("%d.snapshot.json", meta.Version)
	}
	data, err := readAll(ctx, c.cfg.Fetcher, c.metaURL(name), cmp.Or(meta.Length, c.limits.SnapshotBytes))
	if err != nil {
		return fmt.Errorf("snapshot.json: %w", err)
	}
	if err := set.UpdateSnapshot(data); err != nil {
		return err
	}
	return c.store.write(metadata.TypeSnapshot, data)
}

// updateTargets loads the metadata of role, delegated by parent, from the
// cache when it is current and from the repository otherwise.
func (c *Client) updateTargets(ctx context.Context, set *trust.Set, role, parent string) error {
	if set.Targets(role) != nil {
		return set.UpdateTargets(role, parent, nil)
	}
	meta, err := set.TargetsMeta(role)
	if err != nil {
		return err
	}
	bound := cmp.Or(meta.Length, c.limits.TargetsBytes)
	if local, err := c.store.read(role, bound); err == nil && local != nil {
		if set.UpdateTargets(role, parent, local) == nil {
			return nil
		}
	}
	name := url.PathEscape(role) + ".json"
	if set.Root().Signed.ConsistentSnapshot {
		name = fmt.Sprintf("%d.%s", meta.Version, name)
	}
	data, err := readAll(ctx, c.cfg.Fetcher, c.metaURL(name), bound)
	if err != nil {
		return fmt.Errorf("%s.json: %w", role, err)
	}
	if err := set.UpdateTargets(role, parent, data); err != nil {
		return err
	}
	return c.store.write(role, data)
}

func (c *Client) metaURL(name string) string { return c.cfg.MetadataURL + "/" + name }

// TargetInfo is a target file as trusted metadata describes it.
type TargetInfo struct {
	Path string
	metadata.TargetFile
	Role string // the role whose metadata lists it

	naming naming // how the repository names the file, as of the lookup
}

type naming uint8

const (
	namingUnknown    naming = iota // not from a lookup: ask the trusted root
	namingPlain                    // dir/name
	namingConsistent               // dir/HASH.name
)

func namingOf(set *trust.Set) naming {
	if set.Root().Signed.ConsistentSnapshot {
		return namingConsistent
	}
	return namingPlain
}

// ErrUnknownTarget reports a target that no trusted role lists.
var ErrUnknownTarget = trust.ErrUnknownTarget

// Target refreshes when this client has not yet, and looks targetPath up
// through the delegations: a pre-order depth-first search in delegation
// order that honours terminating roles, visits each role once, and visits
// at most Limits.MaxDelegations roles.
func (c *Client) Target(ctx context.Context, targetPath string) (TargetInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set, err := c.current(ctx)
	if err != nil {
		return TargetInfo{}, err
	}
	f, err := trust.FindTarget(targetPath, c.limits.MaxDelegations, c.loader(ctx, set))
	if err != nil {
		return TargetInfo{}, err
	}
	return TargetInfo{Path: f.Path, TargetFile: f.TargetFile, Role: f.Role, naming: namingOf(set)}, nil
}

// current returns the trusted metadata, refreshing first when this client
// has not yet. The caller holds c.mu.
func (c *Client) current(ctx context.Context) (*trust.Set, error) {
	if c.trusted != nil {
		return c.trusted, nil
	}
	return c.refresh(ctx)
}

// loader loads targets roles into set for a delegation walk: from the
// cache when current, from the repository otherwise.
func (c *Client) loader(ctx context.Context, set *trust.Set) trust.LoadFunc {
	return func(role, parent string) (*metadata.Targets, error) {
		if err := c.updateTargets(ctx, set, role, parent); err != nil {
			return nil, err
		}
		return set.Targets(role).Signed, nil
	}
}

// TargetURL returns where the repository keeps the target: with consistent
// snapshots (as the root trusted when t was looked up says), under its
// hash-prefixed name "dir/HASH.name".
func (c *Client) TargetURL(t TargetInfo) string {
	p := t.Path
	mode := t.naming
	if mode == namingUnknown {
		mode = namingPlain
		c.mu.Lock()
		if c.trusted != nil {
			mode = namingOf(c.trusted)
		}
		c.mu.Unlock()
	}
	if mode == namingConsistent {
		p = t.ConsistentPath(t.Path)
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return c.cfg.TargetsURL + "/" + strings.Join(segs, "/")
}

// Download fetches the target and writes it to w while checking it: at most
// its length is read, and the content must match its length and every hash
// before Download returns nil. w may have received unverified bytes when
// Download fails; DownloadFile never exposes them.
func (c *Client) Download(ctx context.Context, t TargetInfo, w io.Writer) error {
	if c.cfg.TargetsURL == "" {
		return errors.New("client: no targets URL")
	}
	rc, err := c.cfg.Fetcher.Fetch(ctx, c.TargetURL(t), t.Length)
	if err != nil {
		return fmt.Errorf("target %s: %w", t.Path, err)
	}
	defer rc.Close()
	hv := t.Hashes.NewVerifier()
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	n, err := io.CopyBuffer(io.MultiWriter(w, hv), rc, *buf)
	if err != nil {
		return fmt.Errorf("target %s: %w", t.Path, err)
	}
	if n != t.Length {
		return fmt.Errorf("target %s: length %d, metadata says %d", t.Path, n, t.Length)
	}
	if err := hv.Check(); err != nil {
		return fmt.Errorf("target %s: %w", t.Path, err)
	}
	return nil
}

// copyBuffers keep the buffers of Download: a mirror downloads many
// thousand targets, each of which would otherwise allocate its own.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// DownloadFile downloads the target to path, unless path already holds
// exactly that content. The file appears only once verified, atomically;
// on failure nothing is left at path (an existing file stays as it was).
func (c *Client) DownloadFile(ctx context.Context, t TargetInfo, dst string) (downloaded bool, err error) {
	return c.DownloadFileProgress(ctx, t, dst, nil)
}

// DownloadFileProgress is DownloadFile that also writes every byte received
// to progress, when not nil, to report progress.
//
// DownloadFile only ever replaces a regular file: when dst is a symlink, a
// FIFO, a device or a directory it fails and leaves dst alone.
func (c *Client) DownloadFileProgress(ctx context.Context, t TargetInfo, dst string, progress io.Writer) (downloaded bool, err error) {
	if err := atomicfile.CheckReplaceable(dst); err != nil {
		return false, err
	}
	if verifyFile(dst, t) == nil {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return false, err
	}
	f, err := atomicfile.Create(dst, 0o600)
	if err != nil {
		return false, err
	}
	defer f.Abort()
	var w io.Writer = f
	if progress != nil {
		w = io.MultiWriter(f, progress)
	}
	if err := c.Download(ctx, t, w); err != nil {
		return false, err
	}
	return true, f.Commit()
}

// verifyFile checks a file already on disk against the target.
func verifyFile(p string, t TargetInfo) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() != t.Length {
		return errors.New("length differs")
	}
	hv := t.Hashes.NewVerifier()
	if _, err := io.Copy(hv, f); err != nil {
		return err
	}
	return hv.Check()
}

// ListTargets returns every target a lookup (Target) finds, each once, as
// the role a lookup finds it in lists it: in the order of the roles that
// list them, sorted within a role. It loads the metadata of every role the
// targets metadata delegates to, at most maxRoles of them (all when
// maxRoles is 0); past that it returns what it found with an error.
func (c *Client) ListTargets(ctx context.Context, maxRoles int) ([]TargetInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	found, err := trust.ListTargets(maxRoles, c.limits.MaxDelegations, c.loader(ctx, set))
	out := make([]TargetInfo, len(found))
	for i, f := range found {
		out[i] = TargetInfo{Path: f.Path, TargetFile: f.TargetFile, Role: f.Role, naming: namingOf(set)}
	}
	var le *trust.RoleLimitError
	if errors.As(err, &le) {
		return out, fmt.Errorf("listing stopped after %d roles", le.Visited)
	}
	return out, err
}
