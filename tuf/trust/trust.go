// Package trust holds the trust rules of TUF (specification section 5):
// which metadata may be loaded, in which order, and checked how, and the
// search through the delegations.
//
// A Set is a pure state machine. It takes raw metadata bytes and a reference
// time, never touches the network or the disk, and either accepts a
// document, keeping its exact bytes for the caller to persist, or returns an
// error that names the file and the failed check, leaving its state as it
// was. The client drives it with fetched and cached bytes; the repository
// library drives it with what it reads back from a metadata server. Options
// hold what differs between them: the reference time and what an expired
// document does.
//
// Documents are parsed by package metadata, which reads the shapes deployed
// repositories have beyond the specification (see its documentation);
// Options.StrictKeyIDs restores the specification's strict key ID rule.
package trust

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// Doc is a document the Set trusts, with the exact bytes it was read from.
type Doc[T metadata.Role] struct {
	*metadata.Metadata[T]
	Raw []byte
}

// Options says how a Set checks what it is given.
type Options struct {
	// Time is the reference time expiry is checked against, fixed for the
	// life of the Set (spec 5.1); zero means the time New is called. A
	// server checking an upload passes a reading of its own clock.
	Time time.Time
	// Expiry is what an expired document does.
	Expiry ExpiryPolicy
	// StrictKeyIDs refuses root and targets metadata that lists a key under
	// an ID other than the key's hash, as the specification requires. By
	// default a key ID is a name (see package metadata): repositories such
	// as Sigstore's root of trust list keys so.
	StrictKeyIDs bool
}

// ExpiryPolicy is what a Set does with a document that expired before the
// reference time.
type ExpiryPolicy int

const (
	// ExpiryFail refuses it with an *ExpiredError, as a client must.
	ExpiryFail ExpiryPolicy = iota
	// ExpiryReport accepts it, when every other check passes, and lists it
	// in Set.Expired: for a maintainer's tool that reads a repository in
	// order to repair it, never for a client that installs what it reads.
	ExpiryReport
)

// Set is the trusted metadata of one update. It is not safe for concurrent
// use; its users serialize access to it.
type Set struct {
	ref       time.Time
	expiry    ExpiryPolicy
	expired   []*ExpiredError // accepted under ExpiryReport, in order
	root      Doc[*metadata.Root]
	timestamp *Doc[*metadata.Timestamp]
	snapshot  *Doc[*metadata.Snapshot]
	targets   map[string]*targetsDoc
	rotated   bool // timestamp or snapshot keys changed in a root update
	strictIDs bool // Options.StrictKeyIDs
}

type targetsDoc struct {
	Doc[*metadata.Targets]
	verifiedBy map[string]bool // delegators whose keys verified this document
}

// New starts a Set from a trusted root, which must be signed by its own
// threshold of keys. The root may be expired: an update may replace it.
func New(rootData []byte, opts Options) (*Set, error) {
	root, err := metadata.ParseRoot(rootData)
	if err != nil {
		return nil, fileErr("root.json", "parse", err)
	}
	if err := checkKeyIDs(opts.StrictKeyIDs, "root.json", root); err != nil {
		return nil, err
	}
	if err := root.Signed.VerifyRole(metadata.TypeRoot, root); err != nil {
		return nil, fileErr("root.json", "signatures", err)
	}
	ref := opts.Time
	if ref.IsZero() {
		ref = time.Now()
	}
	return &Set{ref: ref, expiry: opts.Expiry, root: Doc[*metadata.Root]{root, rootData}, targets: map[string]*targetsDoc{}, strictIDs: opts.StrictKeyIDs}, nil
}

// Reference returns the reference time of the update.
func (s *Set) Reference() time.Time { return s.ref }

// Expired returns the expired documents the Set accepted under
// ExpiryReport, in the order it met them, each once.
func (s *Set) Expired() []*ExpiredError { return slices.Clone(s.expired) }

// checkExpiry applies the expiry policy to a document that expires at
// expires.
func (s *Set) checkExpiry(file string, expires time.Time) error {
	if expires.After(s.ref) { // as metadata.Common.IsExpired
		return nil
	}
	e := &ExpiredError{File: file, Expires: expires, Ref: s.ref}
	if s.expiry != ExpiryReport {
		return e
	}
	if !slices.ContainsFunc(s.expired, func(x *ExpiredError) bool { return x.File == file }) {
		s.expired = append(s.expired, e)
	}
	return nil
}

// Root returns the trusted root.
func (s *Set) Root() Doc[*metadata.Root] { return s.root }

// Timestamp returns the trusted timestamp, or nil.
func (s *Set) Timestamp() *Doc[*metadata.Timestamp] { return s.timestamp }

// Snapshot returns the trusted snapshot, or nil.
func (s *Set) Snapshot() *Doc[*metadata.Snapshot] { return s.snapshot }

// Targets returns the trusted targets metadata of role, or nil.
func (s *Set) Targets(role string) *Doc[*metadata.Targets] {
	if t := s.targets[role]; t != nil {
		return &t.Doc
	}
	return nil
}

// UpdateRoot checks the root that follows the trusted one (section 5.3.4 to
// 5.3.8): its version is exactly one more, and it is signed by a threshold
// of the trusted root's root keys and of its own. Expiry is checked later,
// by CheckRootExpiry, once no newer root is found.
func (s *Set) UpdateRoot(data []byte) error {
	if s.timestamp != nil {
		return errors.New("root.json: cannot update root after timestamp")
	}
	want := s.root.Signed.Version + 1
	name := fmt.Sprintf("%d.root.json", want)
	root, err := metadata.ParseRoot(data)
	if err != nil {
		return fileErr(name, "parse", err)
	}
	if err := checkKeyIDs(s.strictIDs, name, root); err != nil {
		return err
	}
	if err := s.root.Signed.VerifyRole(metadata.TypeRoot, root); err != nil {
		return fileErr(name, "signatures by the trusted root's keys", err)
	}
	if err := root.Signed.VerifyRole(metadata.TypeRoot, root); err != nil {
		return fileErr(name, "signatures by its own keys", err)
	}
	if root.Signed.Version != want {
		return &RollbackError{File: name, Got: root.Signed.Version, Want: want, Exact: true}
	}
	s.rotated = s.rotated || keysChanged(s.root.Signed, root.Signed)
	s.root = Doc[*metadata.Root]{root, data}
	return nil
}

// UpdateRootChain checks root versions that follow the trusted one, in
// order, each as UpdateRoot does: for an update that carries several root
// versions at once. It takes all of them or, naming the first that fails,
// none.
func (s *Set) UpdateRootChain(chain [][]byte) error {
	root, rotated := s.root, s.rotated
	for _, data := range chain {
		if err := s.UpdateRoot(data); err != nil {
			s.root, s.rotated = root, rotated
			return err
		}
	}
	return nil
}

// CheckRootExpiry fails when the trusted root has expired (5.3.10).
func (s *Set) CheckRootExpiry() error {
	return s.checkExpiry("root.json", s.root.Signed.Expires)
}

// RotatedKeys reports whether the keys or threshold of the timestamp or
// snapshot role changed in any of the root updates of this Set, in which
// case cached timestamp and snapshot metadata must be discarded before they
// are loaded (fast-forward attack recovery, 5.3.11).
func (s *Set) RotatedKeys() bool { return s.rotated }

func keysChanged(old, new *metadata.Root) bool {
	// Keys are compared by their hashes, not by the IDs the roots list
	// them under: an ID is only a name within one document.
	for _, role := range []string{metadata.TypeTimestamp, metadata.TypeSnapshot} {
		a, b := old.Roles[role], new.Roles[role]
		if a == nil || b == nil || a.Threshold != b.Threshold || !slices.Equal(roleKeys(old, role), roleKeys(new, role)) {
			return true
		}
	}
	return false
}

// LoadTimestamp trusts a timestamp from the local cache as the reference
// for rollback checks. It must be signed by the trusted root's timestamp
// keys; it may be expired.
func (s *Set) LoadTimestamp(data []byte) error {
	if s.rotated {
		return fmt.Errorf("timestamp.json: %w", ErrKeysRotated)
	}
	ts, err := s.parseTimestamp(data)
	if err != nil {
		return err
	}
	s.timestamp = &Doc[*metadata.Timestamp]{ts, data}
	return nil
}

func (s *Set) parseTimestamp(data []byte) (*metadata.Metadata[*metadata.Timestamp], error) {
	if s.snapshot != nil {
		return nil, errors.New("timestamp.json: cannot update timestamp after snapshot")
	}
	if err := s.CheckRootExpiry(); err != nil {
		return nil, err
	}
	ts, err := metadata.ParseTimestamp(data)
	if err != nil {
		return nil, fileErr("timestamp.json", "parse", err)
	}
	if err := s.root.Signed.VerifyRole(metadata.TypeTimestamp, ts); err != nil {
		return nil, fileErr("timestamp.json", "signatures", err)
	}
	return ts, nil
}

// ErrKeysRotated refuses cached timestamp or snapshot metadata after a root
// update changed the keys of either role: versions an attacker pushed ahead
// with compromised keys must not block the new keys' metadata.
var ErrKeysRotated = errors.New("timestamp or snapshot keys rotated: the cached copy is no longer trusted (fast-forward attack recovery)")

// ErrUnchanged reports a new document with the same version as the trusted
// one: the trusted one stays.
var ErrUnchanged = errors.New("same version as the trusted metadata")

// UpdateTimestamp checks a newly downloaded timestamp (5.4): signatures,
// no rollback of its version or of the snapshot version it lists, and
// expiry. A timestamp of the trusted version is not taken (ErrUnchanged
// wrapped), but the trusted one must then still be valid.
func (s *Set) UpdateTimestamp(data []byte) error {
	ts, err := s.parseTimestamp(data)
	if err != nil {
		return err
	}
	if old := s.timestamp; old != nil {
		if ts.Signed.Version < old.Signed.Version {
			return &RollbackError{File: "timestamp.json", Got: ts.Signed.Version, Want: old.Signed.Version}
		}
		if ts.Signed.Version == old.Signed.Version {
			if err := s.checkExpiry("timestamp.json", old.Signed.Expires); err != nil {
				return err
			}
			return fmt.Errorf("timestamp.json: version %d: %w", ts.Signed.Version, ErrUnchanged)
		}
		newSnap, oldSnap := ts.Signed.SnapshotMeta().Version, old.Signed.SnapshotMeta().Version
		if newSnap < oldSnap {
			return &RollbackError{File: "snapshot.json (as listed in timestamp.json)", Got: newSnap, Want: oldSnap}
		}
	}
	if err := s.checkExpiry("timestamp.json", ts.Signed.Expires); err != nil {
		return err
	}
	s.timestamp = &Doc[*metadata.Timestamp]{ts, data}
	return nil
}

// CheckTimestamp fails unless the trusted timestamp exists and is unexpired.
func (s *Set) CheckTimestamp() error {
	if s.timestamp == nil {
		return errors.New("timestamp.json: no trusted timestamp")
	}
	return s.checkExpiry("timestamp.json", s.timestamp.Signed.Expires)
}

// SnapshotMeta returns what the trusted timestamp says about snapshot.json.
func (s *Set) SnapshotMeta() (metadata.MetaFile, error) {
	if err := s.CheckTimestamp(); err != nil {
		return metadata.MetaFile{}, err
	}
	return s.timestamp.Signed.SnapshotMeta(), nil
}

// LoadSnapshot trusts a snapshot from the local cache as the reference for
// rollback checks: signed by the trusted root's snapshot keys, and
// otherwise taken as it is.
func (s *Set) LoadSnapshot(data []byte) error {
	if s.rotated {
		return fmt.Errorf("snapshot.json: %w", ErrKeysRotated)
	}
	snap, err := s.parseSnapshot(data)
	if err != nil {
		return err
	}
	s.snapshot = &Doc[*metadata.Snapshot]{snap, data}
	return nil
}

func (s *Set) parseSnapshot(data []byte) (*metadata.Metadata[*metadata.Snapshot], error) {
	if len(s.targets) > 0 {
		return nil, errors.New("snapshot.json: cannot update snapshot after targets")
	}
	if err := s.CheckTimestamp(); err != nil {
		return nil, err
	}
	snap, err := metadata.ParseSnapshot(data)
	if err != nil {
		return nil, fileErr("snapshot.json", "parse", err)
	}
	if err := s.root.Signed.VerifyRole(metadata.TypeSnapshot, snap); err != nil {
		return nil, fileErr("snapshot.json", "signatures", err)
	}
	return snap, nil
}

// SnapshotCurrent reports whether the trusted snapshot is the one the
// trusted timestamp lists.
func (s *Set) SnapshotCurrent() bool {
	return s.snapshot != nil && s.timestamp != nil && s.snapshot.Signed.Version == s.timestamp.Signed.SnapshotMeta().Version
}

// UpdateSnapshot checks a newly downloaded snapshot (5.5): length and hashes
// as the timestamp lists them, signatures, the version the timestamp names,
// no rollback or removal of any targets metadata the trusted snapshot lists,
// and expiry.
func (s *Set) UpdateSnapshot(data []byte) error {
	meta, err := s.SnapshotMeta()
	if err != nil {
		return err
	}
	if err := checkMetaFile("snapshot.json", meta, data); err != nil {
		return err
	}
	snap, err := s.parseSnapshot(data)
	if err != nil {
		return err
	}
	if snap.Signed.Version != meta.Version {
		return &VersionMismatchError{File: "snapshot.json", Got: snap.Signed.Version, Want: meta.Version, ListedIn: "timestamp.json"}
	}
	if old := s.snapshot; old != nil {
		for _, name := range slices.Sorted(maps.Keys(old.Signed.Meta)) {
			was := old.Signed.Meta[name]
			now, ok := snap.Signed.Meta[name]
			if !ok {
				return fmt.Errorf("snapshot.json: %s is no longer listed (rollback attack?)", name)
			}
			if now.Version < was.Version {
				return &RollbackError{File: name + " (as listed in snapshot.json)", Got: now.Version, Want: was.Version}
			}
		}
	}
	if err := s.checkExpiry("snapshot.json", snap.Signed.Expires); err != nil {
		return err
	}
	s.snapshot = &Doc[*metadata.Snapshot]{snap, data}
	return nil
}

// CheckSnapshot fails unless the trusted snapshot is the one the timestamp
// lists and is unexpired.
func (s *Set) CheckSnapshot() error {
	if err := s.CheckTimestamp(); err != nil {
		return err
	}
	if s.snapshot == nil {
		return errors.New("snapshot.json: no trusted snapshot")
	}
	if want := s.timestamp.Signed.SnapshotMeta().Version; s.snapshot.Signed.Version != want {
		return &VersionMismatchError{File: "snapshot.json", Got: s.snapshot.Signed.Version, Want: want, ListedIn: "timestamp.json"}
	}
	return s.checkExpiry("snapshot.json", s.snapshot.Signed.Expires)
}

// TargetsMeta returns what the trusted snapshot says about the metadata of
// role.
func (s *Set) TargetsMeta(role string) (metadata.MetaFile, error) {
	if err := s.CheckSnapshot(); err != nil {
		return metadata.MetaFile{}, err
	}
	meta, ok := s.snapshot.Signed.Meta[role+".json"]
	if !ok {
		return metadata.MetaFile{}, fmt.Errorf("%s.json: not listed in snapshot.json", role)
	}
	return meta, nil
}

// UpdateTargets checks the metadata of the targets role, or of a role
// delegated by parent (5.6): length and hashes and version as the snapshot
// lists them, signatures by the keys the delegating role trusts for it, and
// expiry. A document already trusted is verified again when reached through
// another delegating role, so trust gained through one parent never carries
// over to another.
func (s *Set) UpdateTargets(role, parent string, data []byte) error {
	name := role + ".json"
	if t := s.targets[role]; t != nil {
		if t.verifiedBy[parent] {
			return nil
		}
		if err := s.verifyDelegate(role, parent, t.Metadata); err != nil {
			return fileErr(name, "signatures", err)
		}
		t.verifiedBy[parent] = true
		return nil
	}
	meta, err := s.TargetsMeta(role)
	if err != nil {
		return err
	}
	if err := checkMetaFile(name, meta, data); err != nil {
		return err
	}
	// Target lists are decoded lazily (a lookup decodes only its entry),
	// and large ones are verified while they are being decoded.
	var sigErr error
	doc, err := metadata.ParseTargetsLazyVerified(data, func(d metadata.Signed) error {
		sigErr = s.verifyDelegate(role, parent, d)
		return sigErr
	})
	switch {
	case sigErr != nil && err == sigErr:
		return fileErr(name, "signatures", err)
	case err != nil:
		return fileErr(name, "parse", err)
	}
	if err := checkKeyIDs(s.strictIDs, name, doc); err != nil {
		return err
	}
	if doc.Signed.Version != meta.Version {
		return &VersionMismatchError{File: name, Got: doc.Signed.Version, Want: meta.Version, ListedIn: "snapshot.json"}
	}
	if err := s.checkExpiry(name, doc.Signed.Expires); err != nil {
		return err
	}
	s.targets[role] = &targetsDoc{Doc[*metadata.Targets]{doc, data}, map[string]bool{parent: true}}
	return nil
}

func (s *Set) verifyDelegate(role, parent string, doc metadata.Signed) error {
	if parent == metadata.TypeRoot {
		if role != metadata.TypeTargets {
			return fmt.Errorf("root delegates only the targets role, not %q", role)
		}
		return s.root.Signed.VerifyRole(metadata.TypeTargets, doc)
	}
	p := s.targets[parent]
	if p == nil {
		return fmt.Errorf("delegating role %q is not trusted", parent)
	}
	return p.Signed.VerifyDelegate(role, doc)
}

// checkMetaFile checks data against the length and hashes a snapshot or
// timestamp lists for it, where it lists them.
func checkMetaFile(name string, meta metadata.MetaFile, data []byte) error {
	if meta.Length != 0 && int64(len(data)) != meta.Length {
		return &LengthError{File: name, Got: int64(len(data)), Want: meta.Length}
	}
	if !meta.Hashes.IsZero() {
		if err := meta.Hashes.Verify(data); err != nil {
			return fileErr(name, "hashes", err)
		}
	}
	return nil
}
