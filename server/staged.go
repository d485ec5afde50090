package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rampart-tuf/rampart/api"
	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// Staged updates: a publish larger than one request body (the documents
// of thousands of hashed bins) is uploaded in parts and committed in one
// step, which checks the whole update as a publish in one request does and
// stores it in one transaction (docs/server-api.md):
//
//	POST   /api/v1/repositories/{gun}/metadata/staged              → {"id": ...}
//	POST   /api/v1/repositories/{gun}/metadata/staged/{id}/parts   {"roots": [...], "roles": {...}}
//	GET    /api/v1/repositories/{gun}/metadata/staged/{id}         what the server has
//	POST   /api/v1/repositories/{gun}/metadata/staged/{id}/commit  → the publish result
//	DELETE /api/v1/repositories/{gun}/metadata/staged/{id}
//
// Each part is bounded by Config.MaxMetadataBytes and a staged update by
// Config.MaxStagedBytes; one never committed expires after
// Config.StagedExpiry and the garbage collection removes it.

// staging returns the store's staged updates, or an error for a store
// without them.
func (s *Server) staging() (store.Staging, error) {
	sg, ok := s.store.(store.Staging)
	if !ok {
		return nil, errorf(http.StatusNotImplemented, "", checkRequest, "this server's store does not keep staged updates")
	}
	return sg, nil
}

// validStagedID reports whether id looks like an ID newStagedID makes.
func validStagedID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// isStagedPath reports whether tail, what follows "metadata/", is a
// staged-update route.
func isStagedPath(tail string) bool { return tail == "staged" || strings.HasPrefix(tail, "staged/") }

// handleStaged serves the staged-update routes; tail is what follows
// "metadata/" in the path ("staged", "staged/ID", "staged/ID/parts", ...).
func (s *Server) handleStaged(w http.ResponseWriter, r *http.Request, gun, tail string) {
	if _, ok := s.authorize(w, r, gun, auth.Push); !ok {
		return
	}
	sg, err := s.staging()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rest, _ := strings.CutPrefix(tail, "staged")
	rest = strings.TrimPrefix(rest, "/")
	id, action, _ := strings.Cut(rest, "/")
	switch {
	case id == "" && r.Method == http.MethodPost:
		if !s.requireCreated(w, r, gun) {
			return
		}
		s.createStaged(w, r, sg, gun)
		return
	case !validStagedID(id):
		s.fail(w, r, errorf(http.StatusNotFound, "", checkNotFound, "a staged update's ID is 32 lowercase hex digits, not %q", id))
		return
	}
	st, parts, err := sg.Staged(r.Context(), gun, id, s.now())
	if errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, errorf(http.StatusNotFound, "", checkNotFound, "%s has no staged update %s (it may have expired or been committed)", gun, id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case action == "" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.stagedStatus(st, parts))
	case action == "" && r.Method == http.MethodDelete:
		if err := sg.DeleteStaged(r.Context(), gun, id); err != nil {
			s.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case action == "parts" && r.Method == http.MethodPost:
		s.addStagedParts(w, r, sg, st, parts)
	case action == "commit" && r.Method == http.MethodPost:
		res, err := s.CommitStaged(r.Context(), gun, id, r.Header.Get("If-Match"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.log.Info("published a staged update", "gun", gun, "id", id, "timestamp_version", res.TimestampVersion, "change", res.ChangeID)
		w.Header().Set("ETag", res.ETag)
		writeJSON(w, http.StatusOK, res)
	default:
		s.fail(w, r, errorf(http.StatusNotFound, "", checkNotFound, "no route for %s %s", r.Method, r.URL.Path))
	}
}

func (s *Server) stagedStatus(st store.Staged, parts []store.StagedPart) api.StagedUpdate {
	out := api.StagedUpdate{ID: st.ID, GUN: st.GUN, Expires: st.Expires.UTC(), MaxPartBytes: s.cfg.MaxMetadataBytes, MaxBytes: s.cfg.MaxStagedBytes,
		Parts: make(map[string]api.StagedPart, len(parts)), PartTypes: []string{api.StagedPartType}}
	for _, p := range parts {
		out.Parts[p.Name] = api.StagedPart{SHA256: p.SHA256, Length: p.Length}
	}
	return out
}

// createStaged starts a staged update of gun. Expired staged updates of
// every repository are removed first.
func (s *Server) createStaged(w http.ResponseWriter, r *http.Request, sg store.Staging, gun string) {
	now := s.now()
	if n, err := sg.DeleteExpiredStaged(r.Context(), now); err != nil {
		s.log.Warn("removing expired staged updates failed", "err", err)
	} else if n > 0 {
		s.log.Info("removed expired staged updates", "count", n)
	}
	var b [16]byte
	rand.Read(b[:])
	st := store.Staged{GUN: gun, ID: hex.EncodeToString(b[:]), Created: now, Expires: now.Add(s.cfg.StagedExpiry)}
	if err := sg.CreateStaged(r.Context(), st, s.cfg.MaxOpenStaged); err != nil {
		if errors.Is(err, store.ErrLimit) {
			err = errorf(http.StatusTooManyRequests, "", checkLimit, "%s has %d staged updates open already: commit or delete one (DELETE .../metadata/staged/ID), or wait until one expires", gun, s.cfg.MaxOpenStaged)
		}
		s.fail(w, r, err)
		return
	}
	s.log.Info("staged update started", "gun", gun, "id", st.ID, "expires", st.Expires)
	writeJSON(w, http.StatusCreated, s.stagedStatus(st, nil))
}

// addStagedParts stores the documents of one part: a body like a publish
// request's. Each document is checked on its own (see encodeStaged) and
// stored; a document of a role the
// staged update has is replaced. A chain of roots is sent whole, in one
// part.
func (s *Server) addStagedParts(w http.ResponseWriter, r *http.Request, sg store.Staging, st store.Staged, have []store.StagedPart) {
	body, mt, e := readBodyOf(w, r, s.cfg.MaxMetadataBytes, s.partBodies, "application/json", api.StagedPartType)
	if e != nil {
		s.fail(w, r, e)
		return
	}
	// The documents are slices of body until the store has them.
	defer s.partBodies.Put(body)
	decode := decodePart
	if mt == api.StagedPartType {
		decode = decodeFrames
	}
	roots, roles, err := decode(body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	parts, err := stagedParts(roots, roles)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.checkStagedSize(st, have, parts, len(roots)); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := sg.PutStagedParts(r.Context(), st.GUN, st.ID, parts); err != nil {
		s.fail(w, r, err)
		return
	}
	_, now, err := sg.Staged(r.Context(), st.GUN, st.ID, time.Time{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.stagedStatus(st, now))
}

// decodePart reads the body of a part, {"roots": [ROOT, ...], "roles":
// {ROLE: DOCUMENT, ...}}, with the canonical-JSON decoder that parses the
// documents: it refuses a member given twice at any depth, as readJSON
// does, and gives each document as a slice of the body (or of its
// canonical form) without decoding it a first time. Roles are returned in
// order of their names.
func decodePart(body []byte) (roots [][]byte, roles []namedDoc, err error) {
	const shape = `the body must be {"roles": {ROLE: SIGNED DOCUMENT, ...}}, with new root versions, oldest first, in "roots": [ROOT, ...]`
	seen := false
	err = canonjson.DecodeObject(body, func(name []byte, r *canonjson.Reader) error {
		if r.Kind() == canonjson.Null {
			return nil
		}
		switch string(name) {
		case "roots":
			seen = true
			return r.Array(func() error {
				doc, err := r.Raw()
				roots = append(roots, doc)
				return err
			})
		case "roles":
			seen = true
			return r.Object(func(name []byte) error {
				doc, err := r.Raw()
				roles = append(roles, namedDoc{role: string(name), doc: doc})
				return err
			})
		}
		return fmt.Errorf("unknown member %q", name)
	})
	if err != nil {
		return nil, nil, badRequest("", checkJSON, "malformed request body: %v", err)
	}
	if !seen {
		return nil, nil, badRequest("", checkJSON, shape)
	}
	return roots, roles, nil
}

// decodeFrames reads the body of a part sent as frames (api.StagedPartType):
// the roots of the chain are named root/001, root/002, ... in order, the
// other documents by their roles. Each document is given as a slice of the
// body.
func decodeFrames(body []byte) (roots [][]byte, roles []namedDoc, err error) {
	err = api.ParseStagedPart(body, func(name, sum string, doc []byte) error {
		if !strings.HasPrefix(name, "root/") {
			// ParseStagedPart checked the digest the frame gives.
			roles = append(roles, namedDoc{role: name, doc: doc, sum: sum})
			return nil
		}
		if want := store.RootPart(len(roots) + 1); name != want {
			return fmt.Errorf("%s: the roots of the chain are named root/001, root/002, ..., in order; want %s", name, want)
		}
		roots = append(roots, doc)
		return nil
	})
	if err != nil {
		return nil, nil, badRequest("", checkJSON, "malformed part (%s): %v", api.StagedPartType, err)
	}
	slices.SortFunc(roles, func(a, b namedDoc) int { return strings.Compare(a.role, b.role) })
	return roots, roles, nil
}

// namedDoc is a document of a role, as sent.
type namedDoc struct {
	role string
	doc  []byte
	sum  string // hex SHA-256 of doc, when known
}

// stagedParts parses and encodes the documents of a part.
func stagedParts(roots [][]byte, roles []namedDoc) ([]store.StagedPart, error) {
	var out []store.StagedPart
	if len(roots) > maxRootChain {
		return nil, badRequest(metadata.TypeRoot, checkRole, "%d root versions in one publish; at most %d", len(roots), maxRootChain)
	}
	for i, raw := range roots {
		md, err := metadata.ParseRoot(raw)
		if err != nil {
			return nil, badRequest(metadata.TypeRoot, checkJSON, "root %d of the chain: %v", i+1, err)
		}
		data, err := md.Encode()
		if err != nil {
			return nil, badRequest(metadata.TypeRoot, checkJSON, "root %d of the chain: %v", i+1, err)
		}
		out = append(out, store.StagedPart{Name: store.RootPart(i + 1), SHA256: sha256Hex(data), Length: int64(len(data)), Data: data})
	}
	for _, d := range roles {
		data, err := encodeStaged(d.role, d.doc)
		if err != nil {
			return nil, err
		}
		sum := d.sum
		if sum == "" || len(data) != len(d.doc) || (len(data) > 0 && &data[0] != &d.doc[0]) {
			sum = sha256Hex(data) // not the document as sent
		}
		out = append(out, store.StagedPart{Name: d.role, SHA256: sum, Length: int64(len(data)), Data: data})
	}
	return out, nil
}

// encodeStaged checks the document of a role sent into a staged update
// and returns it as the server stores it. A targets document (there are
// thousands: hashed bins) is parsed once, by the commit; here its role
// name is checked, and it is kept in the canonical form decodePart gave;
// the commit stores it only if the metadata package encodes it to the
// same bytes, as for a publish in one request.
func encodeStaged(name string, raw []byte) ([]byte, error) {
	switch name {
	case metadata.TypeTimestamp:
		return nil, badRequest(name, checkRole, "the server makes timestamp metadata; do not send it")
	case metadata.TypeMirrors:
		return nil, badRequest(name, checkRole, "mirrors metadata is not supported")
	case metadata.TypeRoot:
		return nil, badRequest(name, checkRole, `send new root versions in "roots"`)
	case metadata.TypeSnapshot:
		md, err := metadata.ParseSnapshot(raw)
		if err != nil {
			return nil, badRequest(name, checkJSON, "%v", err)
		}
		return md.Encode()
	}
	if err := validateRoleName(name); err != nil {
		return nil, badRequest(name, checkRole, "%v", err)
	}
	return raw, nil
}

// checkStagedSize refuses parts that would take the staged update over
// Config.MaxStagedBytes, and a chain of roots of another length than the
// one it has.
func (s *Server) checkStagedSize(st store.Staged, have, parts []store.StagedPart, roots int) error {
	size := map[string]int64{}
	haveRoots := 0
	for _, p := range have {
		size[p.Name] = p.Length
		if strings.HasPrefix(p.Name, "root/") {
			haveRoots++
		}
	}
	if roots > 0 && haveRoots > 0 && roots != haveRoots {
		return errorf(http.StatusConflict, metadata.TypeRoot, checkConflict, "staged update %s has a chain of %d roots; send the chain whole, in one part (or start a new staged update)", st.ID, haveRoots)
	}
	for _, p := range parts {
		size[p.Name] = p.Length
	}
	var total int64
	for _, n := range size {
		total += n
	}
	if total > s.cfg.MaxStagedBytes {
		return errorf(http.StatusRequestEntityTooLarge, "", checkSize, "staged update %s would hold %d bytes; at most %d", st.ID, total, s.cfg.MaxStagedBytes)
	}
	return nil
}

// CommitStaged checks a staged update of gun as a whole, as
// PublishChain checks an update sent in one request, and commits it in one
// transaction; the staged update is then gone. A commit that fails
// changes nothing published, and the staged update stays until it
// expires, for another commit or DELETE. ifMatch is as for Publish.
func (s *Server) CommitStaged(ctx context.Context, gun, id, ifMatch string) (*PublishResult, error) {
	sg, err := s.staging()
	if err != nil {
		return nil, err
	}
	// The parts are in: the memory of the buffers kept for them serves
	// the check instead of staying set aside.
	s.partBodies.Drain()
	_, parts, err := sg.Staged(ctx, gun, id, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, "", checkNotFound, "%s has no staged update %s (it may have expired or been committed)", gun, id)
	}
	if err != nil {
		return nil, err
	}
	// The background reads of the documents end with the check.
	bg, cancel := context.WithCancel(ctx)
	src, err := newStagedSource(bg, sg, gun, id, parts)
	if err != nil {
		cancel()
		return nil, err
	}
	defer src.stop()
	defer cancel()
	return s.publishFrom(ctx, gun, ifMatch, src, func(*state) (updateSink, func(*plan) (*PublishResult, error)) {
		sink := &stagedSink{id: id, sums: src.sums}
		sink.prep, _ = sg.(store.ListingPreparer)
		return sink, func(p *plan) (*PublishResult, error) {
			p.listingGroups, p.prepared = sink.ls, sink.prepared
			p.staged = &stagedCommit{sg: sg, id: id, moves: sink.moves}
			return s.commit(ctx, p)
		}
	})
}

// stagedSource reads the documents of a staged update from the store. A
// document asked for is read with the ones after it in the order of their
// names (the order in which the check mostly walks them), up to
// readAheadBytes at a time, so that a store across the network
// (PostgreSQL) answers in one round trip what would take hundreds; the
// documents read ahead wait in memory, at most maxAheadBytes of them with
// those being read, until they are asked for. A document of a read under
// way is waited for, not read again; and when the documents read ahead run
// low the next ones are read in the background, so that the check's cores
// do not wait for each round trip.
type stagedSource struct {
	sg      store.Staging
	ctx     context.Context // of the background reads
	gun, id string
	nRoots  int
	names   []string
	sums    map[string]string // part name → SHA-256 of the stored document
	lengths map[string]int64

	mu       sync.Mutex
	index    map[string]int    // position in names
	ahead    map[string][]byte // read ahead, not yet asked for
	aheadN   int64             // bytes in ahead and being read
	batched  map[string]bool   // read ahead once, or being read
	reading  map[string]chan struct{}
	next     int  // position in names of the first not batched
	inflight bool // a background read is under way
	bg       sync.WaitGroup
}

// stop waits for the background read under way; ctx must be done (or
// soon), so that it ends.
func (g *stagedSource) stop() { g.bg.Wait() }

// Read-ahead bounds of stagedSource.
const (
	readAheadBytes = 4 << 20
	maxAheadBytes  = 32 << 20
)

func newStagedSource(ctx context.Context, sg store.Staging, gun, id string, parts []store.StagedPart) (*stagedSource, error) {
	src := &stagedSource{sg: sg, ctx: ctx, gun: gun, id: id, sums: map[string]string{}, lengths: map[string]int64{},
		index: map[string]int{}, ahead: map[string][]byte{}, batched: map[string]bool{}, reading: map[string]chan struct{}{}}
	for _, p := range parts {
		src.sums[p.Name] = p.SHA256
		src.lengths[p.Name] = p.Length
		if strings.HasPrefix(p.Name, "root/") {
			src.nRoots++
		} else {
			src.names = append(src.names, p.Name)
		}
	}
	for i := range src.nRoots {
		if _, ok := src.sums[store.RootPart(i+1)]; !ok {
			return nil, badRequest(metadata.TypeRoot, checkMissing, "staged update %s lacks root %d of its chain", id, i+1)
		}
	}
	slices.Sort(src.names)
	for i, n := range src.names {
		src.index[n] = i
	}
	return src, nil
}

func (g *stagedSource) roots() int            { return g.nRoots }
func (g *stagedSource) roles() []string       { return g.names }
func (g *stagedSource) rootPart(i int) string { return store.RootPart(i + 1) }
func (g *stagedSource) root(ctx context.Context, i int) ([]byte, error) {
	return g.doc(ctx, store.RootPart(i+1))
}

func (g *stagedSource) doc(ctx context.Context, name string) ([]byte, error) {
	g.mu.Lock()
	waited := false
	for {
		if d, ok := g.take(name); ok {
			g.readNext()
			g.mu.Unlock()
			return d, nil
		}
		done, ok := g.reading[name]
		if !ok || waited {
			break
		}
		// In a read under way: wait for it (a read that failed leaves
		// the document to be read alone, below).
		g.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		g.mu.Lock()
		waited = true
	}
	i, listed := g.index[name]
	if g.batched[name] || !listed {
		// Read ahead and taken before (the check asks for some
		// documents twice), its read failed, or a root of the chain:
		// read it alone.
		g.mu.Unlock()
		p, err := g.sg.StagedPart(ctx, g.gun, g.id, name)
		return p.Data, err
	}
	batch := g.batchFrom(i)
	g.mu.Unlock()
	g.read(ctx, batch)
	g.mu.Lock()
	d, ok := g.take(name)
	g.readNext()
	g.mu.Unlock()
	if !ok {
		p, err := g.sg.StagedPart(ctx, g.gun, g.id, name)
		return p.Data, err
	}
	return d, nil
}

// take removes the document of name from those read ahead and returns
// it, if it is there. g.mu is held.
func (g *stagedSource) take(name string) ([]byte, bool) {
	d, ok := g.ahead[name]
	if ok {
		delete(g.ahead, name)
		g.aheadN -= int64(len(d))
	}
	return d, ok
}

// batchFrom marks as being read, and returns, the names from position i
// on not batched before, within the bounds. g.mu is held.
func (g *stagedSource) batchFrom(i int) []string {
	var batch []string
	var size int64
	for j := i; j < len(g.names) && (len(batch) == 0 || size < readAheadBytes && g.aheadN+size < maxAheadBytes); j++ {
		n := g.names[j]
		if g.batched[n] {
			break
		}
		batch = append(batch, n)
		size += g.lengths[n]
	}
	done := make(chan struct{})
	for _, n := range batch {
		g.batched[n] = true
		g.reading[n] = done
	}
	g.aheadN += size
	g.next = max(g.next, i+len(batch))
	return batch
}

// read reads the parts of a batch into g.ahead. A part the store does not
// give (or all of them, when the read fails) is left to be read alone.
func (g *stagedSource) read(ctx context.Context, batch []string) {
	if len(batch) == 0 {
		return
	}
	ps, err := g.sg.StagedPartsNamed(ctx, g.gun, g.id, batch)
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		ps = nil
	}
	for _, p := range ps {
		if g.reading[p.Name] != nil && g.ahead[p.Name] == nil {
			g.ahead[p.Name] = p.Data
			g.aheadN += int64(len(p.Data))
		}
	}
	done := g.reading[batch[0]]
	for _, n := range batch {
		g.aheadN -= g.lengths[n]
		delete(g.reading, n)
	}
	close(done)
}

// readNext starts reading the next documents in the background when those
// read ahead run low and no background read is under way. g.mu is held.
func (g *stagedSource) readNext() {
	if g.inflight || g.aheadN >= readAheadBytes/2 {
		return
	}
	for g.next < len(g.names) && g.batched[g.names[g.next]] {
		g.next++
	}
	if g.next >= len(g.names) {
		return
	}
	batch := g.batchFrom(g.next)
	g.inflight = true
	g.bg.Go(func() {
		g.read(g.ctx, batch)
		g.mu.Lock()
		g.inflight = false
		g.mu.Unlock()
	})
}

// stagedSink records where the parts of a staged update go, and the
// listings they change, for the commit: those of each role as they come,
// made into the store's form on the cores that check the update when the
// store can (a million listings are held as 40-byte records, not as
// listings), else in groups that the store's index reads where they are
// (a million listings are not copied into one slice).
type stagedSink struct {
	id       string
	sums     map[string]string
	moves    []store.StagedFile
	prep     store.ListingPreparer // nil for a store that does not prepare listings
	ls       [][]store.Listing
	prepared []store.PreparedListings
}

func (k *stagedSink) file(part, role string, version int64, data []byte, sum string) error {
	// The checked document is the stored one: the server stored it
	// encoded as it encodes every document.
	if sum != k.sums[part] {
		// Sent as frames, byte for byte, but not as Rampart encodes it.
		return badRequest(role, checkJSON, "staged update %s: part %s is not in canonical form: the document as sent has SHA-256 %s, its canonical encoding %s", k.id, part, k.sums[part], sum)
	}
	k.moves = append(k.moves, store.StagedFile{Part: part, Role: role, Version: version})
	return nil
}

func (k *stagedSink) prepare(ls []store.Listing) (store.PreparedListings, error) {
	if k.prep == nil {
		return nil, nil
	}
	return k.prep.PrepareListings(ls)
}

func (k *stagedSink) prepareListed(role string, t *metadata.Targets) store.PreparedListings {
	if k.prep == nil {
		return nil
	}
	return k.prep.PrepareListed(role, len(t.Targets), listed(t))
}

func (k *stagedSink) listings(ls []store.Listing, prepared store.PreparedListings) error {
	if prepared != nil {
		k.prepared = append(k.prepared, prepared)
		return nil
	}
	k.ls = append(k.ls, ls)
	return nil
}

// stagedCommit is the part of a plan that moves a staged update's
// documents into the repository.
type stagedCommit struct {
	sg    store.Staging
	id    string
	moves []store.StagedFile
}
