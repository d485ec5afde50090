package notaryapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rampart-tuf/rampart/server/bodylimit"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/notary"
)

// maxParts bounds the documents of one publish.
const maxParts = 1024

// handlePublish serves the atomic multipart publish of notary-server: each
// part is a signed document, named by its role in the part's filename.
func (a *API) handlePublish(w http.ResponseWriter, r *http.Request, gun string) {
	parts, err := a.readParts(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	unlock := a.cfg.Lock(gun)
	err = a.publish(r.Context(), gun, parts)
	unlock()
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			a.log.Info("notary publish refused", "gun", gun, "err", e.Error())
		}
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// readParts reads the multipart body, within MaxMetadataBytes in all.
func (a *API) readParts(w http.ResponseWriter, r *http.Request) (map[string][]byte, error) {
	limit := a.cfg.MaxMetadataBytes
	if r.ContentLength > limit {
		bodylimit.DrainRefused(w, r, r.Body)
		return nil, apiError(codeMalformedUpload, fmt.Sprintf("body larger than %d bytes", limit))
	}
	body := r.Body
	r.Body = http.MaxBytesReader(w, body, limit)
	parts, err := a.readLimitedParts(r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			bodylimit.DrainRefused(w, r, body)
			return nil, apiError(codeMalformedUpload, fmt.Sprintf("body larger than %d bytes", limit))
		}
		return nil, err
	}
	return parts, nil
}

// readLimitedParts reads the parts of r's multipart body; a read past the
// limit fails with the *http.MaxBytesError of r.Body.
func (a *API) readLimitedParts(r *http.Request) (map[string][]byte, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, apiError(codeMalformedUpload, "want a multipart/form-data body: "+err.Error())
	}
	parts := map[string][]byte{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, readError(err)
		}
		// Part.FileName keeps only the last path element, and delegated
		// roles have slashes: read the parameter itself.
		_, params, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		role := strings.TrimSuffix(params["filename"], ".json")
		switch {
		case role == "":
			return nil, &Error{code: code{"NO_FILENAME", http.StatusBadRequest, "the upload has a part without a filename"}}
		case role == notary.RoleTimestamp || !notary.IsRole(role):
			return nil, apiError(codeInvalidRole, fmt.Sprintf("%q: only root, targets, snapshot and targets/... may be uploaded; the server signs the timestamp", role))
		case parts[role] != nil:
			return nil, apiError(codeMalformedUpload, role+" uploaded twice")
		case len(parts) == maxParts:
			return nil, apiError(codeMalformedUpload, fmt.Sprintf("more than %d documents", maxParts))
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, readError(err)
		}
		if !json.Valid(data) {
			return nil, apiError(codeMalformedJSON, role+" is not JSON")
		}
		parts[role] = data
	}
	if len(parts) == 0 {
		return nil, apiError(codeMalformedUpload, "no documents in the upload")
	}
	return parts, nil
}

// readError is a failed read of the upload; a read past the limit keeps
// its *http.MaxBytesError for readParts.
func readError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return apiError(codeMalformedUpload, err.Error())
}

// update is a publish being checked: the repository's state and the new
// documents.
type update struct {
	a     *API
	ctx   context.Context
	gun   string
	now   time.Time
	cur   *current // nil for a new repository
	parts map[string][]byte

	root     *notary.Document
	rootData []byte
	targets  map[string]*tdoc // targets roles of the new state, loaded as needed
}

// tdoc is a targets document of the new state.
type tdoc struct {
	doc  *notary.Document
	data []byte
	ref  fileRef
	sent bool
}

func (a *API) publish(ctx context.Context, gun string, parts map[string][]byte) error {
	if err := a.requireCreated(ctx, gun); err != nil {
		return err
	}
	u := &update{a: a, ctx: ctx, gun: gun, now: a.cfg.Now(), parts: parts, targets: map[string]*tdoc{}}
	cur, err := a.load(ctx, gun) // not the cache: the state to build on
	switch {
	case errors.Is(err, store.ErrNotFound):
	case errors.Is(err, errNotNotary):
		return invalid(errValidation, gun+" is "+errNotNotary.Error())
	case err != nil:
		return err
	default:
		u.cur = cur
	}
	if err := u.checkRoot(); err != nil {
		return err
	}
	tsSigners, err := a.onlineSigners(ctx, gun, notary.RoleTimestamp, u.root.Root)
	if err != nil {
		return err
	}
	if tsSigners == nil {
		return invalid(errBadRoot, "the root's timestamp role does not list the server's timestamp key (GET .../_trust/tuf/timestamp.key)")
	}
	if err := u.checkTargets(); err != nil {
		return err
	}
	snap, err := u.snapshot()
	if err != nil {
		return err
	}
	return u.commit(snap, tsSigners)
}

// checkRoot checks an uploaded root: the next version (or the first),
// signed by its own root keys and those of the root before it, unexpired,
// its certificates for this GUN.
func (u *update) checkRoot() error {
	data, sent := u.parts[notary.RoleRoot]
	if !sent {
		if u.cur == nil {
			return invalid(errValidation, "a new repository needs a root")
		}
		d, data, err := u.a.doc(u.ctx, u.gun, notary.RoleRoot, u.cur.idx.Roles[notary.RoleRoot].Version, notary.TypeRoot)
		u.root, u.rootData = d, data
		return err
	}
	d, err := notary.ParseAs(data, notary.TypeRoot)
	if err != nil {
		return invalid(errBadRoot, err.Error())
	}
	// The bound of the server's own publish (server.PublishChain). Its
	// rule that a first root is version 1 does not apply: Notary clients
	// trust the current root on first use rather than walking the chain
	// from version 1, and the notary client's first publish is root
	// version 2 after "notary key rotate GUN snapshot -r" on a new
	// repository.
	if err := metadata.CheckVersion(d.Version); err != nil {
		return invalid(errBadRoot, "root: "+err.Error())
	}
	if u.cur != nil {
		curRef := u.cur.idx.Roles[notary.RoleRoot]
		if d.Version == curRef.Version && sha256Hex(data) == curRef.SHA256 {
			delete(u.parts, notary.RoleRoot) // the current root, sent again
			u.root, u.rootData = d, data
			return nil
		}
		if d.Version != curRef.Version+1 {
			return &Error{code: codeOldVersion, detail: fmt.Sprintf("root version %d after %d: want %d", d.Version, curRef.Version, curRef.Version+1)}
		}
		prev, _, err := u.a.doc(u.ctx, u.gun, notary.RoleRoot, curRef.Version, notary.TypeRoot)
		if err != nil {
			return err
		}
		if err := d.Verify(prev.Root.Keys, prev.Root.Roles[notary.RoleRoot]); err != nil {
			return invalid(errBadRoot, "not signed by the keys of the current root: "+err.Error())
		}
	}
	if err := d.Verify(d.Root.Keys, d.Root.Roles[notary.RoleRoot]); err != nil {
		return invalid(errBadRoot, err.Error())
	}
	if d.Expired(u.now) {
		return invalid(errBadRoot, "root expired at "+d.Expires.Format(time.RFC3339))
	}
	for _, id := range d.Root.Roles[notary.RoleRoot].KeyIDs {
		if err := checkCert(d.Root.Keys[id], u.gun, u.now); err != nil {
			return invalid(errBadRoot, "root key "+id+": "+err.Error())
		}
	}
	u.root, u.rootData = d, data
	return nil
}

// checkCert checks a root certificate the way Notary clients do: issued
// for the GUN and valid now.
func checkCert(k notary.Key, gun string, now time.Time) error {
	if k.Type != notary.KeyTypeECDSAX509 && k.Type != notary.KeyTypeRSAX509 {
		return nil
	}
	v, err := k.Verifier()
	if err != nil {
		return err
	}
	c := certOf(v)
	if c.Subject.CommonName != gun {
		return fmt.Errorf("certificate is for %q, not %q", c.Subject.CommonName, gun)
	}
	if now.Before(c.NotBefore) || now.After(c.NotAfter) {
		return fmt.Errorf("certificate is valid from %s to %s", c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
	}
	return nil
}

// targetsDoc returns the document of a targets role in the new state: the
// one uploaded, or the stored current one; nil if there is none.
func (u *update) targetsDoc(role string) (*tdoc, error) {
	if t, ok := u.targets[role]; ok {
		return t, nil
	}
	var t *tdoc
	if data, ok := u.parts[role]; ok {
		d, err := notary.ParseAs(data, notary.TypeTargets)
		if err != nil {
			return nil, invalid(errBadTargets, err.Error())
		}
		t = &tdoc{doc: d, data: data, ref: ref(data, d.Version), sent: true}
	} else if u.cur != nil {
		if r, ok := u.cur.idx.Roles[role]; ok {
			d, data, err := u.a.doc(u.ctx, u.gun, role, r.Version, notary.TypeTargets)
			if err != nil {
				return nil, err
			}
			t = &tdoc{doc: d, data: data, ref: r}
		}
	}
	u.targets[role] = t
	return t, nil
}

// delegation returns the entry that delegates role in its parent's
// document of the new state, and the paths the parent may sign itself
// (nil for the top-level targets role: everything).
func (u *update) delegation(role string) (*notary.Delegation, *tdoc, error) {
	parent := notary.Parent(role)
	pd, err := u.targetsDoc(parent)
	if err != nil {
		return nil, nil, err
	}
	if pd == nil {
		return nil, nil, &Error{code: codeInvalidUpdate, detail: validationDetail{Name: errBadHierarchy, Error: validationError{Msg: parent + " does not exist", Missing: parent}}}
	}
	for i := range pd.doc.Targets.Delegations.Roles {
		if d := &pd.doc.Targets.Delegations.Roles[i]; d.Name == role {
			return d, pd, nil
		}
	}
	return nil, nil, invalid(errBadTargets, role+" is not delegated by "+parent)
}

// pathsOf returns the path prefixes role may sign, nil for everything.
func (u *update) pathsOf(role string) ([]string, error) {
	if role == notary.RoleTargets {
		return nil, nil
	}
	d, _, err := u.delegation(role)
	if err != nil {
		return nil, err
	}
	return d.Paths, nil
}

// checkTargets checks every uploaded targets role, parents first.
func (u *update) checkTargets() error {
	var roles []string
	for role := range u.parts {
		if role == notary.RoleTargets || notary.IsDelegation(role) {
			roles = append(roles, role)
		}
	}
	slices.SortFunc(roles, func(a, b string) int {
		if c := strings.Count(a, "/") - strings.Count(b, "/"); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, role := range roles {
		if err := u.checkTargetsRole(role); err != nil {
			return err
		}
	}
	return nil
}

func (u *update) checkTargetsRole(role string) error {
	t, err := u.targetsDoc(role)
	if err != nil {
		return err
	}
	d := t.doc
	if err := metadata.CheckVersion(d.Version); err != nil {
		return invalid(errBadTargets, role+": "+err.Error())
	}
	for name := range d.Targets.Targets {
		if err := metadata.CheckTargetPath(name); err != nil {
			return invalid(errBadTargets, role+": "+err.Error())
		}
	}
	if u.cur != nil {
		if r, ok := u.cur.idx.Roles[role]; ok && d.Version <= r.Version {
			return &Error{code: codeOldVersion, detail: fmt.Sprintf("%s version %d is not newer than the stored version %d", role, d.Version, r.Version)}
		}
	}
	if d.Expired(u.now) {
		return invalid(errBadTargets, role+" expired at "+d.Expires.Format(time.RFC3339))
	}
	if role == notary.RoleTargets {
		if err := d.Verify(u.root.Root.Keys, u.root.Root.Roles[notary.RoleTargets]); err != nil {
			return invalid(errBadTargets, err.Error())
		}
		return nil
	}
	del, parent, err := u.delegation(role)
	if err != nil {
		return err
	}
	if err := d.Verify(parent.doc.Targets.Delegations.Keys, del.RoleKeys); err != nil {
		return invalid(errBadTargets, err.Error())
	}
	parentPaths, err := u.pathsOf(notary.Parent(role))
	if err != nil {
		return err
	}
	if !notary.PathsWithin(del.Paths, parentPaths) {
		return invalid(errBadTargets, fmt.Sprintf("%s is delegated paths %q outside its parent's %q", role, del.Paths, parentPaths))
	}
	for name := range d.Targets.Targets {
		if !del.Allows(name) {
			return invalid(errBadTargets, fmt.Sprintf("%s signs %q, outside its paths %q", role, name, del.Paths))
		}
	}
	return nil
}

// newSnapshot is the snapshot of the new state.
type newSnapshot struct {
	data    []byte
	version int64
	expires time.Time
	online  bool
	meta    map[string]notary.FileMeta // the roles of the new state
}

// snapshot checks the uploaded snapshot, or signs one when the server holds
// the snapshot key.
func (u *update) snapshot() (*newSnapshot, error) {
	meta, err := u.meta()
	if err != nil {
		return nil, err
	}
	var curVersion int64
	if u.cur != nil {
		curVersion = u.cur.idx.Roles[notary.RoleSnapshot].Version
	}
	if data, ok := u.parts[notary.RoleSnapshot]; ok {
		return u.checkSnapshot(data, meta, curVersion)
	}
	signers, err := u.a.onlineSigners(u.ctx, u.gun, notary.RoleSnapshot, u.root.Root)
	if err != nil {
		return nil, err
	}
	if signers == nil {
		return nil, &Error{code: codeInvalidUpdate, detail: validationDetail{Name: errBadHierarchy, Error: validationError{Msg: "no snapshot was uploaded and the server does not hold the snapshot key", Missing: notary.RoleSnapshot}}}
	}
	expires := u.now.Add(u.a.cfg.SnapshotExpiry)
	signed, err := (&notary.Snapshot{Meta: meta}).Marshal(curVersion+1, expires)
	if err != nil {
		return nil, err
	}
	data, err := notary.Sign(u.ctx, signed, signers...)
	if err != nil {
		return nil, fmt.Errorf("signing the snapshot of %s: %w", u.gun, err)
	}
	return &newSnapshot{data: data, version: curVersion + 1, expires: expires, online: true, meta: meta}, nil
}

// meta lists root, targets and every delegated role reachable from targets
// that has a document, as they are in the new state.
func (u *update) meta() (map[string]notary.FileMeta, error) {
	meta := map[string]notary.FileMeta{notary.RoleRoot: notary.NewFileMeta(u.rootData)}
	queue := []string{notary.RoleTargets}
	for len(queue) > 0 && len(meta) <= maxParts*4 {
		role := queue[0]
		queue = queue[1:]
		t, err := u.targetsDoc(role)
		if err != nil {
			return nil, err
		}
		if t == nil {
			if role == notary.RoleTargets {
				return nil, &Error{code: codeInvalidUpdate, detail: validationDetail{Name: errBadHierarchy, Error: validationError{Msg: "the repository has no targets", Missing: notary.RoleTargets}}}
			}
			continue
		}
		meta[role] = notary.NewFileMeta(t.data)
		for _, d := range t.doc.Targets.Delegations.Roles {
			if notary.Parent(d.Name) == role {
				queue = append(queue, d.Name)
			}
		}
	}
	for role := range u.parts {
		if _, ok := meta[role]; !ok && role != notary.RoleSnapshot {
			return nil, invalid(errBadHierarchy, role+" is not delegated from targets")
		}
	}
	return meta, nil
}

func (u *update) checkSnapshot(data []byte, meta map[string]notary.FileMeta, curVersion int64) (*newSnapshot, error) {
	d, err := notary.ParseAs(data, notary.TypeSnapshot)
	if err != nil {
		return nil, invalid(errBadSnapshot, err.Error())
	}
	if err := metadata.CheckVersion(d.Version); err != nil {
		return nil, invalid(errBadSnapshot, "snapshot: "+err.Error())
	}
	if d.Version <= curVersion {
		return nil, &Error{code: codeOldVersion, detail: fmt.Sprintf("snapshot version %d is not newer than the stored version %d", d.Version, curVersion)}
	}
	if d.Expired(u.now) {
		return nil, invalid(errBadSnapshot, "snapshot expired at "+d.Expires.Format(time.RFC3339))
	}
	if err := d.Verify(u.root.Root.Keys, u.root.Root.Roles[notary.RoleSnapshot]); err != nil {
		return nil, invalid(errBadSnapshot, err.Error())
	}
	for role, m := range d.Snapshot.Meta {
		want, ok := meta[role]
		if !ok {
			return nil, invalid(errBadSnapshot, "lists "+role+", which the repository does not have")
		}
		if !sameMeta(m, want) {
			return nil, invalid(errBadSnapshot, "the length or hashes of "+role+" do not match its document")
		}
	}
	for role := range meta {
		if _, ok := d.Snapshot.Meta[role]; !ok && (u.parts[role] != nil || role == notary.RoleRoot || role == notary.RoleTargets) {
			return nil, invalid(errBadSnapshot, "does not list "+role)
		}
	}
	return &newSnapshot{data: data, version: d.Version, expires: d.Expires, meta: meta}, nil
}

// sameMeta reports whether got describes the file want does: same length
// and every hash it gives equal (at least one of SHA-256 and SHA-512 is
// guaranteed by the parser).
func sameMeta(got, want notary.FileMeta) bool {
	if got.Length != want.Length {
		return false
	}
	for alg, h := range got.Hashes {
		if w, ok := want.Hashes[alg]; ok && string(w) != string(h) {
			return false
		}
	}
	return true
}

// commit signs the timestamp and stores everything in one update.
func (u *update) commit(snap *newSnapshot, tsSigners []notary.SigningKey) error {
	var files []store.File
	idx := index{Roles: map[string]fileRef{}}
	var repo store.Repo
	var base int64
	if u.cur != nil {
		idx, repo, base = u.cur.idx.clone(), u.cur.repo, u.cur.repo.TimestampVersion
	}
	add := func(role string, data []byte, version int64) {
		r := ref(data, version)
		files = append(files, store.File{Role: role, Version: version, SHA256: r.SHA256, Data: data})
		idx.set(role, r)
	}
	if u.parts[notary.RoleRoot] != nil {
		add(notary.RoleRoot, u.rootData, u.root.Version)
	}
	for role, t := range u.targets {
		if t != nil && t.sent {
			add(role, t.data, t.doc.Version)
		}
	}
	add(notary.RoleSnapshot, snap.data, snap.version)
	listings, err := u.listings(snap.meta)
	if err != nil {
		return err
	}
	repo.GUN = u.gun
	repo.RootVersion = u.root.Version
	repo.SnapshotVersion, repo.SnapshotExpires, repo.SnapshotOnline = snap.version, snap.expires, snap.online
	return u.a.commitTimestamp(u.ctx, store.Update{Base: base, Repo: repo, Files: files, Listings: listings}, idx, snap.data, tsSigners)
}

// commitTimestamp signs a timestamp of snapData and stores it with the
// update and the index; u.Base is the timestamp version the update builds
// on (0: a new repository).
func (a *API) commitTimestamp(ctx context.Context, u store.Update, idx index, snapData []byte, signers []notary.SigningKey) error {
	repo, files := u.Repo, u.Files
	now := a.cfg.Now()
	version := repo.TimestampVersion + 1
	expires := now.Add(a.cfg.TimestampExpiry)
	signed, err := (&notary.Timestamp{Meta: map[string]notary.FileMeta{notary.RoleSnapshot: notary.NewFileMeta(snapData)}}).Marshal(version, expires)
	if err != nil {
		return err
	}
	ts, err := notary.Sign(ctx, signed, signers...)
	if err != nil {
		return fmt.Errorf("signing the timestamp of %s: %w", repo.GUN, err)
	}
	ixData, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	files = append(files,
		store.File{Role: notary.RoleTimestamp, Version: version, SHA256: sha256Hex(ts), Data: ts},
		store.File{Role: indexRole, Version: version, SHA256: sha256Hex(ixData), Data: ixData})
	repo.TimestampVersion, repo.TimestampExpires = version, expires
	u.Repo, u.Files = repo, files
	if _, err := a.cfg.Store.Publish(ctx, u); err != nil {
		return err
	}
	a.changed(repo.GUN)
	return nil
}

// Resign signs a new timestamp of a Notary repository, and a new snapshot
// when the server signs it and it expires within snapshotBefore. It
// reports false, doing nothing, for a repository that is not a Notary
// repository. The caller holds the GUN's lock.
func (a *API) Resign(ctx context.Context, gun string, snapshotBefore time.Time) (bool, error) {
	cur, err := a.load(ctx, gun)
	if errors.Is(err, errNotNotary) || errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return true, err
	}
	root, _, err := a.doc(ctx, gun, notary.RoleRoot, cur.idx.Roles[notary.RoleRoot].Version, notary.TypeRoot)
	if err != nil {
		return true, err
	}
	tsSigners, err := a.onlineSigners(ctx, gun, notary.RoleTimestamp, root.Root)
	if err != nil || tsSigners == nil {
		return true, fmt.Errorf("no usable timestamp key: %v", err)
	}
	idx, repo := cur.idx.clone(), cur.repo
	snapRef := idx.Roles[notary.RoleSnapshot]
	snap, _, err := a.doc(ctx, gun, notary.RoleSnapshot, snapRef.Version, notary.TypeSnapshot)
	if err != nil {
		return true, err
	}
	f, err := a.cfg.Store.File(ctx, gun, notary.RoleSnapshot, snapRef.Version)
	if err != nil {
		return true, err
	}
	snapData := f.Data
	var files []store.File
	if repo.SnapshotOnline && repo.SnapshotExpires.Before(snapshotBefore) {
		signers, err := a.onlineSigners(ctx, gun, notary.RoleSnapshot, root.Root)
		if err != nil || signers == nil {
			return true, fmt.Errorf("no usable snapshot key: %v", err)
		}
		expires := a.cfg.Now().Add(a.cfg.SnapshotExpiry)
		signed, err := (&notary.Snapshot{Meta: snap.Snapshot.Meta}).Marshal(snapRef.Version+1, expires)
		if err != nil {
			return true, err
		}
		if snapData, err = notary.Sign(ctx, signed, signers...); err != nil {
			return true, err
		}
		r := ref(snapData, snapRef.Version+1)
		files = append(files, store.File{Role: notary.RoleSnapshot, Version: r.Version, SHA256: r.SHA256, Data: snapData})
		idx.set(notary.RoleSnapshot, r)
		repo.SnapshotVersion, repo.SnapshotExpires = r.Version, expires
	}
	err = a.commitTimestamp(ctx, store.Update{Base: repo.TimestampVersion, Repo: repo, Files: files}, idx, snapData, tsSigners)
	if errors.Is(err, store.ErrConflict) {
		return true, nil // a publish made a fresh timestamp meanwhile
	}
	return true, err
}
