package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/trust"
)

// What this repository reads back from its metadata server is checked by
// the trust rules a client follows (package tuf/trust), with one
// difference: an expired role is reported, not refused (trust.ExpiryReport).
// A maintainer pulls, clones or publishes precisely to repair a repository
// whose roles expired (re-sign, rotate), and what is read is still checked
// for signatures, thresholds, versions, rollback, lengths and hashes.
// Clients keep refusing expired metadata, and publish refuses to send any.

// Bounds on what is read back from a server: the client's defaults.
const (
	maxServerRootBytes      = 1 << 20
	maxServerTimestampBytes = 1 << 20
	maxServerSnapshotBytes  = 64 << 20
)

// serverTrust starts the trust rules for reading a server from a trusted
// root, with now (nil: time.Now) as the reference time.
func serverTrust(rootData []byte, now func() time.Time) (*trust.Set, error) {
	var ref time.Time
	if now != nil {
		ref = now()
	}
	return trust.New(rootData, trust.Options{Time: ref, Expiry: trust.ExpiryReport})
}

// expiredRoles lists the expired roles set accepted, for a result.
func expiredRoles(set *trust.Set) []string {
	var out []string
	for _, e := range set.Expired() {
		out = append(out, fmt.Sprintf("%s expired at %s", e.File, e.Expires.UTC().Format(time.RFC3339)))
	}
	return out
}

// refused is an error of the trust rules about what gun on c serves.
func refused(c MetadataServer, gun string, err error) error {
	return fmt.Errorf("%s serves metadata that fails a check: %w", c.RepositoryURL(gun), err)
}

// fetchMeta reads a metadata file of gun from c, within the length a
// trusted document lists for it (m), or within limit when it lists none.
// The caller hands the bytes to the trust rules, which check them.
func fetchMeta(ctx context.Context, c MetadataServer, gun, file string, m metadata.MetaFile, limit int64) ([]byte, error) {
	if m.Length > 0 {
		limit = m.Length
	}
	b, err := c.Metadata(ctx, gun, file, limit)
	if err != nil {
		return nil, fmt.Errorf("reading the server's %s: %w", file, err)
	}
	return b, nil
}

// readServerRoot reads the current root.json of gun on c, only to learn its
// version: it is trusted once it chains to a root of this repository. A
// server that does not have the repository gives an error matching
// api.ErrNotFound.
func readServerRoot(ctx context.Context, c MetadataServer, gun string) (*metadata.Metadata[*metadata.Root], error) {
	b, err := c.Metadata(ctx, gun, "root.json", maxServerRootBytes)
	if err != nil {
		return nil, fmt.Errorf("reading the server's root.json: %w", err)
	}
	root, err := metadata.ParseRoot(b)
	if err != nil {
		return nil, fmt.Errorf("%s/metadata/root.json: %w", c.RepositoryURL(gun), err)
	}
	return root, nil
}

// fetchRootChain reads root versions of gun from c up to last and checks
// each as a client checks a root update (trust.Set.UpdateRoot): from set,
// or, when set is nil, from version 1, which must be signed by its own
// keys, with now as the reference time. It returns the Set trusting
// version last and the files fetched, for roots/.
func fetchRootChain(ctx context.Context, c MetadataServer, gun string, set *trust.Set, last int64, now func() time.Time) (*trust.Set, []change, error) {
	var files []change
	first := int64(1)
	if set != nil {
		first = set.Root().Signed.Version + 1
	}
	for v := first; v <= last; v++ {
		file := fmt.Sprintf("%d.root.json", v)
		data, err := fetchMeta(ctx, c, gun, file, metadata.MetaFile{}, maxServerRootBytes)
		if err != nil {
			return nil, nil, err
		}
		if set == nil {
			set, err = serverTrust(data, now)
			if err == nil && set.Root().Signed.Version != 1 {
				err = fmt.Errorf("%s holds root version %d", file, set.Root().Signed.Version)
			}
		} else {
			err = set.UpdateRoot(data)
		}
		if err != nil {
			return nil, nil, refused(c, gun, err)
		}
		files = append(files, change{path: rootsDir + "/" + file, data: data})
	}
	return set, files, nil
}

// loadServerSnapshot reads the timestamp of gun on c and the snapshot it
// names into set, which trusts the server's current root, checked as a
// client checks them (spec 5.4 and 5.5). The staged timestamp, when it is
// one the server signed, is the reference for rollback, as a client's
// cached timestamp is.
func (r *Repo) loadServerSnapshot(ctx context.Context, c MetadataServer, gun string, set *trust.Set) error {
	tb, err := fetchServerTimestamp(ctx, c, gun)
	if err != nil {
		return err
	}
	return r.checkServerSnapshot(ctx, c, gun, set, tb, nil)
}

// fetchServerTimestamp reads the current timestamp.json of gun on c,
// unchecked.
func fetchServerTimestamp(ctx context.Context, c MetadataServer, gun string) ([]byte, error) {
	return fetchMeta(ctx, c, gun, "timestamp.json", metadata.MetaFile{}, maxServerTimestampBytes)
}

// checkServerSnapshot is loadServerSnapshot with the timestamp tb already
// read from the server, and perhaps the snapshot too (pre, nil if not):
// used when it is of the version the timestamp names and within the
// length it lists, and checked all the same.
func (r *Repo) checkServerSnapshot(ctx context.Context, c MetadataServer, gun string, set *trust.Set, tb []byte, pre *prefetched) error {
	if local, err := r.rawRole(metadata.TypeTimestamp); err == nil {
		_ = set.LoadTimestamp(local) // not one the server signed: no reference
	}
	if err := set.UpdateTimestamp(tb); err != nil && !errors.Is(err, trust.ErrUnchanged) {
		return refused(c, gun, err)
	}
	sm, err := set.SnapshotMeta()
	if err != nil {
		return refused(c, gun, err)
	}
	var sb []byte
	if pre != nil && pre.version == sm.Version {
		if b, err := pre.get(); err == nil && (sm.Length == 0 || int64(len(b)) <= sm.Length) {
			sb = b
		}
	}
	if sb == nil {
		if sb, err = fetchMeta(ctx, c, gun, fmt.Sprintf("%d.snapshot.json", sm.Version), sm, maxServerSnapshotBytes); err != nil {
			return err
		}
	}
	if err := set.UpdateSnapshot(sb); err != nil {
		return refused(c, gun, err)
	}
	return nil
}

// prefetched is a snapshot read from the server before its timestamp said
// which version it serves: a guess, unchecked.
type prefetched struct {
	version int64
	get     func() ([]byte, error)
}

// snapshotHintFile remembers the snapshot version the server answered the
// last publish with, so that the next publish reads that snapshot at once,
// alongside root and timestamp, instead of after the timestamp names it.
// It is only a guess: nothing read is trusted for it, a wrong or missing
// hint costs the request it would have saved, and it is written without a
// sync. Its one line is "rampart snapshot hint 1 URL GUN VERSION".
const snapshotHintFile = "server-snapshot.txt"

const snapshotHintPrefix = "rampart snapshot hint 1 "

// readSnapshotHint returns the version the hint at p gives for gun on the
// server at url, or 0.
func readSnapshotHint(p, url, gun string) int64 {
	b, err := os.ReadFile(p)
	if err != nil || len(b) > 4096 {
		return 0
	}
	rest, ok := strings.CutPrefix(string(b), snapshotHintPrefix+url+" "+gun+" ")
	if !ok {
		return 0
	}
	v, err := strconv.ParseInt(strings.TrimSuffix(rest, "\n"), 10, 64)
	if err != nil || v < 1 {
		return 0
	}
	return v
}

// writeSnapshotHint records version as the hint at p; failing to is no
// error, since the hint only saves a request.
func writeSnapshotHint(p, url, gun string, version int64) {
	if version < 1 || readSnapshotHint(p, url, gun) == version {
		return
	}
	_ = os.WriteFile(p, []byte(fmt.Sprintf("%s%s %s %d\n", snapshotHintPrefix, url, gun, version)), 0o644)
}
