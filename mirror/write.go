package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/progress"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// Ranks order the renames of the metadata files of a commit, which come
// after the targets: bottom-up, timestamp.json last.
// New root versions come right before timestamp.json: a reader that found
// a new root but the old timestamp would check the old timestamp and
// snapshot with the new root's keys.
const (
	rankDelegated = iota
	rankTargets
	rankSnapshot
	rankRoots
	rankRoot
	rankTimestamp
)

// beforeRename, when set by a test, runs before each file is put in place.
var beforeRename func(name string)

// writer stages files under the run's staging directory and puts them in
// place in DIR at commit.
type writer struct {
	dir     string // DIR
	staging string

	mu      sync.Mutex
	n       int
	staged  []staged  // metadata files
	made    sync.Map  // directories of the staging tree made
	fetched []fetched // without consistent snapshots, the targets fetched

	// Without consistent snapshots: the target files verified by the
	// last run, and by this one.
	lastVerified, nowVerified verified
	hashed                    int // files hashed to tell
}

type staged struct {
	tmp, final, name string
	rank             int
}

func (w *writer) tempName() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	return filepath.Join(w.staging, strconv.Itoa(w.n))
}

// anyStaged reports whether a metadata file is staged.
func (w *writer) anyStaged() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.staged) > 0
}

func (w *writer) add(s staged) {
	w.mu.Lock()
	w.staged = append(w.staged, s)
	w.mu.Unlock()
}

// stageMetadata stages every metadata file of tr (and the root versions)
// that DIR does not already hold byte for byte.
func (w *writer) stageMetadata(tr *client.Trusted, roots map[int64][]byte) error {
	type file struct {
		name string
		data []byte
		rank int
	}
	var files []file
	for _, v := range slices.Sorted(maps.Keys(roots)) {
		files = append(files, file{fmt.Sprintf("%d.root.json", v), roots[v], rankRoots})
	}
	for _, role := range slices.Sorted(maps.Keys(tr.Targets)) {
		rank := rankDelegated
		if role == metadata.TypeTargets {
			rank = rankTargets
		}
		files = append(files, file{metaName(role, tr.Versions[role], tr.ConsistentSnapshot), tr.Targets[role], rank})
	}
	files = append(files,
		file{metaName(metadata.TypeSnapshot, tr.Versions[metadata.TypeSnapshot], tr.ConsistentSnapshot), tr.Snapshot, rankSnapshot},
		file{"root.json", tr.Root, rankRoot},
		file{"timestamp.json", tr.Timestamp, rankTimestamp})
	base := filepath.Join(w.dir, "metadata")
	for _, f := range files {
		final, err := localPath(base, f.name)
		if err != nil {
			return fmt.Errorf("metadata %s: %w", f.name, err)
		}
		if have, err := os.ReadFile(final); err == nil && bytes.Equal(have, f.data) {
			continue
		}
		tmp := w.tempName()
		if err := writeSynced(tmp, f.data); err != nil {
			return err
		}
		w.add(staged{tmp: tmp, final: final, name: "metadata/" + f.name, rank: f.rank})
	}
	return nil
}

func writeSynced(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if perFileSync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// fetchTargets downloads, verifies and stages the targets DIR lacks, with
// workers downloads at once. Targets are staged below the staging
// directory's targets/ in the layout they take in DIR/targets, so that
// commit can put whole new directories in place with one rename each.
func (w *writer) fetchTargets(ctx context.Context, c *client.Client, list []client.TargetInfo, consistent bool, workers int, prog io.Writer, res *Result) error {
	type job struct {
		t       client.TargetInfo
		missing []string // names below targets/
	}
	base := filepath.Join(w.dir, "targets")
	listing := dirListing{}
	w.nowVerified = verified{}
	var jobs []job
	var total int64
	for _, t := range list {
		var missing []string
		for _, name := range targetNames(t, consistent) {
			final, err := localPath(base, name)
			if err != nil {
				return fmt.Errorf("target %s: %w", t.Path, err)
			}
			if !w.present(listing, name, final, t, consistent) {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			jobs = append(jobs, job{t, missing})
			total += t.Length
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	var bar *progress.Bar
	if prog != nil {
		bar = progress.New(prog, total, fmt.Sprintf("copying %d targets", len(jobs)))
		defer bar.Finish()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
		bytesIn  atomic.Int64
	)
	fail := func(err error) { errOnce.Do(func() { firstErr = err; cancel() }) }
	for range min(workers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) || ctx.Err() != nil {
					return
				}
				j := jobs[i]
				if err := w.fetchTarget(ctx, c, j.t, j.missing, bar); err != nil {
					fail(err)
					return
				}
				bytesIn.Add(j.t.Length)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	res.Targets, res.TargetBytes = len(jobs), bytesIn.Load()
	if !consistent {
		for _, j := range jobs {
			w.fetched = append(w.fetched, fetched{j.missing[0], hashesKey(j.t)})
		}
	}
	return nil
}

type fetched struct{ name, hashes string }

// hashedFile, when set by a test, is called with the name of each file of
// DIR/targets hashed to tell whether it is a target already.
var hashedFile func(name string)

// dirListing lists each directory of DIR once, instead of a stat of every
// target's file: on a first run, none of them exist.
type dirListing map[string]map[string]fs.DirEntry

// present reports whether the file at final, name below targets/, is the
// target already. A name with the hash in it is checked by its length
// only; another by its hashes, unless the last run verified the file as
// it is.
func (w *writer) present(l dirListing, name, final string, t client.TargetInfo, consistent bool) bool {
	dir, base := filepath.Split(final)
	entries, ok := l[dir]
	if !ok {
		list, _ := os.ReadDir(dir) // a directory that cannot be read holds nothing to keep
		entries = make(map[string]fs.DirEntry, len(list))
		for _, e := range list {
			entries[e.Name()] = e
		}
		l[dir] = entries
	}
	e, ok := entries[base]
	if !ok || !e.Type().IsRegular() {
		return false
	}
	st, err := e.Info()
	if err != nil || st.Size() != t.Length {
		return false
	}
	if consistent {
		return true
	}
	id, idOK := idOf(st)
	rec := verifiedFile{id: id, hashes: hashesKey(t)}
	if last, ok := w.lastVerified[name]; idOK && ok && last == rec {
		w.nowVerified[name] = rec
		return true
	}
	w.hashed++
	if hashedFile != nil {
		hashedFile(name)
	}
	f, err := os.Open(final)
	if err != nil {
		return false
	}
	defer f.Close()
	hv := t.Hashes.NewVerifier()
	if _, err := io.Copy(hv, f); err != nil || hv.Check() != nil {
		return false
	}
	if idOK {
		w.nowVerified[name] = rec
	}
	return true
}

// recordFetched adds the target files put in place by commit to the
// record of files verified.
func (w *writer) recordFetched() {
	for _, f := range w.fetched {
		st, err := os.Lstat(filepath.Join(w.dir, "targets", filepath.FromSlash(f.name)))
		if err != nil {
			continue
		}
		if id, ok := idOf(st); ok {
			w.nowVerified[f.name] = verifiedFile{id: id, hashes: f.hashes}
		}
	}
}

// fetchTarget downloads t into the staging tree under its first name and
// links it there under the others.
func (w *writer) fetchTarget(ctx context.Context, c *client.Client, t client.TargetInfo, names []string, bar *progress.Bar) error {
	paths := make([]string, len(names))
	for i, name := range names {
		paths[i] = filepath.Join(w.staging, "targets", filepath.FromSlash(name))
		if err := w.mkdir(filepath.Dir(paths[i])); err != nil {
			return fmt.Errorf("target %s: %w", t.Path, err)
		}
	}
	f, err := os.OpenFile(paths[0], os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("target %s: %w", t.Path, err)
	}
	var dst io.Writer = f
	if bar != nil {
		dst = bar.WrapWriter(f)
	}
	if err := c.Download(ctx, t, dst); err != nil {
		f.Close()
		return err
	}
	if perFileSync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range paths[1:] {
		if os.Link(paths[0], p) != nil {
			if err := copyFile(paths[0], p); err != nil {
				return err
			}
		}
	}
	return nil
}

// mkdir makes a directory of the staging tree, once.
func (w *writer) mkdir(dir string) error {
	if _, ok := w.made.Load(dir); ok {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	w.made.Store(dir, true)
	return nil
}

// moveTree puts the staged tree from in place at to: an entry that to
// lacks, a whole directory included, with one rename; a directory that
// to has already, entry by entry. dirs collects the directories changed.
func (w *writer) moveTree(from, to string, dirs map[string]bool) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		src, dst := filepath.Join(from, e.Name()), filepath.Join(to, e.Name())
		if e.IsDir() {
			st, err := os.Lstat(dst)
			switch {
			case err == nil && st.IsDir():
				if err := w.moveTree(src, dst, dirs); err != nil {
					return err
				}
				continue
			case err == nil:
				return fmt.Errorf("%s is in the way of a directory of targets", dst)
			case !errors.Is(err, fs.ErrNotExist):
				return err
			}
		}
		if beforeRename != nil {
			rel, _ := filepath.Rel(w.dir, dst)
			beforeRename(filepath.ToSlash(rel))
		}
		if err := os.Rename(src, dst); err != nil {
			return err
		}
		dirs[to] = true
	}
	return nil
}

// commit puts the staged files in place, bottom-up, timestamp.json last,
// and returns the metadata files it wrote. What snapshot, root and
// timestamp lead to is durable before they are put in place, and all of
// it when commit returns.
func (w *writer) commit() ([]string, error) {
	slices.SortStableFunc(w.staged, func(a, b staged) int { return a.rank - b.rank })
	dirs := map[string]bool{}
	var written []string
	durable := func() error {
		if !perFileSync {
			return syncFS(w.dir)
		}
		for d := range dirs {
			syncDir(d)
		}
		return nil
	}
	if perFileSync { // the entries of the staging tree
		w.made.Range(func(d, _ any) bool { syncDir(d.(string)); return true })
	}
	if err := durable(); err != nil { // the staged files themselves
		return nil, err
	}
	if err := w.commitTargets(dirs); err != nil {
		return nil, err
	}
	synced := false
	for _, s := range w.staged {
		if s.rank >= rankSnapshot && !synced {
			if err := durable(); err != nil {
				return nil, err
			}
			synced = true
		}
		d := filepath.Dir(s.final)
		if !dirs[d] {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
			dirs[d] = true
		}
		if beforeRename != nil {
			beforeRename(s.name)
		}
		if err := os.Rename(s.tmp, s.final); err != nil {
			return nil, err
		}
		written = append(written, s.name)
	}
	return written, durable()
}

// commitTargets puts the staged targets in place, DIR/targets itself with
// one rename when it does not exist yet.
func (w *writer) commitTargets(dirs map[string]bool) error {
	from := filepath.Join(w.staging, "targets")
	if _, err := os.Stat(from); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := os.Lstat(filepath.Join(w.dir, "targets")); errors.Is(err, fs.ErrNotExist) {
		if beforeRename != nil {
			beforeRename("targets")
		}
		dirs[w.dir] = true
		return os.Rename(from, filepath.Join(w.dir, "targets"))
	}
	return w.moveTree(from, filepath.Join(w.dir, "targets"), dirs)
}
