package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rampart-tuf/rampart/api"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// InitOptions configures a new repository. Role names are "root",
// "targets", "snapshot", "timestamp" and, with bins, "bins".
type InitOptions struct {
	// Bins, when above zero, makes the targets role delegate to 2^Bins
	// TAP 15 hashed bins (1 to 16 bits).
	Bins int
	// BinPrefix is the name prefix of the bins; empty means "bins".
	BinPrefix string
	// Thresholds per role; 1 by default.
	Thresholds map[string]int
	// Expires sets the expiry policy per role; see Config.Expires.
	Expires map[string]time.Duration
	// Keys gives key files per role: private key files (.key), which the
	// repository signs with whenever they are there, or public key files
	// (.pub) of keys held elsewhere. A role without keys gets as many new
	// keys as its threshold, written to DIR/keys.
	Keys map[string][]string
	// Server, when set, makes a repository that publishes to a metadata
	// server (rampart serve) under the name GUN: root trusts the server's
	// online timestamp key and, unless Keys gives snapshot keys, its
	// snapshot key, both fetched from the server (which makes them on
	// first request).
	Server MetadataServer
	GUN    string
	// Content says where the target content is served from; empty means
	// ContentStored.
	Content ContentMode
}

// Roles that Init knows.
var initRoles = []string{metadata.TypeRoot, metadata.TypeTargets, metadata.TypeSnapshot, metadata.TypeTimestamp, binsPolicy}

// Init creates a repository in dir, which must not exist or be empty, and
// returns it open. Roots, targets, snapshot and timestamp are staged at
// version 1, signed by every key at hand.
func Init(ctx context.Context, dir string, o InitOptions, opts Options) (*Repo, error) {
	if _, err := os.Stat(filepath.Join(dir, configFile)); err == nil {
		return nil, fmt.Errorf("%s is already a repository (it has %s)", dir, configFile)
	}
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if e.Name() != ".lock" {
				return nil, fmt.Errorf("%s is not empty: init needs a new or empty directory", dir)
			}
		}
	}
	for role := range o.Thresholds {
		if !slices.Contains(initRoles, role) {
			return nil, fmt.Errorf("unknown role %q in thresholds (want one of root, targets, snapshot, timestamp, bins)", role)
		}
	}
	for role := range o.Expires {
		if !IsInitRole(role) {
			return nil, fmt.Errorf("unknown role %q in expires (want one of root, targets, snapshot, timestamp, bins)", role)
		}
	}
	for role := range o.Keys {
		if !slices.Contains(initRoles, role) {
			return nil, fmt.Errorf("unknown role %q in keys (want one of root, targets, snapshot, timestamp, bins)", role)
		}
	}
	if o.Bins < 0 || o.Bins > 16 {
		return nil, fmt.Errorf("--bins %d: want 1 to 16 bits (2 to 65536 bins)", o.Bins)
	}
	if (o.Keys[binsPolicy] != nil || o.Thresholds[binsPolicy] != 0) && o.Bins == 0 {
		return nil, fmt.Errorf("keys or threshold given for bins, but no bins: set the number of bits with --bins")
	}
	if err := checkNewOnServer(ctx, o); err != nil {
		return nil, err
	}
	// The server's keys come first, so that a server that cannot be
	// reached leaves nothing behind.
	online, err := serverKeys(ctx, o)
	if err != nil {
		return nil, err
	}
	_, statErr := os.Stat(dir)
	existed := statErr == nil
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	r, err := initRepo(ctx, dir, o, online, opts, unlock)
	if err != nil {
		unlock()
		removeInit(dir, existed)
		return nil, err
	}
	return r, nil
}

// removeInit removes what a failed or cancelled Init wrote in dir, which
// was empty before (or did not exist, unless existed), so that nothing
// half made is left behind.
func removeInit(dir string, existed bool) {
	if !existed {
		os.RemoveAll(dir)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// IsInitRole reports whether InitOptions take role in Thresholds, Expires
// and Keys: a top-level role, or "bins" for all hashed bins.
func IsInitRole(role string) bool { return slices.Contains(initRoles, role) }

// ErrExistsOnServer is returned by Init for a GUN that the server already
// has: new keys could never publish to it.
var ErrExistsOnServer = errors.New("the repository already exists on the server")

// checkNewOnServer refuses a GUN that already has published metadata on
// the server in o.
func checkNewOnServer(ctx context.Context, o InitOptions) error {
	if o.Server == nil || o.GUN == "" {
		return nil
	}
	root, err := readServerRoot(ctx, o.Server, o.GUN)
	if errors.Is(err, api.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%s (root version %d at %s): %w", o.GUN, root.Signed.Version, o.Server.RepositoryURL(o.GUN), ErrExistsOnServer)
}

// serverKeys fetches the online keys of the server in o, by role: the
// timestamp key, and the snapshot key unless o gives snapshot keys.
func serverKeys(ctx context.Context, o InitOptions) (map[string]keys.PublicKey, error) {
	if o.Server == nil {
		if o.GUN != "" {
			return nil, fmt.Errorf("a GUN is given but no server: give the server's URL too")
		}
		return nil, nil
	}
	if o.GUN == "" {
		return nil, fmt.Errorf("a repository on a server needs a name there: give its GUN (such as example.com/acme/app)")
	}
	if len(o.Keys[metadata.TypeTimestamp]) > 0 {
		return nil, fmt.Errorf("the server signs timestamp metadata with its own key: do not give timestamp keys for a repository on a server")
	}
	roles := []string{metadata.TypeTimestamp}
	if len(o.Keys[metadata.TypeSnapshot]) == 0 {
		roles = append(roles, metadata.TypeSnapshot)
	}
	// The repository is created on the server (or exists already); that
	// makes the online keys its root lists.
	if _, err := o.Server.CreateRepository(ctx, o.GUN); err != nil {
		return nil, fmt.Errorf("creating %s on the server: %w", o.GUN, err)
	}
	out := map[string]keys.PublicKey{}
	for _, role := range roles {
		if th := o.Thresholds[role]; th > 1 {
			return nil, fmt.Errorf("threshold of %s is %d, but the server signs %s with one key: give %s keys of your own (--key %s=KEYFILE) for a higher threshold", role, th, role, role, role)
		}
		k, err := o.Server.OnlineKey(ctx, o.GUN, role)
		if err != nil {
			return nil, fmt.Errorf("fetching the server's %s key for %s: %w", role, o.GUN, err)
		}
		out[role] = k.PublicKey
	}
	return out, nil
}

func initRepo(ctx context.Context, dir string, o InitOptions, online map[string]keys.PublicKey, opts Options, unlock func()) (*Repo, error) {
	cfg, err := initConfig(o)
	if err != nil {
		return nil, err
	}
	r := newRepo(dir, opts, cfg, unlock)
	roleKeys, err := r.initRoleKeys(ctx, o, online)
	if err != nil {
		return nil, err
	}
	docs, changes, err := r.initMetadata(ctx, o, roleKeys)
	if err != nil {
		return nil, err
	}
	changes = append(changes, change{path: configFile, data: cfg.encode()})
	if err := os.MkdirAll(filepath.Join(dir, targetsDir), 0o755); err != nil {
		return nil, err
	}
	if err := commitFiles(dir, changes); err != nil {
		return nil, err
	}
	for _, c := range changes {
		if role, ok := cutStaged(c.path); ok && (metadata.IsTopLevel(role)) {
			r.raw[role] = c.data
		}
	}
	r.root = docs.root
	root := docs.root.Signed
	for _, d := range []struct {
		role string
		doc  metadata.Signed
	}{{metadata.TypeRoot, docs.root}, {metadata.TypeTargets, docs.targets}, {metadata.TypeSnapshot, docs.snapshot}, {metadata.TypeTimestamp, docs.timestamp}} {
		rep, _ := root.ReportRole(d.role, d.doc)
		if !rep.Met() && !cfg.serverHeld(rep.Missing) {
			r.notes = append(r.notes, Note{Role: d.role, Text: fmt.Sprintf("%s is staged with %d of %d signatures (keys not at hand: %s)",
				d.role, len(rep.Valid), rep.Threshold, r.hints(cfg, rep.Missing))})
		}
	}
	return r, nil
}

// initConfig makes the configuration of a new repository.
func initConfig(o InitOptions) (*Config, error) {
	cfg := &Config{Format: 1, Expires: map[string]Duration{}, Delegations: map[string]string{}, Keys: map[string]KeyRef{}}
	if o.Server != nil {
		cfg.Server = &ServerConfig{URL: o.Server.URL(), GUN: o.GUN}
	}
	cfg.Content = ContentStored
	if o.Content != "" {
		m, err := ParseContentMode(string(o.Content))
		if err != nil {
			return nil, err
		}
		cfg.Content = m
	}
	for role, d := range o.Expires {
		if d <= 0 {
			return nil, fmt.Errorf("expiry of %s must be positive", role)
		}
		cfg.Expires[role] = Duration(d) // delegated roles to come may have one too
	}
	if o.Bins > 0 {
		prefix := o.BinPrefix
		if prefix == "" {
			prefix = binsPolicy
		}
		if err := checkRoleName(prefix); err != nil {
			return nil, fmt.Errorf("bin prefix: %w", err)
		}
		cfg.Bins = &BinsConfig{Bits: o.Bins, Prefix: prefix}
	}
	return cfg, nil
}

// initRoleKeys returns the keys of every role of a new repository: the
// server's online keys, the key files given, or new keys made in
// DIR/keys. It records them in r's configuration.
func (r *Repo) initRoleKeys(ctx context.Context, o InitOptions, online map[string]keys.PublicKey) (map[string][]keys.PublicKey, error) {
	cfg := r.cfg
	roleKeys := map[string][]keys.PublicKey{}
	for _, role := range initRoles {
		if role == binsPolicy && o.Bins == 0 {
			continue
		}
		th := o.Thresholds[role]
		if th == 0 {
			th = 1
		}
		if th < 0 {
			return nil, fmt.Errorf("threshold of %s is %d: want at least 1", role, th)
		}
		if pk, ok := online[role]; ok {
			cfg.Keys[KeyID(pk)] = KeyRef{Server: true}
			roleKeys[role] = []keys.PublicKey{pk}
			continue
		}
		files := o.Keys[role]
		if len(files) == 0 {
			for i := 1; i <= th; i++ {
				name := role
				if th > 1 {
					name = fmt.Sprintf("%s-%d", role, i)
				}
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				pk, err := r.opts.Keys.Create(ctx, filepath.Join(r.dir, keysDir), name)
				if err != nil {
					return nil, fmt.Errorf("creating a key for %s: %w", role, err)
				}
				cfg.Keys[KeyID(pk)] = KeyRef{Public: keysDir + "/" + name + ".pub", Private: keysDir + "/" + name + ".key"}
				roleKeys[role] = append(roleKeys[role], pk)
			}
			continue
		}
		for _, f := range files {
			pk, ref, err := r.importKey(f)
			if err != nil {
				return nil, fmt.Errorf("key for %s: %w", role, err)
			}
			if slices.Contains(roleKeys[role], pk) {
				return nil, fmt.Errorf("key %s is given twice for %s", f, role)
			}
			cfg.Keys[KeyID(pk)] = ref
			roleKeys[role] = append(roleKeys[role], pk)
		}
		if len(roleKeys[role]) < th {
			return nil, fmt.Errorf("role %s has threshold %d but only %d keys: give more with --key %s=KEYFILE", role, th, len(roleKeys[role]), role)
		}
	}
	return roleKeys, nil
}

// initDocs are the first versions of the top-level roles.
type initDocs struct {
	root      *metadata.Metadata[*metadata.Root]
	targets   *metadata.Metadata[*metadata.Targets]
	snapshot  *metadata.Metadata[*metadata.Snapshot]
	timestamp *metadata.Metadata[*metadata.Timestamp]
}

// initMetadata makes and signs, with the keys at hand, version 1 of every
// top-level role, and returns them with the staged files to write.
func (r *Repo) initMetadata(ctx context.Context, o InitOptions, roleKeys map[string][]keys.PublicKey) (initDocs, []change, error) {
	cfg := r.cfg
	now := r.opts.Now()
	expires := func(role string) time.Time { return now.Add(cfg.ExpiryFor(role)) }
	threshold := func(role string) int { return max(o.Thresholds[role], 1) }
	sign := func(md interface {
		Sign(context.Context, keys.Signer) (metadata.Signature, error)
		Encode() ([]byte, error)
	}, role string, root *metadata.Root) ([]byte, error) {
		signers, err := r.signersFor(ctx, root.Roles[role].KeyIDs)
		if err != nil {
			return nil, err
		}
		for _, s := range signers {
			if _, err := md.Sign(ctx, s); err != nil {
				return nil, err
			}
		}
		return md.Encode()
	}
	var docs initDocs

	root := metadata.NewRoot(expires(metadata.TypeRoot))
	for _, role := range metadata.TopLevelRoles {
		for _, pk := range roleKeys[role] {
			if err := root.AddKey(role, metadata.NewKey(pk)); err != nil {
				return docs, nil, err
			}
		}
		root.Roles[role].Threshold = threshold(role)
	}
	docs.root = metadata.New(root)
	rootBytes, err := sign(docs.root, metadata.TypeRoot, root)
	if err != nil {
		return docs, nil, err
	}

	targets := metadata.NewTargets(expires(metadata.TypeTargets))
	snapshot := metadata.NewSnapshot(expires(metadata.TypeSnapshot))
	if cfg.Bins != nil {
		sr := &metadata.SuccinctRoles{BitLength: cfg.Bins.Bits, NamePrefix: cfg.Bins.Prefix, Threshold: threshold(binsPolicy)}
		d := &metadata.Delegations{Keys: map[string]*metadata.Key{}, Succinct: sr}
		for _, pk := range roleKeys[binsPolicy] {
			k := metadata.NewKey(pk)
			d.Keys[k.ID()] = k
			sr.KeyIDs = append(sr.KeyIDs, k.ID())
		}
		targets.Delegations = d
		// The bins themselves are made when first needed (a commit that
		// adds to them, or publish), so that a new repository does not
		// write thousands of empty files only to replace them.
	}
	docs.targets = metadata.New(targets)
	tb, err := sign(docs.targets, metadata.TypeTargets, root)
	if err != nil {
		return docs, nil, err
	}
	docs.snapshot = metadata.New(snapshot)
	sb, err := sign(docs.snapshot, metadata.TypeSnapshot, root)
	if err != nil {
		return docs, nil, err
	}
	ts := metadata.NewTimestamp(expires(metadata.TypeTimestamp))
	ts.Meta["snapshot.json"] = metadata.MetaFile{Version: 1, Length: int64(len(sb)), Hashes: metadata.HashesOf(sb, false)}
	docs.timestamp = metadata.New(ts)
	tsb, err := sign(docs.timestamp, metadata.TypeTimestamp, root)
	if err != nil {
		return docs, nil, err
	}
	return docs, []change{
		{path: stagedRel(metadata.TypeRoot), data: rootBytes},
		{path: rootsDir + "/1.root.json", data: rootBytes},
		{path: stagedRel(metadata.TypeTargets), data: tb},
		{path: stagedRel(metadata.TypeSnapshot), data: sb},
		{path: stagedRel(metadata.TypeTimestamp), data: tsb},
	}, nil
}

func cutStaged(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, stagedDir+"/")
	if !ok {
		return "", false
	}
	return metadata.RoleFromFileName(rest)
}

// importKey reads the key file f and says how repo.json refers to it.
func (r *Repo) importKey(f string) (keys.PublicKey, KeyRef, error) {
	pk, err := r.opts.Keys.ReadPublic(f)
	if err != nil {
		return keys.PublicKey{}, KeyRef{}, fmt.Errorf("reading %s: %w", f, err)
	}
	ref := KeyRef{}
	abs, err := filepath.Abs(f)
	if err != nil {
		return keys.PublicKey{}, KeyRef{}, err
	}
	rel := abs
	if dirAbs, err := filepath.Abs(r.dir); err == nil {
		if p, err := filepath.Rel(dirAbs, abs); err == nil && filepath.IsLocal(p) {
			rel = filepath.ToSlash(p)
		}
	}
	if filepath.Ext(f) == ".key" {
		ref.Private = rel
		pub := rel[:len(rel)-len(".key")] + ".pub"
		if _, err := os.Stat(r.keyPath(pub)); err == nil {
			ref.Public = pub
		}
	} else {
		ref.Public = rel
	}
	return pk, ref, nil
}
