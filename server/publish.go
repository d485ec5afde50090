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

// targetsDoc is a targets document of the new state.
type targetsDoc struct {
	md        *metadata.Metadata[*metadata.Targets]
	data      []byte // encoded, as stored
	submitted bool
}

// edge is one delegation from parent to a role of the new state.
type edge struct {
	parent   string
	role     metadata.DelegatedRole
	succinct *metadata.SuccinctRoles
}

func (e edge) matches(role, path string) bool {
	if e.succinct != nil {
		return e.succinct.RoleFor(path) == role
	}
	return e.role.MatchesPath(path)
}

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
	if len(docs) == 0 && len(roots) == 0 {
		return nil, badRequest("", checkMissing, "no documents to publish")
	}
	if r, ok := docs[metadata.TypeRoot]; ok {
		if len(roots) > 0 {
			return nil, badRequest(metadata.TypeRoot, checkRole, "root is given both as a role and in the chain of roots; send new root versions in the chain only")
		}
		docs = maps.Clone(docs)
		delete(docs, metadata.TypeRoot)
		roots = [][]byte{r}
	}
	if len(roots) > maxRootChain {
		return nil, badRequest(metadata.TypeRoot, checkRole, "%d root versions in one publish; at most %d", len(roots), maxRootChain)
	}
	now := s.now()
	var (
		newRoot     *metadata.Metadata[*metadata.Root]
		rootFiles   []store.File
		snapSubmit  *metadata.Metadata[*metadata.Snapshot]
		snapSubData []byte
		targets     = map[string]*targetsDoc{}
	)
	for _, name := range slices.Sorted(maps.Keys(docs)) {
		data := docs[name]
		switch name {
		case metadata.TypeTimestamp:
			return nil, badRequest(name, checkRole, "the server makes timestamp metadata; do not send it")
		case metadata.TypeMirrors:
			return nil, badRequest(name, checkRole, "mirrors metadata is not supported")
		case metadata.TypeSnapshot:
			md, err := metadata.ParseSnapshot(data)
			if err != nil {
				return nil, badRequest(name, checkJSON, "%v", err)
			}
			if err := checkVersionBound(name, md.Signed.Version); err != nil {
				return nil, err
			}
			if snapSubData, err = md.Encode(); err != nil {
				return nil, badRequest(name, checkJSON, "%v", err)
			}
			snapSubmit = md
		default:
			if err := validateRoleName(name); err != nil {
				return nil, badRequest(name, checkRole, "%v", err)
			}
			md, err := metadata.ParseTargets(data)
			if err != nil {
				return nil, badRequest(name, checkJSON, "%v", err)
			}
			if err := checkVersionBound(name, md.Signed.Version); err != nil {
				return nil, err
			}
			enc, err := md.Encode()
			if err != nil {
				return nil, badRequest(name, checkJSON, "%v", err)
			}
			targets[name] = &targetsDoc{md: md, data: enc, submitted: true}
		}
	}

	// Root: each new version N+1 signed by the thresholds of both version
	// N and itself; the first version of a new repository only by itself.
	rootChanged := len(roots) > 0
	var prev *metadata.Metadata[*metadata.Root]
	if st.exists {
		prev = st.root
	}
	for i, data := range roots {
		md, err := metadata.ParseRoot(data)
		if err != nil {
			return nil, badRequest(metadata.TypeRoot, checkJSON, "root %d of the chain: %v", i+1, err)
		}
		enc, err := md.Encode()
		if err != nil {
			return nil, badRequest(metadata.TypeRoot, checkJSON, "root %d of the chain: %v", i+1, err)
		}
		r := md.Signed
		if err := checkVersionBound(metadata.TypeRoot, r.Version); err != nil {
			return nil, err
		}
		if prev == nil && r.Version != 1 {
			return nil, badRequest(metadata.TypeRoot, checkVersion, "the first root of a new repository must be version 1, not %d", r.Version)
		}
		if prev != nil {
			if want := prev.Signed.Version + 1; r.Version != want {
				return nil, badRequest(metadata.TypeRoot, checkVersion, "root version is %d, want %d (the version before it is %d)", r.Version, want, prev.Signed.Version)
			}
			if err := prev.Signed.VerifyRole(metadata.TypeRoot, md); err != nil {
				return nil, badRequest(metadata.TypeRoot, checkSignature, "root version %d is not signed by the keys of root version %d: %v", r.Version, prev.Signed.Version, err)
			}
		}
		if err := r.VerifyRole(metadata.TypeRoot, md); err != nil {
			return nil, badRequest(metadata.TypeRoot, checkSignature, "root version %d is not signed by its own root keys: %v", r.Version, err)
		}
		rootFiles = append(rootFiles, store.File{Role: metadata.TypeRoot, Version: r.Version, SHA256: sha256Hex(enc), Data: enc})
		prev, newRoot = md, md
	}
	switch {
	case newRoot == nil && !st.exists:
		return nil, badRequest(metadata.TypeRoot, checkMissing, "a new repository needs root metadata")
	case newRoot == nil:
		newRoot = st.root
	default:
		// Clients check the expiry of the last root of a chain only.
		if r := newRoot.Signed; r.IsExpired(now) {
			return nil, badRequest(metadata.TypeRoot, checkExpiry, "root version %d expired at %s", r.Version, r.ExpiresText())
		} else if !r.ConsistentSnapshot {
			return nil, badRequest(metadata.TypeRoot, checkConsistent, "consistent_snapshot must be true: the server serves the consistent-snapshot layout")
		}
	}
	root := newRoot.Signed

	// Online keys: the server must be able to sign timestamp, and signs
	// snapshot when the root trusts its key for it.
	tsSigners, err := s.onlineSigners(ctx, gun, metadata.TypeTimestamp, root)
	if err != nil {
		return nil, err
	}
	if tsSigners == nil {
		return nil, badRequest(metadata.TypeTimestamp, checkOnlineKey,
			"the root must trust the server's timestamp key (GET /api/v1/repositories/%s/keys/timestamp) with threshold 1", gun)
	}
	snapSigners, err := s.onlineSigners(ctx, gun, metadata.TypeSnapshot, root)
	if err != nil {
		return nil, err
	}
	snapOnline := snapSigners != nil
	if snapOnline && snapSubmit != nil {
		return nil, badRequest(metadata.TypeSnapshot, checkOnlineKey, "the server signs snapshot metadata for this repository; do not send it")
	}

	// Current versions of the targets roles, from the current snapshot.
	curMeta := map[string]metadata.MetaFile{}
	if st.exists {
		curMeta = st.snapshot.Signed.Meta
	}
	load := func(name string) (*targetsDoc, error) {
		if d, ok := targets[name]; ok {
			return d, nil
		}
		mf, ok := curMeta[name+".json"]
		if !ok {
			return nil, nil
		}
		f, err := s.store.File(ctx, gun, name, mf.Version)
		if err != nil {
			return nil, fmt.Errorf("loading %s: %w", name, err)
		}
		md, err := metadata.ParseTargets(f.Data)
		if err != nil {
			return nil, fmt.Errorf("stored %s of %s: %w", name, gun, err)
		}
		d := &targetsDoc{md: md, data: f.Data}
		targets[name] = d
		return d, nil
	}

	for _, name := range slices.Sorted(maps.Keys(targets)) {
		d := targets[name]
		if !d.submitted {
			continue
		}
		t := d.md.Signed
		for p := range t.Targets {
			if err := metadata.CheckTargetPath(p); err != nil {
				return nil, badRequest(name, checkTargetPath, "%v", err)
			}
		}
		if mf, ok := curMeta[name+".json"]; ok && t.Version <= mf.Version {
			return nil, badRequest(name, checkVersion, "version %d is not greater than the current version %d", t.Version, mf.Version)
		}
		if t.IsExpired(now) {
			return nil, badRequest(name, checkExpiry, "expired at %s", t.ExpiresText())
		}
	}

	// Top-level targets: signed by the root's targets keys; re-checked
	// when the root changes.
	top, err := load(metadata.TypeTargets)
	if err != nil {
		return nil, err
	}
	if top == nil {
		return nil, badRequest(metadata.TypeTargets, checkMissing, "a new repository needs targets metadata")
	}
	if top.submitted || rootChanged {
		if err := root.VerifyRole(metadata.TypeTargets, top.md); err != nil {
			what := "not signed by the root's targets keys"
			if !top.submitted {
				what = "the current targets metadata is not signed by the new root's targets keys; send it signed again"
			}
			return nil, badRequest(metadata.TypeTargets, checkSignature, "%s: %v", what, err)
		}
	}

	// Delegations: walk from targets over every role of the new state.
	// A role is verified by each delegating role when it or that role
	// changed.
	known := map[string]bool{}
	for name := range targets {
		known[name] = true
	}
	for file := range curMeta {
		if name, ok := cutJSON(file); ok {
			known[name] = true
		}
	}
	parents := map[string][]edge{}
	visited := map[string]bool{metadata.TypeTargets: true}
	queue := []string{metadata.TypeTargets}
	for len(queue) > 0 {
		pname := queue[0]
		queue = queue[1:]
		p, err := load(pname)
		if err != nil {
			return nil, err
		}
		if p == nil || p.md.Signed.Delegations == nil {
			continue
		}
		dl := p.md.Signed.Delegations
		var children []edge
		if dl.Succinct != nil {
			for _, name := range slices.Sorted(maps.Keys(known)) {
				if dl.Succinct.IsBin(name) {
					children = append(children, edge{parent: pname, role: dl.Succinct.Role(name), succinct: dl.Succinct})
				}
			}
		} else {
			for _, r := range dl.Roles {
				if known[r.Name] {
					children = append(children, edge{parent: pname, role: r})
				}
			}
		}
		for _, e := range children {
			name := e.role.Name
			if name == metadata.TypeTargets || metadata.IsTopLevel(name) {
				return nil, badRequest(pname, checkDelegation, "delegates to the top-level role name %q", name)
			}
			c, err := load(name)
			if err != nil {
				return nil, err
			}
			if c == nil {
				continue
			}
			parents[name] = append(parents[name], e)
			if c.submitted || p.submitted {
				if err := p.md.Signed.VerifyDelegate(name, c.md); err != nil {
					return nil, badRequest(name, checkSignature, "not signed by the keys %s delegates it to: %v", pname, err)
				}
			}
			if !visited[name] {
				visited[name] = true
				queue = append(queue, name)
			}
		}
	}
	for name, d := range targets {
		if d.submitted && !visited[name] {
			return nil, badRequest(name, checkDelegation, "no role of the repository delegates to %q", name)
		}
	}
	// Delegated paths: each target of a submitted delegated role must be
	// within the paths of some chain of delegations from targets.
	for _, name := range slices.Sorted(maps.Keys(targets)) {
		d := targets[name]
		if !d.submitted || name == metadata.TypeTargets {
			continue
		}
		for path := range d.md.Signed.Targets {
			if !allowed(parents, name, path, 0) {
				return nil, badRequest(name, checkPaths, "target %q is outside the paths delegated to %s", path, name)
			}
		}
	}

	// Snapshot meta of the new state: every role the current snapshot
	// lists stays listed.
	meta := maps.Clone(curMeta)
	files := rootFiles
	changed := false
	for _, name := range slices.Sorted(maps.Keys(targets)) {
		d := targets[name]
		if !d.submitted {
			continue
		}
		changed = true
		meta[name+".json"] = metadata.MetaFile{Version: d.md.Signed.Version, Length: int64(len(d.data)), Hashes: metadata.HashesOf(d.data, false)}
		files = append(files, store.File{Role: name, Version: d.md.Signed.Version, SHA256: sha256Hex(d.data), Data: d.data})
	}

	listings, err := s.newListings(ctx, st, targets, curMeta)
	if err != nil {
		return nil, err
	}
	p := &plan{st: st, root: root, rootChanged: rootChanged, files: files, listings: listings, tsSigners: tsSigners, snapOnline: snapOnline}
	switch {
	case snapOnline:
		p.snapSigners, p.meta = snapSigners, meta
	case snapSubmit != nil:
		docData := func(file string) ([]byte, error) {
			name, _ := cutJSON(file)
			d, err := load(name)
			if err != nil {
				return nil, err
			}
			if d == nil {
				return nil, badRequest(metadata.TypeSnapshot, checkHashes, "lists %s, which the repository does not have", file)
			}
			return d.data, nil
		}
		if err := checkSnapshot(snapSubmit, root, st, meta, now, docData); err != nil {
			return nil, err
		}
		p.snapData, p.snapDoc = snapSubData, snapSubmit
	case changed:
		return nil, badRequest(metadata.TypeSnapshot, checkMissing, "the root does not trust the server's snapshot key, so targets changes need snapshot metadata signed by the snapshot role")
	default:
		// Only the root changed: the current snapshot must still verify.
		if err := root.VerifyRole(metadata.TypeSnapshot, st.snapshot); err != nil {
			return nil, badRequest(metadata.TypeSnapshot, checkSignature, "the current snapshot is not signed by the new root's snapshot keys; send a new snapshot: %v", err)
		}
	}
	res, err := s.commit(ctx, p)
	if err != nil {
		s.metrics.publishes.WithLabelValues("failed").Inc()
		return nil, err
	}
	s.metrics.publishes.WithLabelValues("ok").Inc()
	return res, nil
}

// newListings returns the listings that the submitted targets roles
// change (see listingChanges); content the replaced versions listed stays
// served until the current snapshot, which lists them, expires.
func (s *Server) newListings(ctx context.Context, st *state, targets map[string]*targetsDoc, curMeta map[string]metadata.MetaFile) ([]store.Listing, error) {
	var out []store.Listing
	if !st.exists {
		out = append(out, store.ListingsIndexed)
	}
	for _, name := range slices.Sorted(maps.Keys(targets)) {
		d := targets[name]
		if !d.submitted {
			continue
		}
		var old *metadata.Targets
		var until time.Time
		if mf, ok := curMeta[name+".json"]; ok {
			f, err := s.store.File(ctx, st.gun, name, mf.Version)
			if err != nil {
				return nil, fmt.Errorf("loading %s: %w", name, err)
			}
			md, err := metadata.ParseTargets(f.Data)
			if err != nil {
				return nil, fmt.Errorf("stored %s of %s: %w", name, st.gun, err)
			}
			old, until = md.Signed, st.snapshot.Signed.Expires
		}
		out = append(out, listingChanges(name, old, d.md.Signed, until)...)
	}
	return out, nil
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
	tsSigners   []keys.Signer
	snapOnline  bool
	// A new server-signed snapshot: its signers and meta.
	snapSigners []keys.Signer
	meta        map[string]metadata.MetaFile
	// Or a snapshot sent by the maintainer.
	snapDoc  *metadata.Metadata[*metadata.Snapshot]
	snapData []byte
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
	ch, err := s.store.Publish(ctx, store.Update{Base: base, Files: files, Repo: repo, Listings: p.listings})
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
