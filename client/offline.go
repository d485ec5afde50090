package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rampart-tuf/rampart/internal/atomicfile"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/trust"
)

// ErrOffline reports something an offline client would have had to fetch.
var ErrOffline = errors.New("not in the trusted metadata on disk, and the client is offline")

// IsExpired reports whether err is, or wraps, a check that failed because
// metadata has expired.
func IsExpired(err error) bool {
	var e *trust.ExpiredError
	return errors.As(err, &e)
}

// offlineFetcher is the fetcher of an offline client: it fetches nothing.
type offlineFetcher struct{}

func (offlineFetcher) Fetch(_ context.Context, url string, _ int64) (io.ReadCloser, error) {
	return nil, fmt.Errorf("%s: %w", url, ErrOffline)
}

// RefreshOffline makes the client work from the metadata already trusted
// on disk, with no network access from now on: the root, timestamp and
// snapshot in the state directory are checked as a refresh checks its
// cache (signatures by the trusted root's keys, the snapshot version the
// timestamp lists, and every targets role against the lengths, hashes and
// versions the snapshot lists, by the keys its delegator trusts). Metadata
// that has expired is refused unless allowExpired; Expired then says which.
// Lookups and listings that need a role not on disk fail with ErrOffline.
func (c *Client) RefreshOffline(allowExpired bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg.Fetcher = offlineFetcher{}
	c.trusted = nil
	opts := trust.Options{Time: c.cfg.Now(), StrictKeyIDs: c.cfg.StrictKeyIDs}
	if allowExpired {
		opts.Expiry = trust.ExpiryReport // accepted, and named by Expired
	}
	rootData, err := c.store.read(metadata.TypeRoot, c.limits.RootBytes)
	if err != nil {
		return err
	}
	if rootData == nil {
		return fmt.Errorf("no trusted root in %s: run init first", c.cfg.Dir)
	}
	set, err := trust.New(rootData, opts)
	if err != nil {
		return fmt.Errorf("trusted root: %w", err)
	}
	if err := set.CheckRootExpiry(); err != nil {
		return err
	}
	for _, step := range []struct {
		role  string
		bound int64
		load  func([]byte) error
	}{
		{metadata.TypeTimestamp, c.limits.TimestampBytes, set.LoadTimestamp},
		{metadata.TypeSnapshot, c.limits.SnapshotBytes, set.LoadSnapshot},
	} {
		data, err := c.store.read(step.role, step.bound)
		if err != nil {
			return err
		}
		if data == nil {
			return fmt.Errorf("no trusted %s.json in %s: the client has never refreshed nor imported a bundle", step.role, c.cfg.Dir)
		}
		if err := step.load(data); err != nil {
			return err
		}
	}
	if err := set.CheckSnapshot(); err != nil {
		return err
	}
	if err := c.updateTargets(context.Background(), set, metadata.TypeTargets, metadata.TypeRoot); err != nil {
		return err
	}
	c.trusted = set
	return nil
}

// Expired names the trusted documents (root, timestamp, snapshot and the
// targets roles loaded so far) that have expired by now, with their
// expiry: what an offline client that allows expired metadata relies on.
func (c *Client) Expired(now time.Time) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	set := c.trusted
	if set == nil {
		return nil
	}
	var out []string
	note := func(name string, md *metadata.Common) {
		if md.IsExpired(now) {
			out = append(out, fmt.Sprintf("%s (expired %s)", name, md.Expires.UTC().Format(time.RFC3339)))
		}
	}
	note("root.json", &set.Root().Signed.Common)
	if ts := set.Timestamp(); ts != nil {
		note("timestamp.json", &ts.Signed.Common)
	}
	if sn := set.Snapshot(); sn != nil {
		note("snapshot.json", &sn.Signed.Common)
		for _, file := range slices.Sorted(maps.Keys(sn.Signed.Meta)) {
			if doc := set.Targets(strings.TrimSuffix(file, ".json")); doc != nil {
				note(file, &doc.Signed.Common)
			}
		}
	}
	return out
}

// TargetStore keeps target content on disk by hash (DIR/sha256/HEX, or
// DIR/sha512/HEX for targets listed with SHA-512 only), for clients that
// work without the network. Content is checked against the target's
// length and hashes both when it is stored and when it is read.
type TargetStore struct{ Dir string }

func (s TargetStore) path(t TargetInfo) (string, error) {
	switch {
	case t.Hashes.SHA256 != nil:
		return filepath.Join(s.Dir, "sha256", fmt.Sprintf("%x", t.Hashes.SHA256)), nil
	case t.Hashes.SHA512 != nil:
		return filepath.Join(s.Dir, "sha512", fmt.Sprintf("%x", t.Hashes.SHA512)), nil
	}
	return "", fmt.Errorf("target %s: no SHA-256 or SHA-512 hash listed", t.Path)
}

// Has reports whether the store holds the target, checked.
func (s TargetStore) Has(t TargetInfo) bool {
	p, err := s.path(t)
	return err == nil && verifyFile(p, t) == nil
}

// Put stores the content r holds for t, reading at most its length; it
// fails, storing nothing, unless the content matches.
func (s TargetStore) Put(t TargetInfo, r io.Reader) error {
	p, err := s.path(t)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return copyVerified(t, io.LimitReader(r, t.Length+1), p)
}

// CopyTo writes the stored target to dst once verified, atomically,
// unless dst already holds it. It fails with an error wrapping ErrOffline
// when the store does not hold it.
func (s TargetStore) CopyTo(t TargetInfo, dst string) (copied bool, err error) {
	if err := atomicfile.CheckReplaceable(dst); err != nil {
		return false, err
	}
	if verifyFile(dst, t) == nil {
		return false, nil
	}
	p, err := s.path(t)
	if err != nil {
		return false, err
	}
	f, err := os.Open(p)
	if os.IsNotExist(err) {
		return false, fmt.Errorf("target %s: %w (no copy in %s)", t.Path, ErrOffline, s.Dir)
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return false, err
	}
	return true, copyVerified(t, io.LimitReader(f, t.Length+1), dst)
}

// copyVerified writes r to dst through a temporary file that is renamed
// into place only once its length and hashes match t.
func copyVerified(t TargetInfo, r io.Reader, dst string) error {
	f, err := atomicfile.Create(dst, 0o600)
	if err != nil {
		return err
	}
	defer f.Abort()
	hv := t.Hashes.NewVerifier()
	n, err := io.Copy(io.MultiWriter(f, hv), r)
	if err != nil {
		return err
	}
	if n != t.Length {
		return fmt.Errorf("target %s: length %d, metadata says %d", t.Path, n, t.Length)
	}
	if err := hv.Check(); err != nil {
		return fmt.Errorf("target %s: %w", t.Path, err)
	}
	return f.Commit()
}
