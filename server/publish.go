package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/rampart-tuf/rampart/api"
	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/notary"
)

// PublishResult describes a successful publish.
type PublishResult = api.PublishResult

// state is what a publish builds on: the repository's current trusted
// documents, loaded from the store.
type state struct {
	gun      string
	exists   bool
	repo     store.Repo
	root     *metadata.Metadata[*metadata.Root]
	rootData []byte
	snapshot *metadata.Metadata[*metadata.Snapshot]
	snapData []byte
	tsSHA256 string
}

func (s *Server) loadState(ctx context.Context, gun string) (*state, error) {
	st := &state{gun: gun}
	repo, err := s.store.Repo(ctx, gun)
	if errors.Is(err, store.ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	st.exists, st.repo = true, repo
	rf, err := s.store.File(ctx, gun, metadata.TypeRoot, repo.RootVersion)
	if err != nil {
		return nil, fmt.Errorf("loading current root: %w", err)
	}
	if st.root, err = metadata.ParseRoot(rf.Data); err != nil {
		if _, nerr := notary.ParseAs(rf.Data, notary.TypeRoot); nerr == nil {
			return nil, errorf(http.StatusConflict, "", checkDialect, "%s is a Notary repository: the notary client publishes to it (/v2/%s/_trust/tuf/); rampart notary import makes a TUF 1.0 repository of it", gun, gun)
		}
		return nil, fmt.Errorf("stored root of %s: %w", gun, err)
	}
	st.rootData = rf.Data
	sf, err := s.store.File(ctx, gun, metadata.TypeSnapshot, repo.SnapshotVersion)
	if err != nil {
		return nil, fmt.Errorf("loading current snapshot: %w", err)
	}
	if st.snapshot, err = metadata.ParseSnapshot(sf.Data); err != nil {
		return nil, fmt.Errorf("stored snapshot of %s: %w", gun, err)
	}
	st.snapData = sf.Data
	tf, err := s.store.File(ctx, gun, metadata.TypeTimestamp, repo.TimestampVersion)
	if err != nil {
		return nil, fmt.Errorf("loading current timestamp: %w", err)
	}
	st.tsSHA256 = tf.SHA256
	return st, nil
}

// lockGUN serializes this process's publishes to one GUN; replicas are
// serialized by the store's optimistic check.
func (s *Server) lockGUN(gun string) func() { return s.gunLocks.lock(gun) }

// Publish checks the signed documents in docs (by role name) against the
// repository's current state as a client would, signs a new snapshot
// (when the server holds the snapshot key) and timestamp, and commits
// everything at once. ifMatch, when not empty, is the ETag of the
// timestamp the publisher built on, or "*" for any existing repository; a
// mismatch, or a repository that does not exist, fails with 409. Errors are
// *Error values or store errors.
func (s *Server) Publish(ctx context.Context, gun string, docs map[string][]byte, ifMatch string) (*PublishResult, error) {
	return s.PublishChain(ctx, gun, nil, docs, ifMatch)
}

// maxRootChain bounds the root versions one publish may carry.
const maxRootChain = 64

// PublishChain is Publish with a chain of new root versions, oldest first,
// in place of docs["root"]: each must be the version after the one before
// it (the first after the current root, or any self-signed root for a new
// repository), signed by the thresholds of its predecessor and of itself.
// Every version is stored, so clients follow the chain one step at a
// time, and the documents in docs are checked against the last. The
// whole update is one commit. With no chain, docs["root"] is a chain of
// one.
//
// A publish that waited for another one to the same GUN, and fails a
// version check because of it, fails with 409 (check conflict), as one
// that loses the race in the store does: its sender built on a state that
// is gone, and should fetch the new one and retry.
func (s *Server) PublishChain(ctx context.Context, gun string, roots [][]byte, docs map[string][]byte, ifMatch string) (_ *PublishResult, err error) {
	if r, ok := docs[metadata.TypeRoot]; ok {
		if len(roots) > 0 {
			return nil, badRequest(metadata.TypeRoot, checkRole, "root is given both as a role and in the chain of roots; send new root versions in the chain only")
		}
		docs = maps.Clone(docs)
		delete(docs, metadata.TypeRoot)
		roots = [][]byte{r}
	}
	src := &docsSource{chain: roots, docs: docs}
	return s.publishFrom(ctx, gun, ifMatch, src, func(st *state) (updateSink, func(*plan) (*PublishResult, error)) {
		sink := &memSink{}
		return sink, func(p *plan) (*PublishResult, error) {
			p.files, p.listings = sink.files, append(p.listings, sink.ls...)
			return s.commit(ctx, p)
		}
	})
}

// publishFrom checks and commits the update that src gives, to gun:
// the part common to publishes in one request and staged ones. open
// returns the sink of the checked documents and the function that commits
// the plan.
func (s *Server) publishFrom(ctx context.Context, gun, ifMatch string, src updateSource,
	open func(*state) (updateSink, func(*plan) (*PublishResult, error))) (_ *PublishResult, err error) {
	if err := validateGUN(gun); err != nil {
		return nil, badRequest("", checkGUN, "%v", err)
	}
	arrived, err := s.store.Repo(ctx, gun) // the state the sender most likely built on
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	unlock := s.lockGUN(gun)
	defer unlock()
	st, err := s.loadState(ctx, gun)
	if err != nil {
		return nil, err
	}
	defer func() {
		var e *Error
		if errors.As(err, &e) && e.Check == checkVersion && st.repo.TimestampVersion != arrived.TimestampVersion {
			err = errorf(http.StatusConflict, e.Role, checkConflict, "the repository changed while this publish waited for another one (%s); fetch it again and retry", e.Message)
		}
	}()
	if !st.exists {
		// Only a created repository (see Create) has online keys.
		if ok, err := s.created(ctx, gun); err != nil || !ok {
			return nil, cmpErr(err, notCreated(gun))
		}
	}
	if ifMatch != "" {
		switch {
		case !st.exists:
			return nil, errorf(http.StatusConflict, "", checkConflict, "If-Match given, but the repository does not exist (any more)")
		case ifMatch != "*" && ifMatch != etag(st.tsSHA256):
			return nil, errorf(http.StatusConflict, "", checkConflict, "the repository changed since the timestamp %s (now %s, version %d): fetch it again and retry", ifMatch, etag(st.tsSHA256), st.repo.TimestampVersion)
		}
	}
	sink, commit := open(st)
	p, err := s.checkUpdate(ctx, st, src, sink)
	if err != nil {
		return nil, err
	}
	if !st.exists {
		p.listings = append(p.listings, store.ListingsIndexed)
	}
	res, err := commit(p)
	if err != nil {
		s.metrics.publishes.WithLabelValues("failed").Inc()
		return nil, err
	}
	s.metrics.publishes.WithLabelValues("ok").Inc()
	return res, nil
}

// docsSource is an update sent in one request.
type docsSource struct {
	chain [][]byte
	docs  map[string][]byte
}

func (d *docsSource) roots() int { return len(d.chain) }
func (d *docsSource) root(_ context.Context, i int) ([]byte, error) {
	return d.chain[i], nil
}
func (d *docsSource) roles() []string { return slices.Sorted(maps.Keys(d.docs)) }
func (d *docsSource) doc(_ context.Context, role string) ([]byte, error) {
	return d.docs[role], nil
}
func (d *docsSource) rootPart(i int) string { return store.RootPart(i + 1) }

// memSink keeps what an update writes in memory, for one store.Update.
type memSink struct {
	files []store.File
	ls    []store.Listing
}

func (m *memSink) file(_, role string, version int64, data []byte, sum string) error {
	m.files = append(m.files, store.File{Role: role, Version: version, SHA256: sum, Data: data})
	return nil
}

func (m *memSink) prepare([]store.Listing) (store.PreparedListings, error) { return nil, nil }

func (m *memSink) prepareListed(string, *metadata.Targets) store.PreparedListings { return nil }

func (m *memSink) listings(ls []store.Listing, _ store.PreparedListings) error {
	m.ls = append(m.ls, ls...)
	return nil
}

// checkVersionBound refuses versions above metadata.MaxVersion.
func checkVersionBound(role string, version int64) error {
	if err := metadata.CheckVersion(version); err != nil {
		return badRequest(role, checkVersion, "%v", err)
	}
	return nil
}

// cutJSON turns "name.json" into "name".
func cutJSON(file string) (string, bool) {
	name, ok := file[:max(0, len(file)-5)], len(file) > 5 && file[len(file)-5:] == ".json"
	return name, ok
}

// allowed reports whether a chain of delegations from targets to role
// trusts role for path.
func allowed(parents map[string][]edge, role, path string, depth int) bool {
	if role == metadata.TypeTargets {
		return true
	}
	if depth > 64 {
		return false
	}
	for _, e := range parents[role] {
		if e.matches(role, path) && allowed(parents, e.parent, path, depth+1) {
			return true
		}
	}
	return false
}

// checkSnapshot checks a snapshot sent by a maintainer who keeps the
// snapshot key: signed by the root's snapshot role, newer, not expired,
// and listing exactly the roles of the new state with their versions.
//
// Every length and hash the snapshot gives is checked against the
// document, as a client checks them: docData returns the document of a
// "ROLE.json" of the new state.
func checkSnapshot(md *metadata.Metadata[*metadata.Snapshot], root *metadata.Root, st *state, meta map[string]metadata.MetaFile, now time.Time,
	docData func(file string) ([]byte, error)) error {
	const role = metadata.TypeSnapshot
	sn := md.Signed
	if err := root.VerifyRole(role, md); err != nil {
		return badRequest(role, checkSignature, "not signed by the root's snapshot keys: %v", err)
	}
	if st.exists && sn.Version <= st.repo.SnapshotVersion {
		return badRequest(role, checkVersion, "version %d is not greater than the current version %d", sn.Version, st.repo.SnapshotVersion)
	}
	if sn.IsExpired(now) {
		return badRequest(role, checkExpiry, "expired at %s", sn.ExpiresText())
	}
	for _, file := range slices.Sorted(maps.Keys(meta)) {
		want := meta[file]
		got, ok := sn.Meta[file]
		if !ok {
			return badRequest(role, checkHashes, "does not list %s", file)
		}
		if got.Version != want.Version {
			return badRequest(role, checkVersion, "lists %s version %d, want %d", file, got.Version, want.Version)
		}
		if got.Length == 0 && got.Hashes.IsZero() {
			continue
		}
		if got.Length == want.Length && got.Hashes.Equal(want.Hashes) {
			continue // what the repository's meta says already, checked when stored
		}
		data, err := docData(file)
		if err != nil {
			return err
		}
		// The checks a client makes (length, then every hash given).
		if got.Length != 0 && got.Length != int64(len(data)) {
			return badRequest(role, checkHashes, "lists %s with length %d, the document has %d bytes", file, got.Length, len(data))
		}
		if !got.Hashes.IsZero() {
			if err := got.Hashes.Verify(data); err != nil {
				return badRequest(role, checkHashes, "lists %s with hashes that do not match the document: %v", file, err)
			}
		}
	}
	for file := range sn.Meta {
		if _, ok := meta[file]; !ok {
			return badRequest(role, checkHashes, "lists %s, which the repository does not have", file)
		}
	}
	return nil
}

// onlineSigners returns signers for the server's keys of role that root
// trusts, enough to meet the role's threshold, or nil if the server holds
// too few of them.
func (s *Server) onlineSigners(ctx context.Context, gun, role string, root *metadata.Root) ([]keys.Signer, error) {
	rk := root.Roles[role]
	if rk == nil {
		return nil, nil
	}
	held, err := s.signer.Keys(ctx, gun, role)
	if err != nil {
		return nil, err
	}
	var out []keys.Signer
	for _, k := range held {
		id := k.ID()
		if slices.Contains(rk.KeyIDs, id) && len(out) < rk.Threshold {
			out = append(out, signer.For(s.signer, gun, role, k))
		}
	}
	if len(out) == 0 || len(out) < rk.Threshold {
		return nil, nil
	}
	return out, nil
}

// plan is a checked update, ready to be signed and committed.
type plan struct {
	st          *state
	root        *metadata.Root
	rootChanged bool
	files       []store.File
	listings    []store.Listing
	// Listings of a staged update, in groups or prepared by the store
	// (see store.Update).
	listingGroups [][]store.Listing
	prepared      []store.PreparedListings
	tsSigners     []keys.Signer
	snapOnline    bool
	// A new server-signed snapshot: its signers and meta.
	snapSigners []keys.Signer
	meta        map[string]metadata.MetaFile
	// Or a snapshot sent by the maintainer.
	snapDoc  *metadata.Metadata[*metadata.Snapshot]
	snapData []byte
	// A staged update whose documents and listings the commit moves.
	staged *stagedCommit
}

// commit signs the new snapshot (if any) and timestamp and stores the
// update.
func (s *Server) commit(ctx context.Context, p *plan) (*PublishResult, error) {
	st := p.st
	now := s.now()
	repo := st.repo
	repo.GUN = st.gun
	repo.RootVersion = p.root.Version
	repo.SnapshotOnline = p.snapOnline
	files := p.files
	snapData := st.snapData
	snapVersion := repo.SnapshotVersion
	switch {
	case p.snapSigners != nil:
		sn := metadata.NewSnapshot(now.Add(s.cfg.SnapshotExpiry))
		snapVersion = repo.SnapshotVersion + 1
		sn.Version = snapVersion
		sn.Meta = p.meta
		md := metadata.New(sn)
		for _, k := range p.snapSigners {
			if _, err := md.Sign(ctx, k); err != nil {
				return nil, fmt.Errorf("signing snapshot of %s: %w", st.gun, err)
			}
		}
		data, err := md.Encode()
		if err != nil {
			return nil, fmt.Errorf("encoding snapshot of %s: %w", st.gun, err)
		}
		snapData = data
		repo.SnapshotExpires = sn.Expires
	case p.snapDoc != nil:
		snapData = p.snapData
		snapVersion = p.snapDoc.Signed.Version
		repo.SnapshotExpires = p.snapDoc.Signed.Expires
	}
	if snapVersion != st.repo.SnapshotVersion || !st.exists {
		files = append(files, store.File{Role: metadata.TypeSnapshot, Version: snapVersion, SHA256: sha256Hex(snapData), Data: snapData})
	}
	repo.SnapshotVersion = snapVersion

	ts := metadata.NewTimestamp(now.Add(s.cfg.TimestampExpiry))
	ts.Version = repo.TimestampVersion + 1
	ts.Meta = map[string]metadata.MetaFile{"snapshot.json": {Version: snapVersion, Length: int64(len(snapData)), Hashes: metadata.HashesOf(snapData, false)}}
	md := metadata.New(ts)
	for _, k := range p.tsSigners {
		if _, err := md.Sign(ctx, k); err != nil {
			return nil, fmt.Errorf("signing timestamp of %s: %w", st.gun, err)
		}
	}
	tsData, err := md.Encode()
	if err != nil {
		return nil, fmt.Errorf("encoding timestamp of %s: %w", st.gun, err)
	}
	tsSum := sha256Hex(tsData)
	files = append(files, store.File{Role: metadata.TypeTimestamp, Version: ts.Version, SHA256: tsSum, Data: tsData})
	repo.TimestampVersion = ts.Version
	repo.TimestampExpires = ts.Expires

	base := st.repo.TimestampVersion
	if !st.exists {
		base = 0
	}
	u := store.Update{Base: base, Files: files, Repo: repo, Listings: p.listings, ListingGroups: p.listingGroups, Prepared: p.prepared}
	var ch store.Change
	if p.staged != nil {
		ch, err = p.staged.sg.CommitStaged(ctx, u, p.staged.id, p.staged.moves)
	} else {
		ch, err = s.store.Publish(ctx, u)
	}
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, errorf(http.StatusConflict, "", checkConflict, "the repository changed concurrently; fetch it again and retry (%v)", err)
		}
		return nil, err
	}
	s.invalidate(st.gun)
	return &PublishResult{GUN: st.gun, ChangeID: ch.ID, RootVersion: repo.RootVersion, SnapshotVersion: repo.SnapshotVersion,
		TimestampVersion: repo.TimestampVersion, ETag: etag(tsSum)}, nil
}

// ResignExpiring signs a new timestamp for every repository whose
// timestamp has less than a third of its lifetime left, with a new
// snapshot when the server signs snapshots and the snapshot is in the same
// situation. Conflicts with concurrent publishes (here or on another
// replica) are ignored: the publish made a fresh timestamp anyway.
func (s *Server) ResignExpiring(ctx context.Context) {
	now := s.now()
	repos, err := s.store.Expiring(ctx, now.Add(s.cfg.TimestampExpiry/3), now.Add(s.cfg.SnapshotExpiry/3))
	if err != nil {
		s.log.Warn("re-sign: listing expiring repositories failed", "err", err)
		return
	}
	for _, r := range repos {
		if ctx.Err() != nil {
			return
		}
		if err := s.resign(ctx, r.GUN); err != nil {
			s.log.Warn("re-sign failed", "gun", r.GUN, "err", err)
			continue
		}
		s.metrics.resigns.Inc()
	}
}

func (s *Server) resign(ctx context.Context, gun string) error {
	unlock := s.lockGUN(gun)
	defer unlock()
	now := s.now()
	if notary, err := s.notary.Resign(ctx, gun, now.Add(s.cfg.SnapshotExpiry/3)); notary {
		return err
	}
	st, err := s.loadState(ctx, gun)
	if err != nil || !st.exists {
		return err
	}
	if !st.repo.TimestampExpires.Before(now.Add(s.cfg.TimestampExpiry/3)) &&
		!(st.repo.SnapshotOnline && st.repo.SnapshotExpires.Before(now.Add(s.cfg.SnapshotExpiry/3))) {
		return nil // re-signed meanwhile
	}
	root := st.root.Signed
	tsSigners, err := s.onlineSigners(ctx, gun, metadata.TypeTimestamp, root)
	if err != nil || tsSigners == nil {
		return fmt.Errorf("no usable timestamp key: %v", err)
	}
	p := &plan{st: st, root: root, tsSigners: tsSigners, snapOnline: st.repo.SnapshotOnline}
	if st.repo.SnapshotOnline && st.repo.SnapshotExpires.Before(now.Add(s.cfg.SnapshotExpiry/3)) {
		snapSigners, err := s.onlineSigners(ctx, gun, metadata.TypeSnapshot, root)
		if err != nil || snapSigners == nil {
			return fmt.Errorf("no usable snapshot key: %v", err)
		}
		p.snapSigners, p.meta = snapSigners, st.snapshot.Signed.Meta
	}
	_, err = s.commit(ctx, p)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusConflict {
		return nil
	}
	return err
}
