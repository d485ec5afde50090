package repo

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-tuf/rampart/api"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// ServerResult says what PublishToServer did.
type ServerResult struct {
	URL string
	GUN string
	// RootVersions are the root versions sent, in order.
	RootVersions []int64
	// Roles are the targets roles sent, sorted, and "snapshot" when the
	// repository signs its own snapshot.
	Roles []string
	// Target content: files uploaded, their bytes, and files the server
	// already had.
	TargetsUploaded int
	TargetBytes     int64
	TargetsPresent  int
	// NoContent is set when no target content was looked at or uploaded:
	// the content is hosted elsewhere, or ServerOptions.NoContent asked so.
	NoContent bool
	// The server's versions after the publish.
	RootVersion      int64
	SnapshotVersion  int64
	TimestampVersion int64
	// UpToDate is true when the server already had everything.
	UpToDate bool
}

// Server returns the metadata server the repository publishes to, or nil.
func (r *Repo) Server() *ServerConfig {
	if r.cfg.Server == nil {
		return nil
	}
	s := *r.cfg.Server
	return &s
}

// serverState is what a server holds of a repository, read through its
// public TUF endpoints and checked against this repository's roots.
type serverState struct {
	exists           bool
	rootVersion      int64
	snapshotVersion  int64
	timestampVersion int64
	meta             map[string]metadata.MetaFile // the server's snapshot
}

// serverState reads the state of gun on c: its current root, which must
// be one of this repository's root versions, and the timestamp and
// snapshot, checked against that root as a client checks them (see
// loadServerSnapshot). A server that does not have the repository gives an
// empty state.
func (r *Repo) serverState(ctx context.Context, c MetadataServer, gun string) (*serverState, error) {
	// The timestamp is read while the root is: it is checked only once
	// the root is trusted, and one round trip is saved.
	type fetched struct {
		data []byte
		err  error
	}
	tsc := make(chan fetched, 1)
	go func() {
		b, err := fetchServerTimestamp(ctx, c, gun)
		tsc <- fetched{b, err}
	}()
	ts := sync.OnceValue(func() fetched { return <-tsc })
	defer ts() // no request outlives the call
	// So is the snapshot the last publish from here left on the server.
	pre, stop := r.prefetchSnapshot(ctx, c, gun)
	defer stop()
	root, err := readServerRoot(ctx, c, gun)
	if errors.Is(err, api.ErrNotFound) {
		return &serverState{meta: map[string]metadata.MetaFile{}}, nil
	}
	if err != nil {
		return nil, err
	}
	v := root.Signed.Version
	if v > r.root.Signed.Version {
		return nil, fmt.Errorf("%s has root version %d, newer than this repository's version %d: %w", c.RepositoryURL(gun), v, r.root.Signed.Version, ErrServerNewer)
	}
	own, _, err := r.ownRoot(c, gun, root)
	if err != nil {
		return nil, err
	}
	set, err := serverTrust(own, r.opts.Now)
	if err != nil {
		return nil, err
	}
	tb := ts()
	if tb.err != nil {
		return nil, tb.err
	}
	if err := r.checkServerSnapshot(ctx, c, gun, set, tb.data, pre); err != nil {
		return nil, err
	}
	snap := set.Snapshot().Signed
	return &serverState{exists: true, rootVersion: v, snapshotVersion: snap.Version, timestampVersion: set.Timestamp().Signed.Version, meta: snap.Meta}, nil
}

// prefetchSnapshot starts reading the snapshot that the hint (see
// snapshotHintFile) says the server serves, and returns it to be read,
// or nil without a hint. It is used only if the timestamp names that
// version, and is checked as if fetched after it (checkServerSnapshot).
// stop cancels the request if it is still running and waits for it.
func (r *Repo) prefetchSnapshot(ctx context.Context, c MetadataServer, gun string) (pre *prefetched, stop func()) {
	v := readSnapshotHint(filepath.Join(r.dir, snapshotHintFile), c.URL(), gun)
	if v == 0 {
		return nil, func() {}
	}
	type fetched struct {
		data []byte
		err  error
	}
	done := make(chan fetched, 1)
	pctx, cancel := context.WithCancel(ctx)
	go func() {
		b, err := c.Metadata(pctx, gun, fmt.Sprintf("%d.snapshot.json", v), maxServerSnapshotBytes)
		done <- fetched{b, err}
	}()
	get := sync.OnceValue(func() fetched { return <-done })
	pre = &prefetched{version: v, get: func() ([]byte, error) { f := get(); return f.data, f.err }}
	return pre, func() { cancel(); get() }
}

// ownRoot returns this repository's root of the version of the server's
// root, which must have the same signed content: otherwise the GUN on the
// server belongs to another repository.
func (r *Repo) ownRoot(c MetadataServer, gun string, server *metadata.Metadata[*metadata.Root]) ([]byte, *metadata.Metadata[*metadata.Root], error) {
	v := server.Signed.Version
	b, local, err := r.readRootVersion(v)
	if err != nil {
		return nil, nil, err
	}
	if !bytes.Equal(local.SignedBytes(), server.SignedBytes()) {
		return nil, nil, fmt.Errorf("%s serves a root version %d that is not this repository's: the GUN %s on the server belongs to another repository", c.RepositoryURL(gun), v, gun)
	}
	return b, local, nil
}

// sameAsServer reports whether the staged role, at the version the
// server's snapshot lists for it (there), is the server's document. Where
// the snapshot gives no hash, or the role is a hashed bin (thousands of
// files, read only when they change), the version is taken as enough.
func (r *Repo) sameAsServer(role string, there metadata.MetaFile) (bool, error) {
	if there.Hashes.SHA256 == nil || r.cfg.isBin(role) {
		return true, nil
	}
	b, err := r.rawRole(role)
	if err != nil {
		return false, err
	}
	return there.Hashes.Verify(b) == nil, nil
}

// ServerOptions are options of PublishToServer.
type ServerOptions struct {
	// RecheckTargets asks the server about every file of the content
	// store, even those the upload record (DIR/uploaded.txt) says it
	// has: for a server that lost content.
	RecheckTargets bool
	// NoContent uploads no target content this time: the server gets
	// metadata only. A repository whose content is hosted elsewhere
	// (ContentExternal) never uploads any.
	NoContent bool
}

// PublishToServer publishes the repository to its metadata server (see
// InitOptions.Server) through c, which carries the token. It reads what
// the server has, then sends what it lacks in one atomic update: every
// newer root version in order, the targets roles whose staged version is
// newer, and the snapshot when the repository signs its own. The server
// signs timestamp (and snapshot, when it holds that key). Everything to
// send is first checked as Publish checks it, so a role below its
// threshold or expired stops the publish before anything is sent. Target
// content added from files is uploaded before the metadata that lists it;
// DIR/uploaded.txt remembers what the server has, so that later publishes
// ask only about new content; a repository whose content is hosted
// elsewhere (ContentExternal), or ServerOptions.NoContent, uploads none.
// An update larger than one request body goes up in parts as a staged
// update (see StagedServer), still committed in one step. Finally the server's answer is checked against what was sent
// (see checkReply).
func (r *Repo) PublishToServer(ctx context.Context, c MetadataServer, o ServerOptions) (*ServerResult, error) {
	sc := r.cfg.Server
	if sc == nil {
		return nil, fmt.Errorf("%s: %w", r.dir, ErrNoServer)
	}
	gun := sc.GUN
	res := &ServerResult{URL: c.URL(), GUN: gun}
	if err := r.makeBins(ctx); err != nil {
		return nil, err
	}
	if err := r.refreshOnline(ctx, &PublishResult{}); err != nil {
		return nil, err
	}
	res.NoContent = o.NoContent || r.cfg.contentExternal()
	st, uploaded, err := r.stateAndContent(ctx, c, gun, o.RecheckTargets, res)
	if err != nil {
		return nil, err
	}
	u, err := r.serverUpdate(st, res)
	// Content before the metadata that lists it; none more when nothing
	// is to be sent.
	if err = uploaded(err); err != nil {
		return nil, err
	}
	res.RootVersion, res.SnapshotVersion, res.TimestampVersion = st.rootVersion, st.snapshotVersion, st.timestampVersion
	if len(u.roots) == 0 && len(u.roles) == 0 {
		res.UpToDate = res.TargetsUploaded == 0
		writeSnapshotHint(filepath.Join(r.dir, snapshotHintFile), c.URL(), gun, st.snapshotVersion)
		return res, nil
	}
	reply, err := r.sendUpdate(ctx, c, gun, u)
	if err != nil {
		return nil, fmt.Errorf("publishing to %s: %w", c.RepositoryURL(gun), err)
	}
	if err := r.checkReply(reply, gun, st, u); err != nil {
		return nil, err
	}
	res.RootVersion, res.SnapshotVersion, res.TimestampVersion = reply.RootVersion, reply.SnapshotVersion, reply.TimestampVersion
	writeSnapshotHint(filepath.Join(r.dir, snapshotHintFile), c.URL(), gun, reply.SnapshotVersion)
	return res, nil
}

// stateAndContent reads the server's state of gun (serverState) and,
// unless res.NoContent, uploads the content the server lacks; the upload
// is done when uploaded returns, which the caller calls (once) before it
// sends any metadata, with the error that stops the publish, if any, which
// stops the upload too, and is returned: content goes up before the
// metadata that lists it.
// The upload runs while the state is read and checked, and while the
// caller checks what it is to send, saving the round trips of one after
// the other; it sends only content, which the server keeps unlisted until
// metadata names it, so it needs nothing from the state. A server without
// the repository (a new one, or one whose store was lost) is then asked
// about all the content, whatever the upload record remembers. The two
// run one after the other unless the upload record is this server's (a
// publish to it was made before): a first publish would otherwise ask the
// server about every file twice.
func (r *Repo) stateAndContent(ctx context.Context, c MetadataServer, gun string, recheck bool, res *ServerResult) (_ *serverState, uploaded func(stop error) error, _ error) {
	done := func(stop error) error { return stop }
	if res.NoContent {
		st, err := r.serverState(ctx, c, gun)
		return st, done, err
	}
	if recheck || !uploadRecordOf(filepath.Join(r.dir, uploadRecordFile), c.URL(), gun) {
		st, err := r.serverState(ctx, c, gun)
		if err == nil {
			err = r.uploadTargets(ctx, c, gun, recheck || !st.exists, res, nil)
		}
		return st, done, err
	}
	uctx, cancel := context.WithCancel(ctx)
	up := &ServerResult{} // counted apart while the caller fills res
	sent := map[string]bool{}
	result := make(chan error, 1)
	go func() { result <- r.uploadTargets(uctx, c, gun, false, up, sent) }()
	wait := func(stop error) error {
		if stop != nil {
			cancel()
		}
		err := <-result
		cancel()
		res.TargetsUploaded, res.TargetBytes, res.TargetsPresent = up.TargetsUploaded, up.TargetBytes, up.TargetsPresent
		if stop != nil {
			return stop
		}
		return err
	}
	st, err := r.serverState(ctx, c, gun)
	if err != nil {
		return nil, nil, wait(err)
	}
	if st.exists {
		return st, wait, nil
	}
	if err := wait(nil); err != nil {
		return nil, nil, err
	}
	res.TargetsPresent = 0 // the second pass asks about every file
	return st, done, r.uploadTargets(ctx, c, gun, true, res, sent)
}

// serverUpdate is what a publish sends to the server: root versions in
// order, and roles (targets roles at their versions, and "snapshot" when
// the repository signs its own), read from the staging area when sent.
type serverUpdate struct {
	roots []rootVersion
	roles []pendingRole
}

type rootVersion struct {
	version int64
	data    []byte
}

// serverUpdate finds what the server lacks of this repository and checks
// it as Publish does: signatures and expiry.
func (r *Repo) serverUpdate(st *serverState, res *ServerResult) (*serverUpdate, error) {
	now := r.opts.Now()
	u := &serverUpdate{}
	problems, expired, err := r.pendingRoots(st, u, res, now)
	if err != nil {
		return nil, err
	}
	snap, err := r.readSnapshot()
	if err != nil {
		return nil, err
	}
	todo, err := r.pendingTargets(st, snap)
	if err != nil {
		return nil, err
	}
	p, e, err := r.checkTargetsRoles(todo, map[string]*metadata.Targets{}, now)
	if err != nil {
		return nil, err
	}
	problems, expired = append(problems, p...), append(expired, e...)
	u.roles = todo

	// Snapshot, when the repository holds its key.
	snapByServer := r.cfg.serverHeld(r.root.Signed.Roles[metadata.TypeSnapshot].KeyIDs)
	if !snapByServer {
		newer := !st.exists || snap.Signed.Version > st.snapshotVersion
		if len(todo) > 0 && !newer {
			return nil, fmt.Errorf("the server has snapshot version %d, not older than this repository's version %d: %w", st.snapshotVersion, snap.Signed.Version, ErrServerNewer)
		}
		if newer {
			u.roles = append(u.roles, pendingRole{metadata.TypeSnapshot, snap.Signed.Version})
			rep, _ := r.root.Signed.ReportRole(metadata.TypeSnapshot, snap)
			if p := r.problem(rep, snap.Signed.Version); p != nil {
				problems = append(problems, p)
			}
			if snap.Signed.IsExpired(now) {
				expired = append(expired, fmt.Sprintf("snapshot expired at %s", snap.Signed.Expires.Format(time.RFC3339)))
			}
		}
	}
	if len(problems) > 0 {
		sortProblems(problems)
		return nil, fmt.Errorf("not publishing: %w", &SignatureError{Problems: problems})
	}
	if len(expired) > 0 {
		return nil, fmt.Errorf("not publishing expired metadata: %s; make the role's keys available and change or re-sign it (rampart repo rotate/sign), or raise its expiry in repo.json", strings.Join(expired, "; "))
	}
	for _, p := range u.roles {
		res.Roles = append(res.Roles, p.role)
	}
	return u, nil
}

// pendingRoots adds the root versions the server lacks to u, each checked
// against its predecessor.
func (r *Repo) pendingRoots(st *serverState, u *serverUpdate, res *ServerResult, now time.Time) ([]*SignatureProblem, []string, error) {
	versions, err := r.rootVersions()
	if err != nil {
		return nil, nil, err
	}
	var problems []*SignatureProblem
	var expired []string
	var prev *metadata.Metadata[*metadata.Root]
	for _, v := range versions {
		b, md, err := r.readRootVersion(v)
		if err != nil {
			return nil, nil, err
		}
		if v > st.rootVersion {
			problems = append(problems, r.checkRoot(md, prev)...)
			// Clients check the expiry of the last root only.
			if v == r.root.Signed.Version && md.Signed.IsExpired(now) {
				expired = append(expired, fmt.Sprintf("root version %d expired at %s", v, md.Signed.Expires.Format(time.RFC3339)))
			}
			u.roots = append(u.roots, rootVersion{v, b})
			res.RootVersions = append(res.RootVersions, v)
		}
		prev = md
	}
	return problems, expired, nil
}

// pendingTargets returns the targets roles newer here than on the server.
func (r *Repo) pendingTargets(st *serverState, snap *metadata.Metadata[*metadata.Snapshot]) ([]pendingRole, error) {
	var todo []pendingRole
	for _, name := range slices.Sorted(maps.Keys(snap.Signed.Meta)) {
		m := snap.Signed.Meta[name]
		role := strings.TrimSuffix(name, ".json")
		there, ok := st.meta[name]
		switch {
		case !ok || there.Version < m.Version:
			todo = append(todo, pendingRole{role, m.Version})
		case there.Version > m.Version:
			return nil, fmt.Errorf("the server has %s version %d, newer than this repository's version %d: %w", role, there.Version, m.Version, ErrServerNewer)
		default: // the same version: it must be the same document
			same, err := r.sameAsServer(role, there)
			if err != nil {
				return nil, err
			}
			if !same {
				return nil, fmt.Errorf("the server has a different %s version %d than this repository: %w", role, there.Version, ErrDiverged)
			}
		}
	}
	return todo, nil
}

// readPending reads the document of a role to send.
func (r *Repo) readPending(p pendingRole) ([]byte, error) {
	if p.role == metadata.TypeSnapshot {
		return r.rawRole(metadata.TypeSnapshot)
	}
	return os.ReadFile(r.stagedPath(p.role))
}

// size returns the bytes of the documents of u.
func (r *Repo) updateSize(u *serverUpdate) (int64, error) {
	var n int64
	for _, v := range u.roots {
		n += int64(len(v.data))
	}
	for _, p := range u.roles {
		path := r.stagedPath(p.role)
		if p.role == metadata.TypeSnapshot {
			b, err := r.rawRole(p.role)
			if err != nil {
				return 0, err
			}
			n += int64(len(b))
			continue
		}
		fi, err := os.Stat(path)
		if err != nil {
			return 0, err
		}
		n += fi.Size()
	}
	return n, nil
}

// sendUpdate sends u in one request, or, when it is larger than one
// request body and the server takes staged updates, in parts.
func (r *Repo) sendUpdate(ctx context.Context, c MetadataServer, gun string, u *serverUpdate) (*api.PublishResult, error) {
	size, err := r.updateSize(u)
	if err != nil {
		return nil, err
	}
	sc, staged := c.(StagedServer)
	if staged && size > api.DefaultMaxMetadataBytes {
		return r.sendStaged(ctx, sc, gun, u)
	}
	var chain [][]byte
	for _, v := range u.roots {
		chain = append(chain, v.data)
	}
	docs := map[string][]byte{}
	for _, p := range u.roles {
		b, err := r.readPending(p)
		if err != nil {
			return nil, err
		}
		docs[p.role] = b
	}
	reply, err := c.PublishChain(ctx, gun, chain, docs, "")
	switch {
	case errors.Is(err, api.ErrTooLarge) && staged:
		return r.sendStaged(ctx, sc, gun, u)
	case errors.Is(err, api.ErrTooLarge):
		return nil, fmt.Errorf("%w (the update is %d bytes; the server's limit is set by rampart serve --max-metadata-bytes)", err, size)
	}
	return reply, err
}

// checkReply checks the server's answer to a publish against what was
// sent: the server must now serve this repository's root version, its new
// snapshot must be the one sent when the repository signs its own, and it
// must have signed a new timestamp.
//
// The server's state is not read back (three requests more for each
// publish): nothing of it is kept here, so there is nothing to verify for
// this repository's sake, and a client verifies what it gets whatever the
// server said. The next publish reads the server's root, timestamp and
// snapshot and checks them as a client does (serverState) before it sends
// anything, so a server that served other than it answered is caught then.
func (r *Repo) checkReply(reply *api.PublishResult, gun string, st *serverState, u *serverUpdate) error {
	if reply == nil {
		return errors.New("the server accepted the publish but gave no answer")
	}
	if reply.GUN != "" && reply.GUN != gun {
		return fmt.Errorf("the server accepted the publish, but answered for the GUN %.80q, not %q", reply.GUN, gun)
	}
	if reply.RootVersion != r.root.Signed.Version {
		return fmt.Errorf("the server accepted the publish, but answered that it serves root version %d, not %d", reply.RootVersion, r.root.Signed.Version)
	}
	for _, p := range u.roles {
		if p.role == metadata.TypeSnapshot && reply.SnapshotVersion != p.version {
			return fmt.Errorf("the server accepted the publish, but answered that it serves snapshot version %d, not %d", reply.SnapshotVersion, p.version)
		}
	}
	if st.exists && reply.TimestampVersion <= st.timestampVersion {
		return fmt.Errorf("the server accepted the publish, but answered timestamp version %d, not newer than its version %d before", reply.TimestampVersion, st.timestampVersion)
	}
	return nil
}

// storedTarget is a file of the content store.
type storedTarget struct {
	file       string // on disk
	consistent string // dir/HASH.name
	target     string // dir/name
	sha256     string
	size       int64
}

// uploadTargets uploads the files of the content store that the server
// does not have. Files the upload record says the server has are not asked
// about again, unless recheck is set. When sent is not nil it holds the
// files that an earlier pass of the same publish uploaded, which are
// counted as uploaded once, and gets those this pass uploads.
func (r *Repo) uploadTargets(ctx context.Context, c MetadataServer, gun string, recheck bool, res *ServerResult, sent map[string]bool) error {
	store := filepath.Join(r.dir, targetsDir)
	rec, err := openUploadRecord(filepath.Join(r.dir, uploadRecordFile), c.URL(), gun, recheck)
	if err != nil {
		return err
	}
	defer rec.close()
	var todo []storedTarget
	err = walkContent(store, func(p, rel string, d fs.DirEntry) error {
		rel = filepath.ToSlash(rel)
		dir, base := path.Split(rel)
		digest, name, ok := strings.Cut(base, ".")
		if _, herr := hex.DecodeString(digest); !ok || len(digest) != 64 || herr != nil || name == "" {
			return fmt.Errorf("%s: not a file of the content store (want DIR/SHA256.NAME)", p)
		}
		if rec.has(rel) {
			res.TargetsPresent++
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		todo = append(todo, storedTarget{file: p, consistent: rel, target: dir + name, sha256: digest, size: info.Size()})
		return nil
	})
	if err != nil {
		return err
	}
	missing := make([]bool, len(todo))
	var total atomic.Int64
	var mu sync.Mutex
	if err := parallel(len(todo), func(i int) error {
		if !recheck && todo[i].size <= sendUnasked {
			missing[i] = true // new content, most likely: sent without asking
			total.Add(todo[i].size)
			return nil
		}
		has, err := c.HasTarget(ctx, gun, todo[i].consistent)
		if err != nil {
			return fmt.Errorf("asking the server for %s: %w", todo[i].target, err)
		}
		if !has {
			missing[i] = true
			total.Add(todo[i].size)
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if !sent[todo[i].consistent] {
			res.TargetsPresent++
		}
		return rec.add(todo[i].consistent)
	}); err != nil {
		return err
	}
	bar := newByteBar(r.opts.Progress, total.Load(), "uploading targets")
	defer bar.Finish()
	return parallel(len(todo), func(i int) error {
		t := todo[i]
		if !missing[i] {
			return nil
		}
		f, err := os.Open(t.file)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := c.UploadTarget(ctx, gun, t.target, t.sha256, t.size, bar.WrapReader(f)); err != nil {
			return fmt.Errorf("uploading %s: %w", t.target, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if !sent[t.consistent] {
			res.TargetsUploaded++
			res.TargetBytes += t.size
		}
		if sent != nil {
			sent[t.consistent] = true
		}
		return rec.add(t.consistent)
	})
}

// sendUnasked is the size up to which content the upload record does not
// know is uploaded without asking the server first whether it has it:
// content added since the last publish, which the server most likely
// lacks. Sending a small file costs no more than the question, and the
// server takes content it already has again (it checks the hash either
// way). Larger files, and every file on a recheck, are asked about.
const sendUnasked = 64 << 10

// uploadRecordFile lists the content the server is known to have, so that
// a publish asks the server only about content added since.
const uploadRecordFile = "uploaded.txt"

// uploadRecord is the file of that name: a first line naming the server
// and GUN, then the consistent-snapshot path of each file of the content
// store that the server confirmed it has, one a line. It is only a cache:
// a line is written after the server confirmed, a torn last line is
// ignored (and cut off before the record is added to), and a record for
// another server or GUN is started afresh. Nothing in it needs to be
// durable: a line lost in a crash only makes a later publish ask again,
// so lines are appended without a sync.
type uploadRecord struct {
	known map[string]bool
	f     *os.File
}

func uploadRecordHeader(url, gun string) string {
	return "rampart upload record 1 " + url + " " + gun
}

// uploadRecordOf says whether the upload record at p is one for url and
// gun, by its first line.
func uploadRecordOf(p, url, gun string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	want := uploadRecordHeader(url, gun) + "\n"
	buf := make([]byte, len(want))
	_, err = io.ReadFull(f, buf)
	return err == nil && string(buf) == want
}

func openUploadRecord(p, url, gun string, fresh bool) (*uploadRecord, error) {
	header := uploadRecordHeader(url, gun)
	rec := &uploadRecord{known: map[string]bool{}}
	data, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if lines := strings.Split(string(data), "\n"); err == nil && !fresh && len(lines) > 1 && lines[0] == header {
		// The last element is empty after a final newline, and a torn
		// line otherwise: either way not a complete entry.
		for _, l := range lines[1 : len(lines)-1] {
			rec.known[l] = true
		}
		if rec.f, err = appendAt(p, int64(len(data)-len(lines[len(lines)-1]))); err == nil {
			return rec, nil
		}
		// Not writable as it is: written afresh with what it knows.
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-upload-record-*")
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString(header + "\n")
	for _, l := range slices.Sorted(maps.Keys(rec.known)) {
		b.WriteString(l + "\n")
	}
	_, err = f.WriteString(b.String())
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("writing %s: %w", p, err)
	}
	rec.f = f
	return rec, nil
}

// appendAt opens the file at p to append to it after its first size
// bytes, cutting off what follows.
func appendAt(p string, size int64) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() != size && f.Truncate(size) != nil {
		f.Close()
		return nil, fmt.Errorf("%s: cannot append", p)
	}
	return f, nil
}

func (r *uploadRecord) has(consistent string) bool { return r.known[consistent] }

// add records that the server has consistent; the caller serializes.
func (r *uploadRecord) add(consistent string) error {
	r.known[consistent] = true
	_, err := r.f.WriteString(consistent + "\n")
	return err
}

func (r *uploadRecord) close() { r.f.Close() }
