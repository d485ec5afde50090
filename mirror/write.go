package mirror

import (
	"bytes"
	"context"
	"fmt"
	"io"
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

// Ranks order the renames of a commit: bottom-up, timestamp.json last.
// New root versions come right before timestamp.json: a reader that found
// a new root but the old timestamp would check the old timestamp and
// snapshot with the new root's keys.
const (
	rankTargetFiles = iota
	rankDelegated
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

	mu     sync.Mutex
	n      int
	staged []staged
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
// workers downloads at once.
func (w *writer) fetchTargets(ctx context.Context, c *client.Client, list []client.TargetInfo, consistent bool, workers int, prog io.Writer, res *Result) error {
	type job struct {
		t       client.TargetInfo
		missing []string // final paths
	}
	base := filepath.Join(w.dir, "targets")
	var jobs []job
	var total int64
	for _, t := range list {
		var missing []string
		for _, name := range targetNames(t, consistent) {
			final, err := localPath(base, name)
			if err != nil {
				return fmt.Errorf("target %s: %w", t.Path, err)
			}
			if !present(final, t, consistent) {
				missing = append(missing, final)
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
	return nil
}

// present reports whether the file at p is the target already. A name
// with the hash in it is checked by its length only.
func present(p string, t client.TargetInfo, consistent bool) bool {
	st, err := os.Stat(p)
	if err != nil || !st.Mode().IsRegular() || st.Size() != t.Length {
		return false
	}
	if consistent {
		return true
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	hv := t.Hashes.NewVerifier()
	if _, err := io.Copy(hv, f); err != nil {
		return false
	}
	return hv.Check() == nil
}

func (w *writer) fetchTarget(ctx context.Context, c *client.Client, t client.TargetInfo, finals []string, bar *progress.Bar) error {
	tmp := w.tempName()
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
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
	for i, final := range finals {
		src := tmp
		if i > 0 {
			src = w.tempName()
			if os.Link(tmp, src) != nil {
				if err := copyFile(tmp, src); err != nil {
					return err
				}
			}
		}
		rel, _ := filepath.Rel(w.dir, final)
		w.add(staged{tmp: src, final: final, name: filepath.ToSlash(rel), rank: rankTargetFiles})
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
	if err := durable(); err != nil { // the staged files themselves
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
		if s.rank != rankTargetFiles {
			written = append(written, s.name)
		}
	}
	return written, durable()
}
