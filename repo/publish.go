package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rampart-tuf/rampart/internal/atomicfile"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// PublishResult says what Publish wrote.
type PublishResult struct {
	Out            string
	RootVersion    int64
	SnapshotVer    int64
	TimestampVer   int64
	MetadataFiles  int // metadata files written
	TargetFiles    int // target files written
	Unchanged      int // files already published
	RefreshedRoles []string
	// NoContent is set when no target content was written: the content
	// is hosted elsewhere, or PublishOptions.NoContent asked so.
	NoContent bool
}

// Publish writes the repository's metadata and targets to out, ready to
// be served as they are: out/metadata/N.ROLE.json for every version of
// every role, out/metadata/root.json and timestamp.json, and
// out/targets/dir/HASH.base. It first signs snapshot and timestamp again
// when they need it and their keys are at hand, then checks every new role
// against its delegator's threshold and refuses, naming the missing keys,
// when one falls short. Files already in out are kept, so publishing again
// after a small change writes only what changed; root.json and
// timestamp.json are replaced last, atomically.
func (r *Repo) Publish(ctx context.Context, out string) (*PublishResult, error) {
	return r.PublishWith(ctx, out, PublishOptions{})
}

// PublishOptions are options of PublishWith.
type PublishOptions struct {
	// NoContent writes metadata only, no target content, this time. A
	// repository whose content is hosted elsewhere (ContentExternal)
	// never writes any.
	NoContent bool
}

// PublishWith is Publish with options.
func (r *Repo) PublishWith(ctx context.Context, out string, o PublishOptions) (*PublishResult, error) {
	res := &PublishResult{Out: out, NoContent: o.NoContent || r.cfg.contentExternal()}
	if sc := r.cfg.Server; sc != nil && r.cfg.serverHeld(r.root.Signed.Roles[metadata.TypeTimestamp].KeyIDs) {
		return nil, fmt.Errorf("%s publishes to the metadata server %s as %s: %w", r.dir, sc.URL, sc.GUN, ErrServerSignsTimestamp)
	}
	if err := r.makeBins(ctx); err != nil {
		return nil, err
	}
	if err := r.refreshOnline(ctx, res); err != nil {
		return nil, err
	}
	p := &publication{r: r, res: res, out: out, metaDir: filepath.Join(out, "metadata"), now: r.opts.Now()}
	if err := p.checkRoots(); err != nil {
		return nil, err
	}
	if err := p.checkOnline(); err != nil {
		return nil, err
	}
	if err := p.checkTargets(); err != nil {
		return nil, err
	}
	if len(p.problems) > 0 {
		sortProblems(p.problems)
		return nil, fmt.Errorf("not publishing: %w", &SignatureError{Problems: p.problems})
	}
	if len(p.expired) > 0 {
		return nil, fmt.Errorf("not publishing expired metadata: %s; make the role's keys available and change or re-sign it (rampart repo rotate/sign), or raise its expiry in repo.json", strings.Join(p.expired, "; "))
	}
	if err := p.write(); err != nil {
		return nil, err
	}
	return res, nil
}

// publication carries a Publish through its steps: what it checked, what
// it found wrong, and the files it is to write.
type publication struct {
	r       *Repo
	res     *PublishResult
	out     string
	metaDir string
	now     time.Time

	problems []*SignatureProblem
	expired  []string
	files    []publishFile // versioned metadata files to write
	parents  map[string]*metadata.Targets
	todo     []pendingRole // targets roles not yet published
	snap     *metadata.Metadata[*metadata.Snapshot]
	online   []publishFile // snapshot and timestamp, written after the targets roles

	rootBytes, tsBytes []byte
}

// publishFile is a file to publish: a copy of the repository file src
// under name.
type publishFile struct {
	name, src string
}

func (p *publication) published(name string) bool {
	_, err := os.Stat(filepath.Join(p.metaDir, name))
	return err == nil
}

func (p *publication) checkExpiry(role string, c *metadata.Common) {
	if c.IsExpired(p.now) {
		p.expired = append(p.expired, fmt.Sprintf("%s expired at %s", role, c.Expires.Format(time.RFC3339)))
	}
}

// checkRoots checks every root version, each signed by its own keys and
// its predecessor's, and notes those not yet published.
func (p *publication) checkRoots() error {
	r := p.r
	versions, err := r.rootVersions()
	if err != nil {
		return err
	}
	var prev *metadata.Metadata[*metadata.Root]
	for _, v := range versions {
		b, md, err := r.readRootVersion(v)
		if err != nil {
			return err
		}
		p.problems = append(p.problems, r.checkRoot(md, prev)...)
		name := fmt.Sprintf("%d.root.json", v)
		if old, err := os.ReadFile(filepath.Join(p.metaDir, name)); err != nil || !bytes.Equal(old, b) {
			p.files = append(p.files, publishFile{name, filepath.Join(r.dir, rootsDir, name)})
		}
		prev = md
	}
	if p.rootBytes, err = r.rawRole(metadata.TypeRoot); err != nil {
		return err
	}
	p.res.RootVersion = r.root.Signed.Version
	p.checkExpiry("root", &r.root.Signed.Common)
	return nil
}

// checkOnline checks timestamp and snapshot: the timestamp must be for the
// staged snapshot, and both signed and not expired.
func (p *publication) checkOnline() error {
	r := p.r
	var err error
	if p.tsBytes, err = r.rawRole(metadata.TypeTimestamp); err != nil {
		return err
	}
	ts, err := metadata.ParseTimestamp(p.tsBytes)
	if err != nil {
		return err
	}
	snapBytes, err := r.rawRole(metadata.TypeSnapshot)
	if err != nil {
		return err
	}
	snap, err := metadata.ParseSnapshot(snapBytes)
	if err != nil {
		return err
	}
	p.snap = snap
	if m := ts.Signed.SnapshotMeta(); m.Version != snap.Signed.Version || (!m.Hashes.IsZero() && m.Hashes.Verify(snapBytes) != nil) {
		return fmt.Errorf("%w: it is for snapshot version %d, the staged snapshot is version %d, and the timestamp key (repo.json) is not at hand to sign a new one", ErrStaleTimestamp, m.Version, snap.Signed.Version)
	}
	p.parents = map[string]*metadata.Targets{}
	for _, role := range []string{metadata.TypeTimestamp, metadata.TypeSnapshot} {
		var doc metadata.Signed = ts
		c := &ts.Signed.Common
		if role == metadata.TypeSnapshot {
			doc, c = snap, &snap.Signed.Common
		}
		rep, _ := r.reportRole(role, doc, p.parents)
		if pr := r.problem(rep, c.Version); pr != nil {
			p.problems = append(p.problems, pr)
		}
		p.checkExpiry(role, c)
	}
	p.res.SnapshotVer, p.res.TimestampVer = snap.Signed.Version, ts.Signed.Version
	p.online = []publishFile{
		{fmt.Sprintf("%d.snapshot.json", snap.Signed.Version), r.stagedPath(metadata.TypeSnapshot)},
		{fmt.Sprintf("%d.timestamp.json", ts.Signed.Version), r.stagedPath(metadata.TypeTimestamp)},
	}
	return nil
}

// checkTargets checks the targets roles the snapshot lists that are not
// published yet, in parallel. Published roles were checked then; their
// expiry is checked again, except for the bins (status reports those),
// whose thousands of files would make every publish slow.
func (p *publication) checkTargets() error {
	r := p.r
	for name, m := range p.snap.Signed.Meta {
		role := strings.TrimSuffix(name, ".json")
		if err := metadata.CheckRoleName(role); err != nil { // it becomes a path
			return fmt.Errorf("snapshot lists %q: %w", name, err)
		}
		if !p.published(fmt.Sprintf("%d.%s", m.Version, name)) {
			p.todo = append(p.todo, pendingRole{role, m.Version})
			continue
		}
		p.res.Unchanged++
		if !r.cfg.isBin(role) {
			if b, err := r.rawRole(role); err == nil {
				if f, err := readSignedFile(b); err == nil && !f.expires.After(p.now) {
					p.expired = append(p.expired, fmt.Sprintf("%s expired at %s", role, f.expires.Format(time.RFC3339)))
				}
			}
		}
	}
	problems, expired, err := r.checkTargetsRoles(p.todo, p.parents, p.now)
	if err != nil {
		return err
	}
	p.problems, p.expired = append(p.problems, problems...), append(p.expired, expired...)
	for _, t := range p.todo {
		p.files = append(p.files, publishFile{fmt.Sprintf("%d.%s.json", t.version, t.role), r.stagedPath(t.role)})
	}
	p.files = append(p.files, p.online...)
	return nil
}

// write writes targets first, then versioned metadata, then the two entry
// points, root.json and timestamp.json, each replaced atomically.
func (p *publication) write() error {
	r, res := p.r, p.res
	if !res.NoContent {
		n, kept, err := publishTargets(filepath.Join(r.dir, targetsDir), filepath.Join(p.out, "targets"))
		if err != nil {
			return err
		}
		res.TargetFiles, res.Unchanged = n, res.Unchanged+kept
	}
	if err := os.MkdirAll(p.metaDir, 0o755); err != nil {
		return err
	}
	if err := r.writeVersioned(p.metaDir, p.files); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(p.metaDir, "root.json"), p.rootBytes, 0o644); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(p.metaDir, "timestamp.json"), p.tsBytes, 0o644); err != nil {
		return err
	}
	res.MetadataFiles = len(p.files) + 2
	return syncDir(p.metaDir)
}

// writeVersioned writes versioned files into metaDir: hard links to the
// repository's files where the file system allows (staged files are never
// changed in place, only replaced, and they are durable), which appear
// whole under their final name at once; copies otherwise, which get a
// temporary name first and their final name once durable. Either way, a
// file that exists under its final name is complete, so a later publish
// may skip it.
func (r *Repo) writeVersioned(metaDir string, files []publishFile) error {
	dirs, err := publishDirs(metaDir, files)
	if err != nil {
		return err
	}
	bar := newCountBar(r.opts.Progress, len(files), "writing metadata")
	tmpNames := make([]string, len(files)) // of the copies
	err = parallel(len(files), func(i int) error {
		bar.Add(1)
		final := filepath.Join(metaDir, filepath.FromSlash(files[i].name))
		if os.Link(files[i].src, final) == nil {
			return nil
		}
		dir, base := path.Split(files[i].name)
		tmpNames[i] = filepath.Join(metaDir, filepath.FromSlash(dir), ".tmp-"+base)
		os.Remove(tmpNames[i])
		data, err := readFile(files[i].src)
		if err != nil {
			return err
		}
		return writeSynced(tmpNames[i], data, 0o644, atomicfile.SyncEach(i))
	})
	bar.Finish()
	if err == nil {
		err = syncBatch(len(files), dirs...)
	}
	renamed := false
	for i := range files {
		if err == nil && tmpNames[i] != "" {
			err = os.Rename(tmpNames[i], filepath.Join(metaDir, filepath.FromSlash(files[i].name)))
			renamed = true
		}
	}
	if err == nil && renamed {
		err = syncBatch(0, dirs...) // the renames: only directory entries
	}
	if err != nil {
		for _, n := range tmpNames {
			if n != "" {
				os.Remove(n)
			}
		}
	}
	return err
}

// publishDirs makes the directories that the metadata files go to: a role
// whose name has a '/' is published at the name as a relative path
// ("3.targets/releases.json" is metaDir/3.targets/releases.json), as
// clients ask a static web server for it. It returns metaDir and every
// directory below it that holds a file or a new directory, for syncBatch.
func publishDirs(metaDir string, files []publishFile) ([]string, error) {
	dirs := []string{metaDir}
	seen := map[string]bool{}
	for _, f := range files {
		dir := path.Dir(f.name)
		if dir != "." && !seen[dir] {
			if err := os.MkdirAll(filepath.Join(metaDir, filepath.FromSlash(dir)), 0o755); err != nil {
				return nil, err
			}
		}
		for ; dir != "." && !seen[dir]; dir = path.Dir(dir) {
			seen[dir] = true
			dirs = append(dirs, filepath.Join(metaDir, filepath.FromSlash(dir)))
		}
	}
	return dirs, nil
}

// makeBins makes the hashed bins that no change has made yet, empty, so
// that clients find every bin.
func (r *Repo) makeBins(ctx context.Context) error {
	s := r.cfg.succinct()
	if s == nil {
		return nil
	}
	snap, err := r.readSnapshot()
	if err != nil {
		return err
	}
	var missing []string
	for i := range s.NumBins() {
		if _, ok := snap.Signed.Meta[s.BinName(i)+".json"]; !ok {
			missing = append(missing, s.BinName(i))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return r.Update(ctx, func(tx *Tx) error {
		for _, name := range missing {
			if _, err := tx.Targets(name); err != nil {
				return err
			}
		}
		return nil
	})
}

// pendingRole is a staged targets role to publish, at the version the
// staged snapshot lists.
type pendingRole struct {
	role    string
	version int64
}

// checkTargetsRoles checks the staged targets roles in todo, in parallel:
// each must be at the version the snapshot lists, signed by the threshold
// of keys its delegator trusts, and not expired at now. parents caches
// delegators; it is filled here. A package whose in-toto metadata is
// incomplete is an error (checkInTotoPackages); the roles read here are
// searched for in-toto metadata as they are read, not read again for it.
func (r *Repo) checkTargetsRoles(todo []pendingRole, parents map[string]*metadata.Targets, now time.Time) (problems []*SignatureProblem, expired []string, err error) {
	for _, p := range todo {
		if !metadata.IsTopLevel(p.role) {
			if _, _, err := r.delegation(p.role, parents); err != nil { // fills parents
				return nil, nil, err
			}
		}
	}
	var mu sync.Mutex
	bar := newCountBar(r.opts.Progress, len(todo), "checking roles")
	defer bar.Finish()
	record := func(role string, rep *metadata.SignatureReport, version int64, expires time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if pr := r.problem(rep, version); pr != nil {
			problems = append(problems, pr)
		}
		if !expires.After(now) {
			expired = append(expired, fmt.Sprintf("%s expired at %s", role, expires.Format(time.RFC3339)))
		}
		bar.Add(1)
	}
	// mentions[i] is set for the roles read below (see mentionsInToto);
	// read[i] says which those are.
	mentions, read := make([]bool, len(todo)), make([]bool, len(todo))
	err = parallel(len(todo), func(i int) error {
		p := todo[i]
		if f, ok := r.fresh[p.role]; ok && f.version == p.version && !f.unchecked {
			// Signed and written by this Repo: the signers checked their
			// signatures; count them against the threshold.
			var rep *metadata.SignatureReport
			if p.role == metadata.TypeTargets {
				rk := r.root.Signed.Roles[p.role]
				rep = countReport(p.role, rk.KeyIDs, rk.Threshold, f.signedBy)
			} else {
				d, _, err := r.delegationCached(p.role, parents)
				if err != nil {
					return err
				}
				rep = countReport(p.role, d.KeyIDs, d.Threshold, f.signedBy)
			}
			record(p.role, rep, p.version, f.expires)
			return nil
		}
		buf := readBuffers.Get().(*bytes.Buffer)
		defer readBuffers.Put(buf)
		b, err := readFileInto(buf, r.stagedPath(p.role))
		if err != nil {
			return fmt.Errorf("snapshot lists %s, but it is not staged: %w", p.role, err)
		}
		mentions[i], read[i] = mentionsInToto(b), true
		md, err := readSignedFile(b)
		if err == nil && md.typ != metadata.TypeTargets {
			err = fmt.Errorf("_type is %q, want targets", md.typ)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", r.stagedPath(p.role), err)
		}
		if md.version != p.version {
			return fmt.Errorf("snapshot lists %s version %d, but version %d is staged", p.role, p.version, md.version)
		}
		var rep *metadata.SignatureReport
		if p.role == metadata.TypeTargets {
			rep, _ = r.root.Signed.ReportRole(p.role, md)
		} else {
			d, keyMap, err := r.delegationCached(p.role, parents)
			if err != nil {
				return err
			}
			rep = metadata.CheckSignatures(p.role, md, d.KeyIDs, keyMap, d.Threshold)
		}
		record(p.role, rep, md.version, md.expires)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	known := map[string]bool{}
	for i, p := range todo {
		if read[i] {
			known[p.role] = mentions[i]
		}
	}
	if err := r.checkInTotoPackages(todo, known); err != nil {
		return nil, nil, err
	}
	return problems, expired, nil
}

// readBuffers hold the roles that checkTargetsRoles reads, checks and
// forgets: reading thousands of bins into new memory each would cost more
// than checking them.
var readBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// countReport is the signature report of a role signed by the keys
// signedBy, whose signatures are known to be valid.
func countReport(role string, keyIDs []string, threshold int, signedBy []string) *metadata.SignatureReport {
	rep := &metadata.SignatureReport{Role: role, Threshold: threshold}
	for _, id := range keyIDs {
		if slices.Contains(signedBy, id) {
			rep.Valid = append(rep.Valid, id)
		} else {
			rep.Missing = append(rep.Missing, id)
		}
	}
	return rep
}

// delegationCached reads parents filled beforehand; it is safe for
// concurrent use as long as every parent needed is in the map.
func (r *Repo) delegationCached(role string, parents map[string]*metadata.Targets) (metadata.DelegatedRole, map[string]*metadata.Key, error) {
	parent, _ := r.cfg.parentOf(role)
	pt := parents[parent]
	if pt == nil || pt.Delegations == nil {
		return metadata.DelegatedRole{}, nil, fmt.Errorf("role %s is not delegated", role)
	}
	d, ok := pt.Delegations.Role(role)
	if !ok {
		return metadata.DelegatedRole{}, nil, fmt.Errorf("role %s does not delegate %s", parent, role)
	}
	return d, pt.Delegations.Keys, nil
}

func sortProblems(ps []*SignatureProblem) {
	order := map[string]int{metadata.TypeRoot: 0, metadata.TypeTargets: 1, metadata.TypeSnapshot: 3, metadata.TypeTimestamp: 4}
	rank := func(p *SignatureProblem) int {
		if o, ok := order[p.Role]; ok {
			return o
		}
		return 2
	}
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && (rank(ps[j]) < rank(ps[j-1]) || rank(ps[j]) == rank(ps[j-1]) && ps[j].Role < ps[j-1].Role); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

// refreshOnline signs snapshot and timestamp again when they are below
// threshold, about to expire, or out of step, and their keys are at hand.
func (r *Repo) refreshOnline(ctx context.Context, res *PublishResult) error {
	now := r.opts.Now()
	// A role's keys are loaded (which may cost a passphrase and a key
	// derivation) only when the role needs signing again.
	atHand := func(role string) bool {
		signers, _ := r.signersFor(ctx, r.root.Signed.Roles[role].KeyIDs)
		return len(signers) > 0
	}
	need := func(role string, c *metadata.Common, doc metadata.Signed) bool {
		rep, _ := r.root.Signed.ReportRole(role, doc)
		return (!rep.Met() || c.Expires.Sub(now) < r.cfg.ExpiryFor(role)/2) && atHand(role)
	}
	snap, err := r.readSnapshot()
	if err != nil {
		return err
	}
	ts, err := r.readTimestamp()
	if err != nil {
		return err
	}
	snapBytes, _ := r.rawRole(metadata.TypeSnapshot)
	forceSnap := need(metadata.TypeSnapshot, &snap.Signed.Common, snap)
	m := ts.Signed.SnapshotMeta()
	forceTime := (need(metadata.TypeTimestamp, &ts.Signed.Common, ts) ||
		m.Version != snap.Signed.Version || (!m.Hashes.IsZero() && m.Hashes.Verify(snapBytes) != nil)) &&
		atHand(metadata.TypeTimestamp)
	if !forceSnap && !forceTime {
		return nil
	}
	if forceSnap {
		res.RefreshedRoles = append(res.RefreshedRoles, metadata.TypeSnapshot)
	}
	res.RefreshedRoles = append(res.RefreshedRoles, metadata.TypeTimestamp)
	return r.Update(ctx, func(tx *Tx) error {
		tx.forceSnap = forceSnap
		tx.forceTime = true
		return nil
	})
}

// publishTargets mirrors the content store into dst, linking files where
// it can and copying them otherwise. Files already in dst are kept.
func publishTargets(store, dst string) (written, kept int, err error) {
	batch := newFileBatch(dst)
	err = walkContent(store, func(p, rel string, d fs.DirEntry) error {
		target := filepath.Join(dst, rel)
		if _, err := os.Stat(target); err == nil {
			kept++
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		written++
		if os.Link(p, target) != nil {
			if err := copyFile(p, target, batch.next()); err != nil {
				return err
			}
		}
		batch.placed(target)
		return nil
	})
	if err == nil {
		err = batch.sync()
	}
	return written, kept, err
}

// walkContent calls fn for every file of the content store in store, with
// its path relative to store; temporary files of unfinished copies are
// passed over, and a missing store has no files.
func walkContent(store string, fn func(p, rel string, d fs.DirEntry) error) error {
	return filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == store {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(store, p)
		if err != nil {
			return err
		}
		return fn(p, rel, d)
	})
}

// copyFile copies src to dst through a temporary file, synced when sync
// is set (see fileBatch.next).
func copyFile(src, dst string, sync bool) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, in)
	if err == nil && sync {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
