// Package mirror copies a TUF repository into a directory that any static
// web server can serve, verifying everything as a client does before it
// writes it.
//
// The mirror is a TUF client of the origin (package client, with its trust
// rules): it walks the root chain from a root obtained out of band, checks
// timestamp, snapshot and every targets role the delegations reach, and
// downloads each target it copies within its length, checking its hashes.
// Only then does it write, in the layout the origin's root implies:
//
//	DIR/metadata/N.root.json       every root version from the given one on
//	DIR/metadata/root.json         the newest root
//	DIR/metadata/timestamp.json    the entry point, replaced last
//	DIR/metadata/V.ROLE.json       snapshot and targets roles, with
//	                               consistent snapshots; ROLE.json without
//	DIR/targets/dir/HASH.name      targets, with consistent snapshots (one
//	                               name per listed hash); dir/name without
//	DIR/.rampart-mirror/           the mirror's own trusted metadata
//
// Clients use the mirror with the origin's root, unchanged.
//
// # Consistency for readers
//
// A run writes nothing until the whole new state is verified. It then puts
// files in place bottom-up (targets, delegated roles, targets, snapshot,
// new root versions) with atomic renames and replaces timestamp.json last
// (a directory of targets that DIR lacks goes in whole, with one rename),
// so a reader
// that fetches timestamp.json after the run sees the new state and one
// that fetched it before sees the old one. With consistent snapshots every
// file but root.json and timestamp.json has a name of its own per version
// or content and is only ever added, so a reader whose requests straddle a
// run still finds exactly the files its timestamp leads to. Without
// consistent snapshots the repository's own names are reused by every
// version; the new files are prepared in full beforehand and renamed in one
// short burst, but a reader that fetched timestamp.json before the burst
// and the files below it after will find versions that do not match, which
// its TUF client refuses (and a retry succeeds). That is the limit of such
// repositories, and the reason TUF has consistent snapshots. Likewise, when
// a new root rotates the timestamp or snapshot keys, a reader between the
// two renames that put the new root and then timestamp.json in place finds
// a root that does not sign the old timestamp; its client refuses and a
// retry succeeds.
//
// A run that fails, for any reason, changes nothing in DIR. Run again, the
// mirror fetches only what changed: the client's cache of trusted metadata
// skips unchanged roles, and targets already in DIR are not fetched again.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// Options configure a mirror run.
type Options struct {
	// URL is the origin's base URL, with metadata/ and targets/ below it.
	// MetadataURL and TargetsURL, when set, override the two.
	URL                     string
	MetadataURL, TargetsURL string
	// Dir is the mirror directory.
	Dir string
	// Root is a root of the origin obtained out of band. The first run
	// starts its chain of trust there; later runs check that it is a
	// version of the chain the mirror already trusts.
	Root []byte
	// Targets are the patterns (as in delegations: "*" does not match
	// "/") of the targets to copy; nil copies all of them, and an empty
	// pattern matches nothing.
	Targets []string
	// Fetcher fetches from the origin; default a client.HTTPFetcher with
	// HTTPClient(Workers).
	Fetcher client.Fetcher
	Limits  client.Limits
	// Workers is the number of targets downloaded at once; default 8.
	Workers int
	// Progress, when set, receives progress bars (drawn on terminals only).
	Progress io.Writer
	// Now returns the reference time; default time.Now.
	Now func() time.Time
}

// Result says what a run did.
type Result struct {
	RootVersion      int64
	TimestampVersion int64
	// Metadata are the files written under metadata/, in the order they
	// were put in place.
	Metadata []string
	// Targets and TargetBytes count the target files copied; Matched
	// counts the targets the patterns selected.
	Targets     int
	TargetBytes int64
	Matched     int
}

// UpToDate reports whether the run found nothing new.
func (r *Result) UpToDate() bool { return len(r.Metadata) == 0 && r.Targets == 0 }

// Run mirrors the origin into o.Dir.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.MetadataURL == "" {
		if o.URL == "" {
			return nil, errors.New("mirror: no origin URL")
		}
		o.MetadataURL = strings.TrimSuffix(o.URL, "/") + "/metadata"
	}
	if o.TargetsURL == "" && o.URL != "" {
		o.TargetsURL = strings.TrimSuffix(o.URL, "/") + "/targets"
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Fetcher == nil {
		o.Fetcher = &client.HTTPFetcher{Client: HTTPClient(o.Workers)}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.Root) == 0 {
		return nil, errors.New("mirror: no trusted root (--root)")
	}
	if err := os.MkdirAll(filepath.Join(o.Dir, stateDir), 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockDir(filepath.Join(o.Dir, stateDir))
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := openState(o.Dir, o.MetadataURL)
	if err != nil {
		return nil, err
	}
	work, err := st.begin(o.Root)
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(work.dir)
		}
	}()
	res, changed, err := run(ctx, o, st, work)
	if err != nil {
		return nil, err
	}
	if !changed {
		return res, nil // the state of the last run stands
	}
	if err := st.commit(work); err != nil {
		return nil, err
	}
	done = true
	return res, nil
}

// run mirrors the origin into o.Dir, keeping the client's state in work,
// and reports whether anything changed, in DIR or in the state.
func run(ctx context.Context, o Options, st *state, work *workState) (res *Result, changed bool, err error) {
	rec := &recorder{Fetcher: o.Fetcher, prefix: strings.TrimSuffix(o.MetadataURL, "/") + "/", roots: map[int64][]byte{}}
	c, err := client.New(client.Config{
		MetadataURL: o.MetadataURL, TargetsURL: o.TargetsURL, Dir: work.metadataDir(),
		Fetcher: rec, Limits: o.Limits, Now: o.Now,
	})
	if err != nil {
		return nil, false, err
	}
	if err := c.Refresh(ctx); err != nil {
		return nil, false, fmt.Errorf("%s: %w", o.MetadataURL, err)
	}
	list, err := c.ListTargets(ctx, 0)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", o.MetadataURL, err)
	}
	tr := c.Trusted()
	if tr == nil {
		return nil, false, errors.New("mirror: the refresh left no trusted metadata")
	}
	res = &Result{RootVersion: tr.Versions[metadata.TypeRoot], TimestampVersion: tr.Versions[metadata.TypeTimestamp]}

	roots, err := rootChain(work.start, tr, rec.roots)
	if err != nil {
		return nil, false, err
	}
	if err := checkGivenRoot(o.Root, roots, o.Dir); err != nil {
		return nil, false, err
	}

	var picked []client.TargetInfo
	for _, t := range list {
		if o.Targets == nil || (&metadata.DelegatedRole{Paths: o.Targets}).MatchesPath(t.Path) {
			picked = append(picked, t)
		}
	}
	res.Matched = len(picked)

	w := &writer{dir: o.Dir, staging: work.stagingDir()}
	if st.current != "" && !tr.ConsistentSnapshot {
		w.lastVerified = readVerified(st.current)
	}
	if err := w.stageMetadata(tr, roots); err != nil {
		return nil, false, err
	}
	if err := w.fetchTargets(ctx, c, picked, tr.ConsistentSnapshot, o.Workers, o.Progress, res); err != nil {
		return nil, false, err
	}
	if st.current != "" && res.Targets == 0 && w.hashed == 0 && !w.anyStaged() {
		// Nothing new: neither DIR nor the state need change (a file
		// hashed again would go into the state's record).
		return res, false, nil
	}
	if res.Metadata, err = w.commit(); err != nil {
		return nil, false, err
	}
	if !tr.ConsistentSnapshot {
		// DIR holds the new state already: without the record, the
		// next run only hashes the files again.
		w.recordFetched()
		if w.nowVerified.write(work.dir, time.Now()) != nil {
			os.Remove(filepath.Join(work.dir, verifiedName))
		}
	}
	return res, true, nil
}

// HTTPClient returns an HTTP client that keeps a connection to the origin
// open for each of workers downloads at once (http.DefaultClient keeps
// two, and would open a new connection for most targets).
func HTTPClient(workers int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = max(workers, 2)
	return &http.Client{Transport: tr}
}

// recorder keeps the root versions the client fetches: the chain it
// verifies passes through versions that its trusted state does not keep.
type recorder struct {
	client.Fetcher
	prefix string

	mu    sync.Mutex
	roots map[int64][]byte
}

func (r *recorder) Fetch(ctx context.Context, u string, maxLength int64) (io.ReadCloser, error) {
	rc, err := r.Fetcher.Fetch(ctx, u, maxLength)
	if err != nil {
		return nil, err
	}
	name, ok := strings.CutPrefix(u, r.prefix)
	if !ok || !strings.HasSuffix(name, ".root.json") {
		return rc, nil
	}
	var v int64
	if _, err := fmt.Sscanf(name, "%d.root.json", &v); err != nil || fmt.Sprintf("%d.root.json", v) != name {
		return rc, nil
	}
	return &recording{ReadCloser: rc, done: func(b []byte) {
		r.mu.Lock()
		r.roots[v] = b
		r.mu.Unlock()
	}}, nil
}

type recording struct {
	io.ReadCloser
	buf  []byte
	done func([]byte)
}

func (r *recording) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.buf = append(r.buf, p[:n]...)
	if err == io.EOF {
		r.done(r.buf)
	}
	return n, err
}

// rootChain returns the root versions to write, from the version the run
// started from to the one now trusted. The versions fetched in this run
// are those the client verified one after the other (a refresh fails on
// any it does not accept); the one it started from is already in DIR or,
// on a first run, the root given.
func rootChain(startRoot []byte, tr *client.Trusted, fetched map[int64][]byte) (map[int64][]byte, error) {
	md, err := metadata.ParseRoot(startRoot)
	if err != nil {
		return nil, fmt.Errorf("mirror: the trusted root: %w", err)
	}
	start, last := md.Signed.Version, tr.Versions[metadata.TypeRoot]
	roots := map[int64][]byte{start: startRoot}
	for v := start + 1; v <= last; v++ {
		data, ok := fetched[v]
		if !ok {
			return nil, fmt.Errorf("mirror: root version %d was trusted but not fetched", v)
		}
		roots[v] = data
	}
	if string(roots[last]) != string(tr.Root) {
		return nil, fmt.Errorf("mirror: %d.root.json differs from the root the client trusts", last)
	}
	return roots, nil
}

// checkGivenRoot makes sure the root given on the command line belongs to
// the chain the mirror trusts: a mirror directory copies one repository.
func checkGivenRoot(given []byte, roots map[int64][]byte, dir string) error {
	md, err := metadata.ParseRoot(given)
	if err != nil {
		return fmt.Errorf("the given root: %w", err)
	}
	v := md.Signed.Version
	have, ok := roots[v]
	if !ok {
		have, err = os.ReadFile(filepath.Join(dir, "metadata", fmt.Sprintf("%d.root.json", v)))
		if os.IsNotExist(err) {
			return fmt.Errorf("the given root is version %d, which %s does not hold: it mirrors a repository from a later root on", v, dir)
		}
		if err != nil {
			return err
		}
	}
	if string(have) != string(given) {
		return fmt.Errorf("the given root is not version %d of the repository %s mirrors (%s differs): give the root of that repository, or mirror into another directory", v, dir, fmt.Sprintf("metadata/%d.root.json", v))
	}
	return nil
}

// metaName is the name under metadata/ of a role's document as the
// origin's root names it.
func metaName(role string, version int64, consistent bool) string {
	name := role + ".json"
	if consistent {
		name = fmt.Sprintf("%d.%s", version, name)
	}
	return name
}

// targetNames are the names under targets/ a client may fetch a target by.
func targetNames(t client.TargetInfo, consistent bool) []string {
	if !consistent {
		return []string{t.Path}
	}
	dir, base := path.Split(t.Path)
	var names []string
	for _, h := range [][]byte{t.Hashes.SHA256, t.Hashes.SHA512} {
		if h != nil {
			names = append(names, fmt.Sprintf("%s%x.%s", dir, h, base))
		}
	}
	return names
}

// localPath turns a name below metadata/ or targets/ into a path below
// base, refusing names that would leave it.
func localPath(base, name string) (string, error) {
	if err := metadata.CheckTargetPath(name); err != nil {
		return "", fmt.Errorf("not a safe file name below %s: %w", base, err)
	}
	p := filepath.FromSlash(name)
	if !filepath.IsLocal(p) {
		return "", fmt.Errorf("%q is not a safe file name below %s", name, base)
	}
	return filepath.Join(base, p), nil
}
