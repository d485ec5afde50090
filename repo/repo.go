package repo

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rampart-tuf/rampart/keystore"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// Directories inside a repository.
const (
	stagedDir  = "staged"
	rootsDir   = "roots"
	targetsDir = "targets"
	keysDir    = "keys"
)

// Options are the settings of an open repository that are not stored in it.
type Options struct {
	// Keys reads and creates key files; nil means an EncryptedKeyStore
	// taking the passphrase from RAMPART_PASSPHRASE.
	Keys KeyStore
	// Signers are keys at hand in addition to those repo.json points to,
	// such as a key given on the command line. Each is used for every role
	// that trusts it.
	Signers []keys.Signer
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Progress, when set, receives progress bars (the CLI passes standard
	// error; bars draw only on a terminal).
	Progress io.Writer
}

// Repo is an open repository. Its methods are not safe for concurrent use;
// Open locks the directory against other processes until Close.
type Repo struct {
	dir    string
	opts   Options
	cfg    *Config
	root   *metadata.Metadata[*metadata.Root]
	unlock func()

	mu      sync.Mutex
	raw     map[string][]byte      // staged bytes by role, loaded lazily
	signers map[string]keys.Signer // loaded keys by key ID
	failed  map[string]error       // keys that could not be loaded
	notes   []Note                 // see Notes
	// fresh lists the targets roles this Repo signed and wrote itself,
	// with the keys that signed them (signers check their signatures as
	// they make them, unless unchecked is set), so that publishing right
	// after a large change need not read and verify thousands of bins
	// again.
	fresh map[string]freshRole

	// commitHook, set only by tests, sees the steps of each commit.
	commitHook commitHook
}

type freshRole struct {
	version  int64
	expires  time.Time
	signedBy []string
	// unchecked says the signatures were not checked when they were made
	// (see uncheckedSigner): publishing checks them.
	unchecked bool
}

// Open opens the repository in dir, completing or discarding a commit that
// an earlier command left unfinished.
func Open(ctx context.Context, dir string, opts Options) (*Repo, error) {
	if _, err := os.Stat(filepath.Join(dir, configFile)); err != nil {
		_, err := readConfig(dir)
		return nil, err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	r, err := open(dir, opts, unlock)
	if err != nil {
		unlock()
		return nil, err
	}
	return r, nil
}

func open(dir string, opts Options, unlock func()) (*Repo, error) {
	if err := recoverJournal(dir); err != nil {
		return nil, err
	}
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	r := newRepo(dir, opts, cfg, unlock)
	data, err := r.rawRole(metadata.TypeRoot)
	if err != nil {
		return nil, err
	}
	if r.root, err = metadata.ParseRoot(data); err != nil {
		return nil, fmt.Errorf("%s: %w", r.stagedPath(metadata.TypeRoot), err)
	}
	return r, nil
}

func newRepo(dir string, opts Options, cfg *Config, unlock func()) *Repo {
	if opts.Keys == nil {
		fromEnv := func(string) ([]byte, error) {
			if p, ok := os.LookupEnv(keystore.EnvPassphrase); ok {
				return []byte(p), nil
			}
			return nil, keystore.ErrNoPassphrase
		}
		opts.Keys = NewEncryptedKeyStore(fromEnv, fromEnv)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Repo{dir: dir, opts: opts, cfg: cfg, unlock: unlock,
		raw: map[string][]byte{}, signers: map[string]keys.Signer{}, failed: map[string]error{},
		fresh: map[string]freshRole{}}
	for _, s := range opts.Signers {
		r.signers[KeyID(s.PublicKey())] = s
	}
	return r
}

// Close releases the repository's lock and the keys it loaded.
func (r *Repo) Close() error {
	if r.unlock != nil {
		r.unlock()
		r.unlock = nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for id, s := range r.signers {
		if c, ok := s.(io.Closer); ok && !slices.ContainsFunc(r.opts.Signers, func(o keys.Signer) bool { return o == s }) {
			errs = append(errs, c.Close())
		}
		delete(r.signers, id)
	}
	return errors.Join(errs...)
}

// Dir returns the repository directory.
func (r *Repo) Dir() string { return r.dir }

// Config returns a copy of the repository configuration.
func (r *Repo) Config() *Config { return r.cfg.clone() }

// Root returns the staged root metadata. The caller must not modify it.
func (r *Repo) Root() *metadata.Metadata[*metadata.Root] { return r.root }

// AddSigner makes a key available for signing from now on; Close closes
// it if it has a Close method.
func (r *Repo) AddSigner(s keys.Signer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.signers[KeyID(s.PublicKey())] = s
}

// stagedPath is the file of role's staged metadata: the role name is
// percent-encoded into one file name (metadata.RoleFileName), so that
// "targets/releases" is staged/targets%2Freleases.json.
func (r *Repo) stagedPath(role string) string {
	return filepath.Join(r.dir, stagedDir, metadata.RoleFileName(role))
}

func stagedRel(role string) string { return stagedDir + "/" + metadata.RoleFileName(role) }

// rawRole returns the staged bytes of role.
func (r *Repo) rawRole(role string) ([]byte, error) {
	r.mu.Lock()
	b, ok := r.raw[role]
	r.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := readFile(r.stagedPath(role))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("no role %q in repository %s: %w", role, r.dir, errNoRole)
		}
		return nil, err
	}
	if !r.cfg.isBin(role) { // thousands of bins are read once, not kept
		r.mu.Lock()
		r.raw[role] = b
		r.mu.Unlock()
	}
	return b, nil
}

// readTargets parses the staged metadata of a targets role.
func (r *Repo) readTargets(role string) (*metadata.Metadata[*metadata.Targets], error) {
	b, err := r.rawRole(role)
	if err != nil {
		return nil, err
	}
	md, err := metadata.ParseTargets(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.stagedPath(role), err)
	}
	return md, nil
}

func (r *Repo) readSnapshot() (*metadata.Metadata[*metadata.Snapshot], error) {
	b, err := r.rawRole(metadata.TypeSnapshot)
	if err != nil {
		return nil, err
	}
	return metadata.ParseSnapshot(b)
}

func (r *Repo) readTimestamp() (*metadata.Metadata[*metadata.Timestamp], error) {
	b, err := r.rawRole(metadata.TypeTimestamp)
	if err != nil {
		return nil, err
	}
	return metadata.ParseTimestamp(b)
}

// keyPath resolves a path from repo.json.
func (r *Repo) keyPath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(r.dir, p)
}

// signer returns the signer of key id if it is available, nil if it is
// not (no private file configured, or the file is not there: an offline
// key), or an error when its file is there but cannot be read.
func (r *Repo) signer(ctx context.Context, cfg *Config, id string) (keys.Signer, error) {
	r.mu.Lock()
	s, ok := r.signers[id]
	ferr := r.failed[id]
	r.mu.Unlock()
	if ok {
		return s, nil
	}
	if ferr != nil {
		return nil, ferr
	}
	ref, ok := cfg.Keys[id]
	if !ok || ref.Private == "" {
		return nil, nil
	}
	path := r.keyPath(ref.Private)
	s, err := LoadSigner(ctx, r.opts.Keys, id, path)
	if errors.Is(err, ErrNoKey) {
		return nil, nil // not in the agent, and no file: an offline key
	}
	if err == nil && KeyID(s.PublicKey()) != id {
		err = fmt.Errorf("the key in %s is not key %s that repo.json says it is (its ID is %s)", path, shortID(id), shortID(KeyID(s.PublicKey())))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("loading key %s from %s: %w", shortID(id), path, err)
		r.failed[id] = err
		return nil, err
	}
	r.signers[id] = s
	return s, nil
}

// signersFor returns the available signers among ids.
func (r *Repo) signersFor(ctx context.Context, ids []string) ([]keys.Signer, error) {
	return r.signersWith(ctx, r.cfg, ids)
}

// signersWith is signersFor with the key references of cfg.
func (r *Repo) signersWith(ctx context.Context, cfg *Config, ids []string) ([]keys.Signer, error) {
	var out []keys.Signer
	for _, id := range ids {
		s, err := r.signer(ctx, cfg, id)
		if err != nil {
			return nil, err
		}
		if s != nil {
			out = append(out, s)
		}
	}
	return out, nil
}

// keyHint names where key id is expected, for messages: "(keys/targets.key)".
func (r *Repo) keyHint(id string) string {
	ref, ok := r.cfg.Keys[id]
	if !ok {
		return ""
	}
	if ref.Server {
		return " (held by the server)"
	}
	if ref.Private != "" {
		return " (" + ref.Private + ")"
	}
	if ref.Public != "" {
		return " (" + ref.Public + ")"
	}
	return ""
}

// Tx is a transaction: the edits of one Update. Roles obtained for editing
// are committed together when the Update function returns nil.
type Tx struct {
	r   *Repo
	ctx context.Context
	cfg *Config

	cfgChanged bool
	root       *metadata.Metadata[*metadata.Root]
	edited     map[string]*metadata.Metadata[*metadata.Targets] // targets roles to commit
	created    map[string]bool
	read       map[string]*metadata.Metadata[*metadata.Targets] // parsed, not edited
	forceSnap  bool
	forceTime  bool
	resignRoot bool
	pending    []Note   // roles committed below their threshold
	j          *journal // begun by a change that streams files, or by commit
	// before, when set, makes files outside the journal durable that the
	// commit refers to; the commit point waits for it (journal.before).
	before func() error
	// signed are the files signed elsewhere that the function of
	// updateSigned returned.
	signed signedFiles
	// placed are the targets placed in hashed bins and not yet inserted.
	placed placed
}

// settle inserts the targets placed in bin role into its document, for a
// transaction that looks at the bin before committing it.
func (tx *Tx) settle(role string) error {
	adds, ok := tx.placed.bins[role]
	if !ok {
		return nil
	}
	delete(tx.placed.bins, role)
	t, err := tx.Targets(role)
	if err != nil {
		return err
	}
	tx.placed.insert(t, adds)
	return nil
}

// signedFiles are files a transaction writes as they are, signed
// elsewhere (pulled from the server, imported): versions are those the
// new snapshot lists for roles among them, and with renew, snapshot and
// timestamp are made anew even if no role here changed.
type signedFiles struct {
	files    []change
	versions map[string]int64
	renew    bool
	// streamed are the paths of files signed elsewhere that the
	// function already wrote into the journal (Tx.journal) as they
	// arrived, instead of holding them for the commit.
	streamed []string
}

// noteUnsigned records a role committed with fewer signatures than it
// needs. Bins are summed up as one note.
func (tx *Tx) noteUnsigned(role string, have, threshold int, ids []string) {
	if have >= threshold || tx.cfg.serverHeld(ids) {
		return // enough, or the server signs when the repository is published
	}
	if tx.cfg.isBin(role) {
		role = tx.cfg.Bins.Prefix
		for _, p := range tx.pending {
			if p.Role == "bins" {
				return
			}
		}
		tx.pending = append(tx.pending, Note{Role: "bins", Text: fmt.Sprintf("hashed bins %s-* are staged with %d of %d signatures (their keys are not at hand: %s)",
			role, have, threshold, tx.r.hints(tx.cfg, ids))})
		return
	}
	tx.pending = append(tx.pending, Note{Role: role, Text: fmt.Sprintf("%s is staged with %d of %d signatures (keys not at hand: %s)",
		role, have, threshold, tx.r.hints(tx.cfg, ids))})
}

// hints names keys and where they are expected.
func (r *Repo) hints(cfg *Config, ids []string) string {
	var parts []string
	for _, id := range ids {
		r.mu.Lock()
		_, have := r.signers[id]
		r.mu.Unlock()
		if have {
			continue
		}
		h := shortID(id)
		if ref, ok := cfg.Keys[id]; ok {
			if ref.Server {
				h += " (held by the server)"
			} else if ref.Private != "" {
				h += " (" + ref.Private + ")"
			} else if ref.Public != "" {
				h += " (" + ref.Public + ")"
			}
		}
		parts = append(parts, h)
	}
	return strings.Join(parts, ", ")
}

func countIn(signers []keys.Signer, ids []string) int {
	n := 0
	for _, s := range signers {
		if slices.Contains(ids, KeyID(s.PublicKey())) {
			n++
		}
	}
	return n
}

// Notes returns what the last change left to do: roles it staged below
// their threshold, because their keys were not at hand.
func (r *Repo) Notes() []Note { return r.notes }

// Update runs fn in a transaction and commits its changes atomically: every
// role fn edited gets its version bumped once and its expiry refreshed, is
// signed with the available keys of the role, and snapshot and timestamp
// are brought up to date. Nothing is written when fn fails.
func (r *Repo) Update(ctx context.Context, fn func(tx *Tx) error) error {
	return r.updateSigned(ctx, func(tx *Tx) (signedFiles, error) {
		return signedFiles{}, fn(tx)
	})
}

// updateSigned is Update for a transaction that also writes files signed
// elsewhere, which fn returns.
func (r *Repo) updateSigned(ctx context.Context, fn func(tx *Tx) (signedFiles, error)) error {
	tx := &Tx{r: r, ctx: ctx, cfg: r.cfg.clone(),
		edited: map[string]*metadata.Metadata[*metadata.Targets]{}, created: map[string]bool{},
		read: map[string]*metadata.Metadata[*metadata.Targets]{}}
	signed, err := fn(tx)
	if err != nil {
		if tx.j != nil {
			tx.j.abort()
		}
		return err
	}
	tx.signed = signed
	if signed.renew {
		tx.forceSnap, tx.forceTime = true, true
	}
	return tx.commit()
}

// journal returns the transaction's journal, beginning it if needed, for
// a change that writes files as it goes instead of holding them until the
// commit.
func (tx *Tx) journal() (*journal, error) {
	if tx.j == nil {
		j, err := beginJournal(tx.r.dir, tx.r.commitHook)
		if err != nil {
			return nil, err
		}
		tx.j = j
	}
	return tx.j, nil
}

// Config returns the configuration for editing.
func (tx *Tx) Config() *Config {
	tx.cfgChanged = true
	return tx.cfg
}

// Root returns the root document for editing.
func (tx *Tx) Root() (*metadata.Root, error) {
	if tx.root == nil {
		b, err := tx.r.rawRole(metadata.TypeRoot)
		if err != nil {
			return nil, err
		}
		if tx.root, err = metadata.ParseRoot(b); err != nil {
			return nil, err
		}
	}
	return tx.root.Signed, nil
}

func (tx *Tx) currentRoot() *metadata.Root {
	if tx.root != nil {
		return tx.root.Signed
	}
	return tx.r.root.Signed
}

// Targets returns the document of a targets role (targets, a delegated
// role or a bin) for editing.
func (tx *Tx) Targets(role string) (*metadata.Targets, error) {
	if err := tx.settle(role); err != nil {
		return nil, err
	}
	if md, ok := tx.edited[role]; ok {
		return md.Signed, nil
	}
	if src, ok := tx.cfg.Imported[role]; ok {
		return nil, fmt.Errorf("role %s is imported from %s: %w; it cannot be changed or signed here", role, src, ErrImportedRole)
	}
	md, ok := tx.read[role]
	if !ok {
		var err error
		if md, err = tx.r.readTargets(role); err != nil {
			if errors.Is(err, errNoRole) && tx.cfg.isBin(role) {
				return tx.Create(role), nil // bins are made when first needed
			}
			return nil, err
		}
	}
	delete(tx.read, role)
	tx.edited[role] = md
	return md.Signed, nil
}

// Peek returns the document of a targets role as the transaction sees it,
// for reading only.
func (tx *Tx) Peek(role string) (*metadata.Targets, error) {
	if err := tx.settle(role); err != nil {
		return nil, err
	}
	if md, ok := tx.edited[role]; ok {
		return md.Signed, nil
	}
	if md, ok := tx.read[role]; ok {
		return md.Signed, nil
	}
	md, err := tx.r.readTargets(role)
	if err != nil {
		if errors.Is(err, errNoRole) && tx.cfg.isBin(role) {
			return metadata.NewTargets(tx.r.opts.Now()), nil // a bin not made yet: empty
		}
		return nil, err
	}
	if !tx.cfg.isBin(role) {
		tx.read[role] = md
	}
	return md.Signed, nil
}

// Create adds a new, empty targets role, version 1.
func (tx *Tx) Create(role string) *metadata.Targets {
	md := metadata.New(metadata.NewTargets(tx.r.opts.Now()))
	tx.edited[role] = md
	tx.created[role] = true
	return md.Signed
}

// Resign marks role to be committed, with a new version and signatures,
// even if its content does not change (after its keys changed, or to
// refresh its expiry).
func (tx *Tx) Resign(role string) error {
	switch role {
	case metadata.TypeRoot:
		_, err := tx.Root()
		tx.resignRoot = true
		return err
	case metadata.TypeSnapshot:
		tx.forceSnap = true
	case metadata.TypeTimestamp:
		tx.forceTime = true
	default:
		_, err := tx.Targets(role)
		return err
	}
	return nil
}

// exists reports whether role exists in the transaction's view.
func (tx *Tx) exists(role string) bool {
	if _, ok := tx.edited[role]; ok {
		return true
	}
	if metadata.IsTopLevel(role) || tx.cfg.isBin(role) {
		return true
	}
	_, err := os.Stat(tx.r.stagedPath(role))
	return err == nil
}

// parentOf returns the role that delegates to role.
func (c *Config) parentOf(role string) (string, bool) {
	if c.isBin(role) {
		return metadata.TypeTargets, true
	}
	p, ok := c.Delegations[role]
	return p, ok
}

// roleKeys returns the keys trusted for role and its threshold, as the
// transaction would commit them.
func (tx *Tx) roleKeys(role string) (ids []string, keyMap map[string]*metadata.Key, threshold int, err error) {
	if metadata.IsTopLevel(role) {
		root := tx.currentRoot()
		rk := root.Roles[role]
		if rk == nil {
			return nil, nil, 0, fmt.Errorf("root has no role %q", role)
		}
		return rk.KeyIDs, root.Keys, rk.Threshold, nil
	}
	parent, ok := tx.cfg.parentOf(role)
	if !ok {
		return nil, nil, 0, fmt.Errorf("role %q is not delegated by any role of this repository", role)
	}
	pt, err := tx.Peek(parent)
	if err != nil {
		return nil, nil, 0, err
	}
	if pt.Delegations == nil {
		return nil, nil, 0, fmt.Errorf("role %q delegates nothing, yet repo.json says it delegates %q", parent, role)
	}
	d, ok := pt.Delegations.Role(role)
	if !ok {
		return nil, nil, 0, fmt.Errorf("role %q does not delegate %q", parent, role)
	}
	return d.KeyIDs, pt.Delegations.Keys, d.Threshold, nil
}

// signerCache memoises the signers of a key set during a commit: 4096 bins
// share one.
type signerCache map[string][]keys.Signer

func (tx *Tx) signersFor(cache signerCache, ids []string) ([]keys.Signer, error) {
	k := strings.Join(ids, ",")
	if s, ok := cache[k]; ok {
		return s, nil
	}
	s, err := tx.r.signersWith(tx.ctx, tx.cfg, ids)
	if err != nil {
		return nil, err
	}
	cache[k] = s
	return s, nil
}

// loadSigners loads the keys at hand of roles now, as the commit would
// load them later.
func (tx *Tx) loadSigners(roles ...string) error {
	for _, role := range roles {
		ids, _, _, err := tx.roleKeys(role)
		if err != nil {
			return err
		}
		if _, err := tx.r.signersWith(tx.ctx, tx.cfg, ids); err != nil {
			return err
		}
	}
	return nil
}

func (tx *Tx) stamp(c *metadata.Common, role string, version int64) {
	c.Version = version
	c.Expires = tx.r.opts.Now().Add(tx.cfg.ExpiryFor(role)).UTC().Truncate(time.Second)
}

// commit finishes the transaction: root, then the targets roles, then
// snapshot and timestamp, all written into one journal and committed at
// once.
func (tx *Tx) commit() error {
	c := &committer{tx: tx, cache: signerCache{}, keep: map[string][]byte{}}
	if err := c.signRoot(); err != nil {
		return err
	}
	if err := c.prepareTargets(); err != nil {
		return err
	}
	j, err := tx.journal()
	if err != nil {
		return err
	}
	j.before = tx.before
	c.j = j
	committed := false
	defer func() {
		if !committed {
			j.abort()
		}
	}()
	if err := c.writeAll(); err != nil {
		return err
	}
	committed = true
	if err := j.commit(); err != nil {
		return err
	}
	return c.refresh()
}

// committer carries a commit through its steps.
type committer struct {
	tx    *Tx
	j     *journal
	cache signerCache
	keep  map[string][]byte // new staged bytes of the roles kept in memory

	rootBytes []byte // the new root, or nil
	// The targets roles to commit, by name: their documents (nil for a
	// bin read only when it is written), signers, new versions, and what
	// the Repo remembers of them.
	names    []string
	mds      []*metadata.Metadata[*metadata.Targets]
	adds     [][]binTarget
	placed   *placed // what adds refer to
	signers  [][]keys.Signer
	versions []int64
	fresh    []freshRole
	// unchecked says which roles signers[i] signs without checking the
	// signatures (see binSigners); uncheckedCache memoises them by key set.
	unchecked      []bool
	uncheckedCache map[string]binSignerSet
}

// binSignerSet is what binSigners returns for a key set.
type binSignerSet struct {
	signers   []keys.Signer
	unchecked bool
}

// uncheckedSigner is a signer that can also sign without checking each
// signature against its public key as it makes it (agent.Key, whose
// check is a second Ed25519 verification of every role after the agent's
// signing).
type uncheckedSigner interface {
	Unchecked() keys.Signer
}

// binSigners returns the signers of the hashed bins (keys ids) in the
// form that does not check the signatures they make, where they have one,
// and whether any has: the signatures of thousands of bins are then
// checked once, by publishing, which checks every signature of a role
// that fresh does not say was checked, instead of twice.
func (c *committer) binSigners(ids []string, signers []keys.Signer) ([]keys.Signer, bool) {
	k := strings.Join(ids, ",")
	set, ok := c.uncheckedCache[k]
	if !ok {
		set.signers = slices.Clone(signers)
		for i, s := range set.signers {
			if u, ok := s.(uncheckedSigner); ok {
				set.signers[i], set.unchecked = u.Unchecked(), true
			}
		}
		if c.uncheckedCache == nil {
			c.uncheckedCache = map[string]binSignerSet{}
		}
		c.uncheckedCache[k] = set
	}
	return set.signers, set.unchecked
}

// signRoot signs an edited root with every key of the old and new root
// role; a root that did not change is dropped.
func (c *committer) signRoot() error {
	tx, r := c.tx, c.tx.r
	if tx.root == nil {
		return nil
	}
	old := r.root.Signed
	if !tx.resignRoot && sameRoot(r.root, tx.root) {
		tx.root = nil
		return nil
	}
	// Top-level roles whose keys changed are signed again by their new
	// keys.
	for _, name := range []string{metadata.TypeTargets, metadata.TypeSnapshot, metadata.TypeTimestamp} {
		if !slices.Equal(old.Roles[name].KeyIDs, tx.root.Signed.Roles[name].KeyIDs) ||
			old.Roles[name].Threshold != tx.root.Signed.Roles[name].Threshold {
			if err := tx.Resign(name); err != nil {
				return err
			}
		}
	}
	tx.stamp(&tx.root.Signed.Common, metadata.TypeRoot, old.Version+1)
	ids := slices.Clone(old.Roles[metadata.TypeRoot].KeyIDs)
	for _, id := range tx.root.Signed.Roles[metadata.TypeRoot].KeyIDs {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	signers, err := r.signersWith(tx.ctx, tx.cfg, ids)
	if err != nil {
		return err
	}
	newRK, oldRK := tx.root.Signed.Roles[metadata.TypeRoot], old.Roles[metadata.TypeRoot]
	tx.noteUnsigned(metadata.TypeRoot, countIn(signers, newRK.KeyIDs), newRK.Threshold, newRK.KeyIDs)
	if n := countIn(signers, oldRK.KeyIDs); n < oldRK.Threshold {
		tx.pending = append(tx.pending, Note{Role: metadata.TypeRoot, Text: fmt.Sprintf("root version %d has %d of the %d signatures it needs from the keys of root version %d",
			old.Version+1, n, oldRK.Threshold, old.Version)})
	}
	c.rootBytes, err = tx.root.SignEncode(tx.ctx, signers)
	return err
}

// prepareTargets finds the signers of every targets role to commit (loading
// a key may ask for a passphrase, so this comes before the parallel work)
// and the versions of those already in memory.
func (c *committer) prepareTargets() error {
	tx := c.tx
	c.names = make([]string, 0, len(tx.edited)+len(tx.placed.bins))
	for name := range tx.edited {
		c.names = append(c.names, name)
	}
	for name := range tx.placed.bins {
		if _, ok := tx.edited[name]; !ok {
			c.names = append(c.names, name)
		}
	}
	slices.Sort(c.names)
	n := len(c.names)
	c.mds, c.adds = make([]*metadata.Metadata[*metadata.Targets], n), make([][]binTarget, n)
	c.signers, c.versions, c.fresh = make([][]keys.Signer, n), make([]int64, n), make([]freshRole, n)
	c.unchecked = make([]bool, n)
	for i, name := range c.names {
		ids, _, threshold, err := tx.roleKeys(name)
		if err != nil {
			return err
		}
		if c.signers[i], err = tx.signersFor(c.cache, ids); err != nil {
			return err
		}
		tx.noteUnsigned(name, len(c.signers[i]), threshold, ids)
		if tx.cfg.isBin(name) {
			c.signers[i], c.unchecked[i] = c.binSigners(ids, c.signers[i])
		}
		c.mds[i], c.adds[i] = tx.edited[name], tx.placed.bins[name]
	}
	c.placed = &tx.placed
	tx.edited, tx.read, tx.placed.bins = nil, nil, nil
	return nil
}

// writeAll writes every new file into the journal.
func (c *committer) writeAll() error {
	tx, j := c.tx, c.j
	if c.rootBytes != nil {
		if err := j.write(stagedRel(metadata.TypeRoot), c.rootBytes); err != nil {
			return err
		}
		if err := j.write(fmt.Sprintf("%s/%d.root.json", rootsDir, tx.root.Signed.Version), c.rootBytes); err != nil {
			return err
		}
		c.keep[metadata.TypeRoot] = c.rootBytes
	}
	if err := c.writeTargets(); err != nil {
		return err
	}
	snapBytes, err := c.writeSnapshot()
	if err != nil {
		return err
	}
	if err := c.writeTimestamp(snapBytes); err != nil {
		return err
	}
	for _, ch := range tx.signed.files {
		if err := j.write(ch.path, ch.data); err != nil {
			return err
		}
	}
	if tx.cfgChanged {
		return j.write(configFile, tx.cfg.encode())
	}
	return nil
}

// writeTargets completes, stamps, signs and writes the targets roles in
// parallel, dropping each from memory once written: of a change to every
// bin, only the bins being worked on are held as documents. They are
// many more than the processors: a signer that signs messages in batches
// (rampart agent) gets batches of that many, so that thousands of bins
// take tens of round trips to it, not hundreds, each of which may wait
// for the agent's process to be scheduled.
func (c *committer) writeTargets() error {
	tx := c.tx
	var keepMu sync.Mutex
	bar := newCountBar(tx.r.opts.Progress, len(c.names), "signing roles")
	defer bar.Finish()
	return parallelN(signingWorkers, len(c.names), func(i int) error {
		name := c.names[i]
		// A bin the transaction did not look at is read here, and its
		// document is held nowhere else.
		private := c.mds[i] == nil
		md, created, err := tx.committed(name, c.mds[i])
		if err != nil {
			return err
		}
		c.placed.insert(md.Signed, c.adds[i])
		c.mds[i], c.adds[i] = nil, nil
		v := int64(1)
		if !created {
			v = md.Signed.Version + 1
		}
		tx.stamp(&md.Signed.Common, name, v)
		// The bytes of a bin read here go once written, with its
		// document: they are encoded into a buffer used again.
		var buf *[]byte
		if private {
			buf = encodeBuffers.Get().(*[]byte)
		}
		b, err := md.SignEncodeInto(tx.ctx, c.signers[i], poolBytes(buf))
		if err != nil {
			// A signer given up on may still be sending the bytes:
			// the buffer is not reused.
			return fmt.Errorf("role %s: %w", name, err)
		}
		signedBy := make([]string, len(md.Signatures))
		for k, s := range md.Signatures {
			signedBy[k] = s.KeyID
		}
		c.versions[i] = v
		c.fresh[i] = freshRole{version: v, expires: md.Signed.Expires, signedBy: signedBy, unchecked: c.unchecked[i]}
		if err := c.j.write(stagedRel(name), b); err != nil {
			return err
		}
		if private {
			c.placed.recycle(md.Signed.Targets)
			md.Signed.Targets = nil
			if cap(b) > cap(*buf) { // not in *buf: larger
				*buf = b[:0]
			}
			encodeBuffers.Put(buf)
		}
		if !tx.cfg.isBin(name) {
			keepMu.Lock()
			c.keep[name] = b
			keepMu.Unlock()
		}
		bar.Add(1)
		return nil
	})
}

// signingWorkers is how many targets roles writeTargets works on at once.
const signingWorkers = 64

// encodeBuffers hold the memory that writeTargets encodes bins into: the
// files of thousands of bins, written and dropped in turn, would
// otherwise be as much new memory.
var encodeBuffers = sync.Pool{New: func() any { return new([]byte) }}

// poolBytes returns the buffer *p, or nil for no p.
func poolBytes(p *[]byte) []byte {
	if p == nil {
		return nil
	}
	return *p
}

// committed returns the document of targets role name to commit: md when
// the transaction holds it, otherwise (a bin that targets were placed in)
// the staged one, or a new one; created says it is new.
func (tx *Tx) committed(name string, md *metadata.Metadata[*metadata.Targets]) (_ *metadata.Metadata[*metadata.Targets], created bool, err error) {
	if md != nil {
		return md, tx.created[name], nil
	}
	md, err = tx.r.readTargets(name)
	if errors.Is(err, errNoRole) && tx.cfg.isBin(name) {
		return metadata.New(metadata.NewTargets(tx.r.opts.Now())), true, nil
	}
	return md, false, err
}

// writeSnapshot writes the next snapshot, listing the version of every
// targets role, when one changed or it is to be signed again.
func (c *committer) writeSnapshot() ([]byte, error) {
	tx, r := c.tx, c.tx.r
	if len(c.names) == 0 && !tx.forceSnap {
		return nil, nil
	}
	snap, err := r.readSnapshot()
	if err != nil {
		return nil, err
	}
	for role, v := range tx.signed.versions {
		snap.Signed.Meta[role+".json"] = metadata.MetaFile{Version: v}
	}
	for i, name := range c.names {
		snap.Signed.Meta[name+".json"] = metadata.MetaFile{Version: c.versions[i]}
	}
	tx.stamp(&snap.Signed.Common, metadata.TypeSnapshot, snap.Signed.Version+1)
	ids, _, threshold, _ := tx.roleKeys(metadata.TypeSnapshot)
	s, err := tx.signersFor(c.cache, ids)
	if err != nil {
		return nil, err
	}
	tx.noteUnsigned(metadata.TypeSnapshot, len(s), threshold, ids)
	b, err := snap.SignEncode(tx.ctx, s)
	if err != nil {
		return nil, err
	}
	if err := c.j.write(stagedRel(metadata.TypeSnapshot), b); err != nil {
		return nil, err
	}
	c.keep[metadata.TypeSnapshot] = b
	return b, nil
}

// writeTimestamp writes the next timestamp when snapshot changed (snapBytes
// is not nil) or it is to be signed again.
func (c *committer) writeTimestamp(snapBytes []byte) error {
	tx := c.tx
	if snapBytes == nil && !tx.forceTime {
		return nil
	}
	if snapBytes == nil {
		var err error
		if snapBytes, err = tx.r.rawRole(metadata.TypeSnapshot); err != nil {
			return err
		}
	}
	b, err := tx.timestampFor(c.cache, snapBytes)
	if err != nil {
		return err
	}
	if err := c.j.write(stagedRel(metadata.TypeTimestamp), b); err != nil {
		return err
	}
	c.keep[metadata.TypeTimestamp] = b
	return nil
}

// refresh brings what the repository holds in memory up to date once the
// commit is done.
func (c *committer) refresh() error {
	tx, r := c.tx, c.tx.r
	r.cfg = tx.cfg
	r.notes = tx.pending
	r.mu.Lock()
	for i, name := range c.names {
		delete(r.raw, name)
		r.fresh[name] = c.fresh[i]
	}
	for _, ch := range tx.signed.files {
		tx.signed.streamed = append(tx.signed.streamed, ch.path)
	}
	for _, p := range tx.signed.streamed {
		if role, ok := cutStaged(p); ok {
			delete(r.raw, role)
			delete(r.fresh, role)
		}
	}
	for name, b := range c.keep {
		r.raw[name] = b
	}
	r.mu.Unlock()
	if c.rootBytes != nil {
		root, err := metadata.ParseRoot(c.rootBytes)
		if err != nil {
			return err
		}
		r.root = root
	}
	return nil
}

// timestampFor makes the next timestamp for snapshot bytes snap.
func (tx *Tx) timestampFor(cache signerCache, snap []byte) ([]byte, error) {
	ts, err := tx.r.readTimestamp()
	if err != nil {
		return nil, err
	}
	sp, err := metadata.ParseSnapshot(snap)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(snap)
	ts.Signed.Meta = map[string]metadata.MetaFile{"snapshot.json": {
		Version: sp.Signed.Version, Length: int64(len(snap)), Hashes: metadata.Hashes{SHA256: sum[:]}}}
	tx.stamp(&ts.Signed.Common, metadata.TypeTimestamp, ts.Signed.Version+1)
	ids, _, threshold, _ := tx.roleKeys(metadata.TypeTimestamp)
	s, err := tx.signersFor(cache, ids)
	if err != nil {
		return nil, err
	}
	tx.noteUnsigned(metadata.TypeTimestamp, len(s), threshold, ids)
	return ts.SignEncode(tx.ctx, s)
}

// sameRoot reports whether the edited root has the same content as the
// staged one.
func sameRoot(a, b *metadata.Metadata[*metadata.Root]) bool {
	ab, err1 := metadata.New(a.Signed).Encode()
	bb, err2 := metadata.New(b.Signed).Encode()
	return err1 == nil && err2 == nil && string(ab) == string(bb)
}

// errNoRole reports a role that is not staged.
var errNoRole = errors.New("role not staged")
