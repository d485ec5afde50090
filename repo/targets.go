package repo

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// Target is a target file to register.
type Target struct {
	Path string
	File metadata.TargetFile
}

// AddOptions say where targets go.
type AddOptions struct {
	// Role is the role that lists the targets. Empty means automatic: the
	// target's bin with hashed bins, otherwise the first role, following
	// delegations from targets in the order clients search them, that is
	// trusted for the path.
	Role string
	// Custom is custom metadata (a JSON object) for every target added.
	Custom []byte
}

// CheckTargetPath reports whether p is usable as a target path; it is
// metadata.CheckTargetPath, the rule the server applies too.
func CheckTargetPath(p string) error { return metadata.CheckTargetPath(p) }

// CanonicalCustom checks that custom is a JSON object and returns its
// canonical form.
func CanonicalCustom(custom []byte) ([]byte, error) {
	c, err := canonjson.Canonicalize(custom)
	if err != nil {
		return nil, fmt.Errorf("custom metadata is not valid JSON: %v", err)
	}
	if len(c) == 0 || c[0] != '{' {
		return nil, fmt.Errorf("custom metadata must be a JSON object, like {\"version\": \"1.2.0\"}")
	}
	return c, nil
}

// roleFor returns the role that should list targetPath.
func (tx *Tx) roleFor(targetPath, role string) (string, error) {
	if role == "" {
		if s := tx.cfg.succinct(); s != nil {
			return s.RoleFor(targetPath), nil
		}
		role = metadata.TypeTargets
		for range 64 {
			t, err := tx.Peek(role)
			if err != nil {
				return "", err
			}
			if t.Delegations == nil {
				return role, nil
			}
			next := t.Delegations.RolesFor(targetPath)
			if len(next) == 0 {
				return role, nil
			}
			role = next[0].Name
		}
		return "", fmt.Errorf("delegations nest more than 64 deep")
	}
	if s := tx.cfg.succinct(); s != nil && s.IsBin(role) && s.RoleFor(targetPath) != role {
		return "", fmt.Errorf("target %s belongs in bin %s, not %s: leave out the role to place it automatically", targetPath, s.RoleFor(targetPath), role)
	}
	if !tx.exists(role) {
		return "", fmt.Errorf("role %q: %w", role, ErrNoRole)
	}
	if metadata.IsTopLevel(role) && role != metadata.TypeTargets {
		return "", fmt.Errorf("role %s cannot list targets", role)
	}
	// Every delegation on the way from targets must cover the path, or
	// clients would never look for it there.
	for child := role; child != metadata.TypeTargets; {
		parent, ok := tx.cfg.parentOf(child)
		if !ok {
			return "", fmt.Errorf("role %q is not delegated by any role", child)
		}
		pt, err := tx.Peek(parent)
		if err != nil {
			return "", err
		}
		if pt.Delegations == nil {
			return "", fmt.Errorf("role %q does not delegate %q", parent, child)
		}
		d, ok := pt.Delegations.Role(child)
		if !ok {
			return "", fmt.Errorf("role %q does not delegate %q", parent, child)
		}
		if pt.Delegations.Succinct == nil && !d.MatchesPath(targetPath) {
			what := fmt.Sprintf("paths %q", d.Paths)
			if d.PathHashPrefixes != nil {
				what = fmt.Sprintf("hash prefixes %q", d.PathHashPrefixes)
			}
			return "", fmt.Errorf("role %s is not trusted for %s: %s delegates it only %s; choose another role or widen the delegation", role, targetPath, parent, what)
		}
		child = parent
	}
	return role, nil
}

// adder registers targets in a transaction. Targets are collected per
// role and inserted by flush, role by role in parallel, into maps sized
// for them: inserting a million targets one by one into growing maps
// costs more than everything else. Targets placed in hashed bins are not
// inserted at all before the commit (see placed): each bin is then
// completed, encoded and dropped in turn, so that a change to every bin
// holds each target once, compactly.
type adder struct {
	tx      *Tx
	o       AddOptions
	custom  []byte
	pending map[string][]Target
	counts  map[string]int // targets added per role, once flushed
	count   int
	// With hashed bins and automatic placement, targets are collected by
	// bin number.
	bins    *metadata.SuccinctRoles
	binPend [][]binTarget
	// checked is set when the caller has checked target paths.
	checked bool
}

func (tx *Tx) newAdder(o AddOptions) (*adder, error) {
	a := &adder{tx: tx, o: o, pending: map[string][]Target{}}
	if s := tx.cfg.succinct(); s != nil && o.Role == "" {
		a.bins, a.binPend = s, make([][]binTarget, s.NumBins())
	}
	if o.Custom != nil {
		var err error
		if a.custom, err = CanonicalCustom(o.Custom); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *adder) add(t Target) error {
	if !a.checked {
		if err := CheckTargetPath(t.Path); err != nil {
			return err
		}
	}
	if a.custom != nil {
		t.File.Custom = a.custom
	}
	a.count++
	if a.bins != nil {
		i := a.bins.BinFor(t.Path)
		a.binPend[i] = append(a.binPend[i], a.tx.placed.add(t))
		return nil
	}
	role, err := a.tx.roleFor(t.Path, a.o.Role)
	if err != nil {
		return err
	}
	a.pending[role] = append(a.pending[role], t)
	return nil
}

// perRole counts the targets added per role; flush must have run.
func (a *adder) perRole() map[string]int { return a.counts }

// flush inserts the collected targets into their roles, or hands those
// placed in bins to the transaction.
func (a *adder) flush() error {
	a.counts = map[string]int{}
	for i, ts := range a.binPend {
		if len(ts) > 0 {
			name := a.bins.BinName(i)
			a.counts[name] = len(ts)
			a.tx.placed.place(name, ts)
			a.binPend[i] = nil
		}
	}
	roles := make([]string, 0, len(a.pending))
	for role := range a.pending {
		roles = append(roles, role)
	}
	slices.Sort(roles)
	docs, err := a.tx.editAll(roles)
	if err != nil {
		return err
	}
	adds := make([][]Target, len(roles))
	for i, role := range roles {
		adds[i] = a.pending[role]
		a.counts[role] = len(adds[i])
	}
	a.pending, a.binPend = nil, nil // let the lists go once in the maps
	err = parallel(len(roles), func(i int) error {
		doc, add := docs[i], adds[i]
		if len(doc.Targets) < len(add) {
			m := make(map[string]metadata.TargetFile, len(doc.Targets)+len(add))
			for k, v := range doc.Targets {
				m[k] = v
			}
			doc.Targets = m
		}
		for _, t := range add {
			doc.Targets[t.Path] = t.File
		}
		adds[i] = nil
		return nil
	})
	return err
}

// editAll is Targets for many roles, reading and decoding them in parallel.
func (tx *Tx) editAll(roles []string) ([]*metadata.Targets, error) {
	docs := make([]*metadata.Targets, len(roles))
	read := make([]*metadata.Metadata[*metadata.Targets], len(roles))
	err := parallel(len(roles), func(i int) error {
		if _, ok := tx.edited[roles[i]]; ok {
			return nil
		}
		if _, ok := tx.read[roles[i]]; ok {
			return nil
		}
		md, err := tx.r.readTargets(roles[i])
		if errors.Is(err, errNoRole) && tx.cfg.isBin(roles[i]) {
			return nil // made by Targets below
		}
		read[i] = md
		return err
	})
	if err != nil {
		return nil, err
	}
	for i, role := range roles {
		if read[i] != nil {
			tx.edited[role] = read[i]
			docs[i] = read[i].Signed
			continue
		}
		if docs[i], err = tx.Targets(role); err != nil {
			return nil, err
		}
	}
	return docs, nil
}

// add registers targets in tx.
func (tx *Tx) add(targets []Target, o AddOptions) (map[string]int, error) {
	a, err := tx.newAdder(o)
	if err != nil {
		return nil, err
	}
	for _, t := range targets {
		if err := a.add(t); err != nil {
			return nil, err
		}
	}
	if err := a.flush(); err != nil {
		return nil, err
	}
	return a.perRole(), nil
}

// AddResult says what an Add changed.
type AddResult struct {
	Count   int            // targets added
	Targets []Target       // the targets added, except from a manifest
	Roles   map[string]int // targets added per role
}

// Add registers targets whose content lives elsewhere (hash-only): the
// repository signs for them, and publishing does not copy any content.
func (r *Repo) Add(ctx context.Context, targets []Target, o AddOptions) (*AddResult, error) {
	res := &AddResult{Targets: targets, Count: len(targets)}
	err := r.Update(ctx, func(tx *Tx) error {
		var err error
		res.Roles, err = tx.add(targets, o)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// AddFiles adds the file src as target path as (its base name when as is
// empty), or, when src is a directory, every regular file under it, with
// its path relative to src, under the prefix as. The content is copied into
// the repository's store and published with the metadata, unless the
// repository's content is hosted elsewhere (ContentExternal): then the
// files are only hashed, as Add registers them.
func (r *Repo) AddFiles(ctx context.Context, src, as string, o AddOptions) (*AddResult, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	type item struct {
		file, target string
		size         int64
	}
	var items []item
	var total int64
	if !fi.IsDir() {
		if as == "" {
			as = filepath.Base(src)
		}
		items = append(items, item{src, as, fi.Size()})
		total = fi.Size()
	} else {
		as = strings.Trim(as, "/")
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			rel, err := filepath.Rel(src, p)
			if err != nil {
				return err
			}
			tp := filepath.ToSlash(rel)
			if as != "" {
				tp = as + "/" + tp
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			items = append(items, item{p, tp, info.Size()})
			total += info.Size()
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return nil, fmt.Errorf("%s has no files to add", src)
		}
	}
	for _, it := range items {
		if err := CheckTargetPath(it.target); err != nil {
			return nil, fmt.Errorf("%s: %w", it.file, err)
		}
	}
	bar := newByteBar(r.opts.Progress, total, "hashing targets")
	targets := make([]Target, len(items))
	external := r.cfg.contentExternal()
	batch := newFileBatch(filepath.Join(r.dir, targetsDir))
	defer batch.discard()
	for i, it := range items {
		if err := ctx.Err(); err != nil {
			bar.Finish()
			return nil, err
		}
		var tf metadata.TargetFile
		var err error
		if external {
			tf, err = hashContent(it.file, bar)
		} else {
			tf, err = r.storeContent(it.file, it.target, bar, batch)
		}
		if err != nil {
			bar.Finish()
			return nil, err
		}
		targets[i] = Target{Path: it.target, File: tf}
	}
	bar.Finish()
	if external {
		return r.Add(ctx, targets, o)
	}
	// The content must be durable before metadata vouching for it is: it
	// is synced while the metadata is made and signed, and the commit
	// point waits for it (Tx.before), as does the return.
	synced := make(chan error, 1)
	go func() { synced <- batch.sync() }()
	durable := sync.OnceValue(func() error { return <-synced })
	res := &AddResult{Targets: targets, Count: len(targets)}
	err = r.Update(ctx, func(tx *Tx) error {
		tx.before = durable
		var err error
		res.Roles, err = tx.add(targets, o)
		return err
	})
	if derr := durable(); err == nil && derr != nil {
		err = fmt.Errorf("storing the content: %w", derr)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// storeContent copies the file src into the content store under the name
// it is published under, as a file of batch, and returns its description.
func (r *Repo) storeContent(src, targetPath string, bar interface{ WrapReader(io.Reader) io.Reader }, batch *fileBatch) (metadata.TargetFile, error) {
	in, err := os.Open(src)
	if err != nil {
		return metadata.TargetFile{}, err
	}
	defer in.Close()
	store := filepath.Join(r.dir, targetsDir)
	if err := os.MkdirAll(store, 0o755); err != nil {
		return metadata.TargetFile{}, err
	}
	tmp, err := os.CreateTemp(store, ".tmp-*")
	if err != nil {
		return metadata.TargetFile{}, err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	var rd io.Reader = in
	if bar != nil {
		rd = bar.WrapReader(in)
	}
	n, err := io.Copy(io.MultiWriter(tmp, h), rd)
	if err != nil {
		tmp.Close()
		return metadata.TargetFile{}, fmt.Errorf("copying %s into the repository: %w", src, err)
	}
	tf := metadata.TargetFile{Length: n, Hashes: metadata.Hashes{SHA256: h.Sum(nil)}}
	dst := filepath.Join(store, filepath.FromSlash(tf.ConsistentPath(targetPath)))
	if _, err := os.Stat(dst); err == nil {
		tmp.Close()
		return tf, nil // same content already stored
	}
	// The batch syncs the file, now or with the others of the batch.
	if err := batch.keep(tmp); err != nil {
		return metadata.TargetFile{}, fmt.Errorf("copying %s into the repository: %w", src, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return metadata.TargetFile{}, err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return metadata.TargetFile{}, err
	}
	batch.placed(dst)
	return tf, nil
}

// AddManifest registers the targets listed in a manifest (see
// ParseManifest) as it reads it; size, when known, sizes the progress bar.
func (r *Repo) AddManifest(ctx context.Context, rd io.Reader, size int64, o AddOptions) (*AddResult, error) {
	res := &AddResult{}
	err := r.Update(ctx, func(tx *Tx) error {
		a, err := tx.newAdder(o)
		if err != nil {
			return err
		}
		a.checked = true // scanManifest checks paths
		if a.bins != nil {
			// Unlocking a key takes tens of MiB for a moment: do it
			// while little else is held.
			if err := tx.loadSigners(a.bins.BinName(0), metadata.TypeSnapshot, metadata.TypeTimestamp); err != nil {
				return err
			}
		}
		bar := newByteBar(r.opts.Progress, size, "reading manifest")
		progress := func(n int) { bar.Add(int64(n)) }
		if a.bins != nil {
			a.binPend, a.count, err = manifestBins(rd, a.bins, &tx.placed, progress)
		} else {
			err = scanManifest(rd, progress, a.add)
		}
		bar.Finish()
		if err == nil {
			err = a.flush()
		}
		if err != nil {
			return err
		}
		if a.count == 0 {
			return fmt.Errorf("the manifest lists no targets")
		}
		res.Count, res.Roles = a.count, a.perRole()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Remove removes targets from every role that lists them. Their content
// stays in the store, since published metadata may still refer to it.
func (r *Repo) Remove(ctx context.Context, paths ...string) (map[string]int, error) {
	perRole := map[string]int{}
	err := r.Update(ctx, func(tx *Tx) error {
		var roles []string
		if s := tx.cfg.succinct(); s == nil {
			roles = append(roles, metadata.TypeTargets)
			for name := range tx.cfg.Delegations {
				roles = append(roles, name)
			}
			slices.Sort(roles[1:])
		}
		for _, p := range paths {
			candidates := roles
			if s := tx.cfg.succinct(); s != nil {
				candidates = []string{metadata.TypeTargets, s.RoleFor(p)}
			}
			found := false
			for _, role := range candidates {
				t, err := tx.Peek(role)
				if err != nil {
					return err
				}
				if _, ok := t.Targets[p]; !ok {
					continue
				}
				t, err = tx.Targets(role)
				if err != nil {
					return err
				}
				delete(t.Targets, p)
				perRole[role]++
				found = true
			}
			if !found {
				return fmt.Errorf("target %q is not in the repository", p)
			}
		}
		return nil
	})
	return perRole, err
}
