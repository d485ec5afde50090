package server

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"time"

	"github.com/rampart-tuf/rampart/internal/bufpool"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/trust"
)

// An update is checked role by role: its documents come from a source one
// at a time (the body of a publish request, or the parts of a staged
// update in the store), each is checked as a client would check it
// against the repository's state after the update, and what it adds to the
// update (the document as stored, and the target listings it changes)
// goes to a sink. Only the delegations of the roles visited so far stay in
// memory, so that an update of thousands of hashed bins is checked in the
// memory of a few.

// updateSource gives the documents of an update.
type updateSource interface {
	// roots returns how many new root versions the update carries, and
	// root the i-th of them (from 0), oldest first.
	roots() int
	root(ctx context.Context, i int) ([]byte, error)
	// roles returns the names of the other documents, sorted.
	roles() []string
	// doc returns the document of a role as sent.
	doc(ctx context.Context, role string) ([]byte, error)
	// part names the document in the sink: the role's name, or
	// store.RootPart for a root of the chain.
	rootPart(i int) string
}

// updateSink takes what an update writes, as its roles are checked.
type updateSink interface {
	// file records that the document of part becomes version of role;
	// data is the document as stored, sum its hex SHA-256.
	file(part, role string, version int64, data []byte, sum string) error
	// prepare makes listings the update changes into the store's form
	// (store.ListingPreparer), or returns nil when the sink takes them as
	// they are; the check calls it on several goroutines at once.
	prepare(ls []store.Listing) (store.PreparedListings, error)
	// prepareListed is prepare for everything t, the first version of
	// role, lists, made from t without its listings.
	prepareListed(role string, t *metadata.Targets) store.PreparedListings
	// listings records listings the update changes: ls, or prepared
	// when prepare made them.
	listings(ls []store.Listing, prepared store.PreparedListings) error
}

// check is the check of one update against a repository's state.
type check struct {
	s    *Server
	ctx  context.Context
	st   *state
	src  updateSource
	sink updateSink
	now  time.Time

	root        *metadata.Root // of the new state
	rootChanged bool
	submitted   map[string]bool // targets roles sent
	curMeta     map[string]metadata.MetaFile
	meta        map[string]metadata.MetaFile // snapshot meta of the new state
	edges       map[string][]edge            // delegations to each role visited
	loaded      map[string]bool
	pending     []pendingPath // target paths not (yet) within delegated paths
	snapshot    *metadata.Metadata[*metadata.Snapshot]
	snapData    []byte
	pre         *prefetcher // of the roles sent the walk reaches next
}

// pendingPath is a target of a delegated role that no delegation chain
// seen so far trusts the role for.
type pendingPath struct{ role, path string }

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
	bin      int                         // for succinct: the role's bin, -1 if its name is no bin's
	verify   func(metadata.Signed) error // the parent's VerifyDelegate for the role
}

func (e edge) matches(role, path string) bool {
	if e.succinct != nil {
		// RoleFor(path) == role, without making a bin's name for each
		// of a million paths.
		return e.bin >= 0 && e.succinct.BinFor(path) == e.bin
	}
	return e.role.MatchesPath(path)
}

// checkUpdate checks the update that src gives against st, writing to
// sink, and returns the plan that commits it (without its files and
// listings, which are in sink).
func (s *Server) checkUpdate(ctx context.Context, st *state, src updateSource, sink updateSink) (*plan, error) {
	c := &check{s: s, ctx: ctx, st: st, src: src, sink: sink, now: s.now(),
		submitted: map[string]bool{}, curMeta: map[string]metadata.MetaFile{}, edges: map[string][]edge{}, loaded: map[string]bool{}}
	if st.exists {
		c.curMeta = st.snapshot.Signed.Meta
	}
	if src.roots() == 0 && len(src.roles()) == 0 {
		return nil, badRequest("", checkMissing, "no documents to publish")
	}
	if src.roots() > maxRootChain {
		return nil, badRequest(metadata.TypeRoot, checkRole, "%d root versions in one publish; at most %d", src.roots(), maxRootChain)
	}
	if err := c.checkNames(); err != nil {
		return nil, err
	}
	if err := c.checkRoots(); err != nil {
		return nil, err
	}
	p, err := c.onlineKeys()
	if err != nil {
		return nil, err
	}
	c.pre = newPrefetcher(c.prefetch)
	defer c.pre.stop()
	if err := c.walk(); err != nil {
		return nil, err
	}
	if err := c.planSnapshot(p); err != nil {
		return nil, err
	}
	return p, nil
}

// checkNames refuses documents the server does not take, and parses a
// snapshot sent by a maintainer who holds its key.
func (c *check) checkNames() error {
	for _, name := range c.src.roles() {
		switch name {
		case metadata.TypeTimestamp:
			return badRequest(name, checkRole, "the server makes timestamp metadata; do not send it")
		case metadata.TypeMirrors:
			return badRequest(name, checkRole, "mirrors metadata is not supported")
		case metadata.TypeRoot:
			return badRequest(name, checkRole, "send new root versions in the chain of roots")
		case metadata.TypeSnapshot:
			data, err := c.src.doc(c.ctx, name)
			if err != nil {
				return err
			}
			md, err := metadata.ParseSnapshot(data)
			if err != nil {
				return badRequest(name, checkJSON, "%v", err)
			}
			if err := checkVersionBound(name, md.Signed.Version); err != nil {
				return err
			}
			if c.snapData, err = md.Encode(); err != nil {
				return badRequest(name, checkJSON, "%v", err)
			}
			c.snapshot = md
		default:
			if err := validateRoleName(name); err != nil {
				return badRequest(name, checkRole, "%v", err)
			}
			c.submitted[name] = true
		}
	}
	return nil
}

// checkRoots checks the chain of new root versions with the trust engine,
// as a client updates its root (spec 5.3), from the stored root, or for a
// new repository from a first root of version 1, which must be signed by
// its own keys. The server's clock is the reference time.
func (c *check) checkRoots() error {
	const role = metadata.TypeRoot
	var set *trust.Set
	if c.st.exists {
		var err error
		if set, err = trust.New(c.st.rootData, trust.Options{Time: c.now}); err != nil {
			return fmt.Errorf("stored root of %s: %w", c.st.gun, err)
		}
	}
	n := c.src.roots()
	for i := range n {
		data, err := c.src.root(c.ctx, i)
		if err != nil {
			return err
		}
		md, err := metadata.ParseRoot(data)
		if err != nil {
			return badRequest(role, checkJSON, "root %d of the chain: %v", i+1, err)
		}
		enc, err := md.Encode()
		if err != nil {
			return badRequest(role, checkJSON, "root %d of the chain: %v", i+1, err)
		}
		v := md.Signed.Version
		if err := checkVersionBound(role, v); err != nil {
			return err
		}
		if set == nil {
			if v != 1 {
				return badRequest(role, checkVersion, "the first root of a new repository must be version 1, not %d", v)
			}
			if set, err = trust.New(data, trust.Options{Time: c.now}); err != nil {
				return badRequest(role, checkSignature, "root version 1 is not signed by its own root keys: %v", err)
			}
		} else {
			prev := set.Root().Signed.Version
			if v != prev+1 {
				return badRequest(role, checkVersion, "root version is %d, want %d (the version before it is %d)", v, prev+1, prev)
			}
			if err := set.UpdateRoot(data); err != nil {
				return badRequest(role, checkSignature, "root version %d: %v", v, err)
			}
		}
		if err := c.sink.file(c.src.rootPart(i), role, v, enc, sha256Hex(enc)); err != nil {
			return err
		}
	}
	switch {
	case n == 0 && !c.st.exists:
		return badRequest(role, checkMissing, "a new repository needs root metadata")
	case n == 0:
		c.root = c.st.root.Signed
		return nil
	}
	c.root, c.rootChanged = set.Root().Signed, true
	// Clients check the expiry of the last root of a chain only.
	var ee *trust.ExpiredError
	if err := set.CheckRootExpiry(); errors.As(err, &ee) {
		return badRequest(role, checkExpiry, "root version %d expired at %s", c.root.Version, c.root.ExpiresText())
	} else if err != nil {
		return err
	}
	if !c.root.ConsistentSnapshot {
		return badRequest(role, checkConsistent, "consistent_snapshot must be true: the server serves the consistent-snapshot layout")
	}
	return nil
}

// onlineKeys finds the server's keys the new root trusts: the server must
// be able to sign timestamp, and signs snapshot when the root trusts its
// key for it.
func (c *check) onlineKeys() (*plan, error) {
	s, gun := c.s, c.st.gun
	tsSigners, err := s.onlineSigners(c.ctx, gun, metadata.TypeTimestamp, c.root)
	if err != nil {
		return nil, err
	}
	if tsSigners == nil {
		return nil, badRequest(metadata.TypeTimestamp, checkOnlineKey,
			"the root must trust the server's timestamp key (GET /api/v1/repositories/%s/keys/timestamp) with threshold 1", gun)
	}
	snapSigners, err := s.onlineSigners(c.ctx, gun, metadata.TypeSnapshot, c.root)
	if err != nil {
		return nil, err
	}
	if snapSigners != nil && c.snapshot != nil {
		return nil, badRequest(metadata.TypeSnapshot, checkOnlineKey, "the server signs snapshot metadata for this repository; do not send it")
	}
	p := &plan{st: c.st, root: c.root, rootChanged: c.rootChanged, tsSigners: tsSigners, snapOnline: snapSigners != nil, snapSigners: snapSigners}
	return p, nil
}

// load returns the document of a targets role of the new state: the one
// sent, checked on its own (clean target paths, a version above the
// current one, not expired), or the current one; nil when the role has
// neither.
func (c *check) load(name string) (*targetsDoc, error) {
	if !c.submitted[name] {
		mf, ok := c.curMeta[name+".json"]
		if !ok {
			return nil, nil
		}
		f, err := c.s.store.File(c.ctx, c.st.gun, name, mf.Version)
		if err != nil {
			return nil, fmt.Errorf("loading %s: %w", name, err)
		}
		md, err := metadata.ParseTargetsLazy(f.Data)
		if err != nil {
			return nil, fmt.Errorf("stored %s of %s: %w", name, c.st.gun, err)
		}
		return &targetsDoc{md: md, data: f.Data}, nil
	}
	raw, err := c.src.doc(c.ctx, name)
	if err != nil {
		return nil, err
	}
	md, err := metadata.ParseTargets(raw)
	if err != nil {
		return nil, badRequest(name, checkJSON, "%v", err)
	}
	t := md.Signed
	if err := checkVersionBound(name, t.Version); err != nil {
		return nil, err
	}
	// Stored as the metadata package encodes it, whichever way it came:
	// a document whose signed bytes differ from that encoding (upper-case
	// hex, say) verifies only for clients that check the bytes as sent,
	// not for those that encode again (go-tuf), so it is refused.
	data, err := canonicalFile(md, raw)
	if err != nil {
		return nil, badRequest(name, checkJSON, "%v", err)
	}
	for p := range t.Targets {
		if err := metadata.CheckTargetPath(p); err != nil {
			return nil, badRequest(name, checkTargetPath, "%v", err)
		}
	}
	if mf, ok := c.curMeta[name+".json"]; ok && t.Version <= mf.Version {
		return nil, badRequest(name, checkVersion, "version %d is not greater than the current version %d", t.Version, mf.Version)
	}
	if t.IsExpired(c.now) {
		return nil, badRequest(name, checkExpiry, "expired at %s", t.ExpiresText())
	}
	return &targetsDoc{md: md, data: data, submitted: true}, nil
}

// encodeBufs are the buffers canonicalFile encodes documents into, one
// for each check running on a core at once (see prefetcher).
var encodeBufs = bufpool.New(2*runtime.GOMAXPROCS(0), 0)

// canonicalFile returns the file of md, parsed from raw, as the metadata
// package encodes it: raw itself when it is that encoding already (as a
// client that encodes sends it), found by encoding md into a buffer kept
// for the next document instead of into a new one for each of thousands
// of hashed bins; else the encoding.
func canonicalFile(md *metadata.Metadata[*metadata.Targets], raw []byte) ([]byte, error) {
	same, spare, err := md.EncodesTo(raw, encodeBufs.Get(0))
	encodeBufs.Put(spare)
	if err != nil || same {
		return raw, err
	}
	return md.Encode()
}

// known reports whether role is a targets role of the new state.
func (c *check) known(role string) bool {
	_, ok := c.curMeta[role+".json"]
	return ok || c.submitted[role]
}

// walk visits every targets role of the new state from the top-level
// targets role down, with the trust engine's delegation walker. A role is
// verified by each role that delegates to it, when it or that role
// changed; the top-level role by the root, when it or the root changed.
func (c *check) walk() error {
	if !c.known(metadata.TypeTargets) {
		return badRequest(metadata.TypeTargets, checkMissing, "a new repository needs targets metadata")
	}
	c.meta = maps.Clone(c.curMeta)
	err := trust.Walk(0, func(role, _ string) (*metadata.Targets, error) {
		d, err := c.visit(role)
		if err != nil {
			return nil, err
		}
		if d == nil {
			return nil, fmt.Errorf("role %s of %s: no document", role, c.st.gun)
		}
		return d.md.Signed, nil
	}, func(role string, t *metadata.Targets) (trust.Next, error) {
		return c.delegations(role, t)
	})
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(c.submitted)) {
		if !c.loaded[name] {
			return badRequest(name, checkDelegation, "no role of the repository delegates to %q", name)
		}
	}
	// Delegated paths: each target of a delegated role sent must be
	// within the paths of some chain of delegations from targets.
	for _, p := range c.pending {
		if !allowed(c.edges, p.role, p.path, 0) {
			return badRequest(p.role, checkPaths, "target %q is outside the paths delegated to %s", p.path, p.role)
		}
	}
	return nil
}

// visit loads a role reached for the first time, verifies it against
// every delegation to it seen so far, and records what a role sent adds
// to the update.
func (c *check) visit(role string) (*targetsDoc, error) {
	f := c.pre.take(role)
	if f == nil {
		d, err := c.load(role)
		if err != nil {
			return nil, err
		}
		f = &prefetched{doc: d}
	} else if f.err != nil {
		return nil, f.err
	}
	d := f.doc
	c.loaded[role] = true
	if role == metadata.TypeTargets {
		if d.submitted || c.rootChanged {
			if err := c.root.VerifyRole(metadata.TypeTargets, d.md); err != nil {
				what := "not signed by the root's targets keys"
				if !d.submitted {
					what = "the current targets metadata is not signed by the new root's targets keys; send it signed again"
				}
				return nil, badRequest(metadata.TypeTargets, checkSignature, "%s: %v", what, err)
			}
		}
	}
	for _, e := range c.edges[role][f.edges:] {
		if err := c.verifyEdge(e, role, d); err != nil {
			return nil, err
		}
	}
	if !d.submitted {
		return d, nil
	}
	if role != metadata.TypeTargets {
		for path := range d.md.Signed.Targets {
			if !allowed(c.edges, role, path, 0) {
				c.pending = append(c.pending, pendingPath{role, path})
			}
		}
	}
	return d, c.record(role, d, f)
}

// prefetch does for a role sent what visit and record need of it that
// does not depend on the walk: loading it, verifying it against the
// delegations to it known now, and the listings it changes.
func (c *check) prefetch(role string, edges []edge) *prefetched {
	f := &prefetched{}
	if f.doc, f.err = c.load(role); f.err != nil || f.doc == nil {
		return f
	}
	for _, e := range edges {
		if f.err = c.verifyEdge(e, role, f.doc); f.err != nil {
			return f
		}
		f.edges++
	}
	f.listings, f.prepared, f.lerr = c.preparedChanges(role, f.doc.md.Signed)
	return f
}

// verifyEdge verifies d, the document of role, with the keys e's parent
// delegates it to, when either of them changed.
func (c *check) verifyEdge(e edge, role string, d *targetsDoc) error {
	if !d.submitted && !c.submitted[e.parent] {
		return nil
	}
	if err := e.verify(d.md); err != nil {
		return badRequest(role, checkSignature, "not signed by the keys %s delegates it to: %v", e.parent, err)
	}
	return nil
}

// delegations records the delegations of a visited role to roles of the
// new state and returns those not visited yet, for the walker. A role
// visited already is verified against the new delegation at once.
func (c *check) delegations(parent string, t *metadata.Targets) (trust.Next, error) {
	dl := t.Delegations
	if dl == nil {
		return trust.Next{}, nil
	}
	var next trust.Next
	var ahead []string // roles sent, to prefetch
	defer func() { c.pre.add(ahead, c.edges) }()
	for _, name := range trust.AllRoles(dl).Roles {
		if !c.known(name) {
			continue
		}
		if name == metadata.TypeTargets || metadata.IsTopLevel(name) {
			return next, badRequest(parent, checkDelegation, "delegates to the top-level role name %q", name)
		}
		// Only the delegations stay in memory, not the parent's targets.
		keep := &metadata.Targets{Delegations: dl}
		e := edge{parent: parent, verify: func(d metadata.Signed) error { return keep.VerifyDelegate(name, d) }}
		if dl.Succinct != nil {
			e.role, e.succinct, e.bin = dl.Succinct.Role(name), dl.Succinct, -1
			if i, ok := dl.Succinct.BinIndex(name); ok {
				e.bin = i
			}
		} else {
			i := slices.IndexFunc(dl.Roles, func(r metadata.DelegatedRole) bool { return r.Name == name })
			e.role = dl.Roles[i]
		}
		c.edges[name] = append(c.edges[name], e)
		if !c.loaded[name] {
			next.Roles = append(next.Roles, name)
			if c.submitted[name] {
				ahead = append(ahead, name)
			}
			continue
		}
		if c.submitted[name] || c.submitted[parent] {
			d, err := c.load(name)
			if err != nil {
				return next, err
			}
			if err := c.verifyEdge(e, name, d); err != nil {
				return next, err
			}
		}
	}
	return next, nil
}

// record adds a role sent to the update: its document, its entry in the
// new snapshot, and the listings it changes (see listingChanges); content
// the replaced version listed stays served until the current snapshot,
// which lists it, expires.
func (c *check) record(role string, d *targetsDoc, f *prefetched) error {
	t := d.md.Signed
	h := metadata.HashesOf(d.data, false) // once, for the snapshot and the sink
	c.meta[role+".json"] = metadata.MetaFile{Version: t.Version, Length: int64(len(d.data)), Hashes: h}
	if err := c.sink.file(role, role, t.Version, d.data, hex.EncodeToString(h.SHA256)); err != nil {
		return err
	}
	ls, prepared, err := f.listings, f.prepared, f.lerr
	if ls == nil && prepared == nil && err == nil {
		ls, prepared, err = c.preparedChanges(role, t)
	}
	if err != nil {
		return err
	}
	return c.sink.listings(ls, prepared)
}

// preparedChanges returns the listings that t, the new version of role,
// changes: in the sink's form when it prepares them (ls is then nil), else
// as they are.
func (c *check) preparedChanges(role string, t *metadata.Targets) (ls []store.Listing, prepared store.PreparedListings, err error) {
	if _, replaces := c.curMeta[role+".json"]; !replaces {
		if prepared = c.sink.prepareListed(role, t); prepared != nil {
			return nil, prepared, nil
		}
	}
	if ls, err = c.listingChanges(role, t); err != nil {
		return nil, nil, err
	}
	if prepared, err = c.sink.prepare(ls); err != nil || prepared != nil {
		return nil, prepared, err
	}
	return ls, nil, nil
}

// listingChanges returns the listings that t, the new version of role,
// changes (see listingChanges).
func (c *check) listingChanges(role string, t *metadata.Targets) ([]store.Listing, error) {
	var old *metadata.Targets
	var until time.Time
	if mf, ok := c.curMeta[role+".json"]; ok {
		f, err := c.s.store.File(c.ctx, c.st.gun, role, mf.Version)
		if err != nil {
			return nil, fmt.Errorf("loading %s: %w", role, err)
		}
		md, err := metadata.ParseTargets(f.Data)
		if err != nil {
			return nil, fmt.Errorf("stored %s of %s: %w", role, c.st.gun, err)
		}
		old, until = md.Signed, c.st.snapshot.Signed.Expires
	}
	ls := listingChanges(role, old, t, until)
	if ls == nil {
		ls = []store.Listing{}
	}
	return ls, nil
}

// planSnapshot decides the snapshot of the new state: signed by the
// server, sent by the maintainer (and checked), or, when only the root
// changed, the current one, which the new root must still trust.
func (c *check) planSnapshot(p *plan) error {
	changed := len(c.submitted) > 0
	switch {
	case p.snapOnline:
		p.meta = c.meta
	case c.snapshot != nil:
		docData := func(file string) ([]byte, error) {
			name, _ := cutJSON(file)
			if !c.known(name) {
				return nil, badRequest(metadata.TypeSnapshot, checkHashes, "lists %s, which the repository does not have", file)
			}
			d, err := c.load(name)
			if err != nil {
				return nil, err
			}
			return d.data, nil
		}
		if err := checkSnapshot(c.snapshot, c.root, c.st, c.meta, c.now, docData); err != nil {
			return err
		}
		p.snapData, p.snapDoc = c.snapData, c.snapshot
	case changed:
		return badRequest(metadata.TypeSnapshot, checkMissing, "the root does not trust the server's snapshot key, so targets changes need snapshot metadata signed by the snapshot role")
	default:
		if err := c.root.VerifyRole(metadata.TypeSnapshot, c.st.snapshot); err != nil {
			return badRequest(metadata.TypeSnapshot, checkSignature, "the current snapshot is not signed by the new root's snapshot keys; send a new snapshot: %v", err)
		}
	}
	return nil
}
