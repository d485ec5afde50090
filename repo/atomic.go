package repo

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/rampart-tuf/rampart/internal/atomicfile"
)

// The journal. A commit writes every new file under DIR/.txn.new/files,
// with a plan listing where each goes, syncs them, and renames the directory
// to DIR/.txn: that rename is the commit point. The files are then renamed
// into place and DIR/.txn removed. Opening a repository rolls back a
// .txn.new (the commit never happened) and rolls forward a .txn.
const (
	txnDir    = ".txn"
	txnNewDir = ".txn.new"
	planFile  = "plan"
)

// A commit hook, which tests set (Repo.commitHook), is called at the
// named steps of a commit: "written" (files synced, before the commit
// point), "committed" (after it) and "moved N" (after the Nth file is in
// place). An error it returns aborts the commit there, as a crash would.
type commitHook func(step string) error

func (h commitHook) at(step string) error {
	if h == nil {
		return nil
	}
	return h(step)
}

// change is one file of a commit: data to write at path (relative to the
// repository directory), or a removal when remove is set.
type change struct {
	path   string
	data   []byte
	remove bool
}

// journal collects the files of one commit under DIR/.txn.new. Its write
// method may be called from several goroutines, so that roles are encoded,
// signed and written in parallel without keeping them all in memory.
type journal struct {
	dir, newDir, filesDir string

	mu   sync.Mutex
	plan strings.Builder
	n    int
	dirs int // subdirectories of filesDir made, 0..dirs-1

	// open are the files written without a sync (atomicfile.Deferred),
	// synced together when the commit makes the batch durable.
	open []*os.File
	// before, when set, makes files outside the journal that the commit
	// refers to durable (content a new role lists); it runs with the
	// journal's syncs, and the commit point waits for it.
	before func() error

	hook commitHook // nil but in tests
}

// makeDirs makes the subdirectories of filesDir that files 0..n-1 go to,
// those not made yet; the caller holds j.mu. A commit of a few files makes
// none (see journalFile).
func (j *journal) makeDirs(n int) error {
	for ; j.dirs < min(n-journalSubdirs, journalSubdirs); j.dirs++ {
		if err := os.Mkdir(filepath.Join(j.filesDir, journalSubdir(j.dirs)), 0o755); err != nil {
			return err
		}
	}
	return nil
}

func beginJournal(dir string, hook commitHook) (*journal, error) {
	j := &journal{dir: dir, newDir: filepath.Join(dir, txnNewDir), hook: hook}
	j.filesDir = filepath.Join(j.newDir, "files")
	if err := os.RemoveAll(j.newDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(j.filesDir, 0o755); err != nil {
		return nil, err
	}
	return j, nil
}

// journalSubdirs spreads the files of a commit over directories: file
// systems serialise creating files in one directory.
const journalSubdirs = 16

// journalFile is where file i of a commit is written under files/: the
// first journalSubdirs files in files/ itself, so that a commit of a few
// files has no directories to make and sync, the others spread over the
// subdirectories.
func journalFile(i int) string {
	if i < journalSubdirs {
		return strconv.Itoa(i)
	}
	return filepath.Join(journalSubdir(i%journalSubdirs), strconv.Itoa(i))
}

// journalSubdir names subdirectory k of files/.
func journalSubdir(k int) string { return "d" + strconv.Itoa(k) }

// oldJournalFile is where journals of earlier versions put file i, for
// a commit interrupted before an upgrade.
func oldJournalFile(i int) string {
	return filepath.Join(strconv.Itoa(i%journalSubdirs), strconv.Itoa(i))
}

// write adds a file at rel (relative to the repository) to the commit.
func (j *journal) write(rel string, data []byte) error {
	j.mu.Lock()
	i := j.n
	j.n++
	fmt.Fprintf(&j.plan, "%d\t%s\n", i, rel)
	err := j.makeDirs(i + 1)
	j.mu.Unlock()
	if err != nil {
		return err
	}
	return j.writeFile(i, filepath.Join(j.filesDir, journalFile(i)), data)
}

// writeFile writes file i of the commit's batch at path: the first ones
// are kept open, to be synced together at the commit.
func (j *journal) writeFile(i int, path string, data []byte) error {
	f, err := writeOpen(path, data, 0o644)
	if err != nil {
		return err
	}
	kept, err := atomicfile.Finish(i, f)
	if kept {
		j.mu.Lock()
		j.open = append(j.open, f)
		j.mu.Unlock()
	}
	return err
}

// takeOpen returns the files kept open, which the caller closes.
func (j *journal) takeOpen() []*os.File {
	j.mu.Lock()
	defer j.mu.Unlock()
	open := j.open
	j.open = nil
	return open
}

// remove adds the removal of rel to the commit.
func (j *journal) remove(rel string) {
	j.mu.Lock()
	fmt.Fprintf(&j.plan, "-\t%s\n", rel)
	j.n++
	j.mu.Unlock()
}

// abort discards the commit.
func (j *journal) abort() {
	atomicfile.CloseAll(j.takeOpen())
	os.RemoveAll(j.newDir)
}

// commit makes the files durable, passes the commit point and moves them
// into place.
func (j *journal) commit() error {
	if j.n == 0 {
		j.abort()
		return nil
	}
	// The plan is one more file of the batch, whose syncs (and before)
	// run together.
	err := j.writeFile(j.n, filepath.Join(j.newDir, planFile), []byte(j.plan.String()))
	if err == nil {
		dirs := []string{j.newDir, j.filesDir}
		for i := range j.dirs {
			dirs = append(dirs, filepath.Join(j.filesDir, journalSubdir(i)))
		}
		var also []func() error
		if j.before != nil {
			also = append(also, j.before)
		}
		err = atomicfile.SyncBatchFiles(j.n+1, j.takeOpen(), dirs, also...)
	}
	if err == nil {
		err = j.hook.at("written")
	}
	if err != nil {
		j.abort()
		return fmt.Errorf("writing changes (nothing was changed): %w", err)
	}
	if err := os.Rename(j.newDir, filepath.Join(j.dir, txnDir)); err != nil {
		j.abort()
		return fmt.Errorf("committing changes (nothing was changed): %w", err)
	}
	if err := syncDir(j.dir); err != nil { // the rename, the commit point
		return err
	}
	if err := j.hook.at("committed"); err != nil {
		return err
	}
	return applyJournal(j.dir, j.hook)
}

// commitFiles writes changes to dir atomically, as described above.
func commitFiles(dir string, changes []change) error {
	if len(changes) == 0 {
		return nil
	}
	j, err := beginJournal(dir, nil)
	if err != nil {
		return err
	}
	for _, c := range changes {
		if c.remove {
			j.remove(c.path)
		}
	}
	err = parallel(len(changes), func(i int) error {
		if changes[i].remove {
			return nil
		}
		return j.write(changes[i].path, changes[i].data)
	})
	if err != nil {
		j.abort()
		return err
	}
	return j.commit()
}

// recoverJournal finishes or discards a commit interrupted in dir.
func recoverJournal(dir string) error {
	if err := os.RemoveAll(filepath.Join(dir, txnNewDir)); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, txnDir)); err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	// The plan goes only when the commit was applied and made durable:
	// what is left without it is a removal that was cut short.
	if _, err := os.Stat(filepath.Join(dir, txnDir, planFile)); os.IsNotExist(err) {
		return os.RemoveAll(filepath.Join(dir, txnDir))
	}
	if err := applyJournal(dir, nil); err != nil {
		return fmt.Errorf("completing an interrupted commit in %s: %w", filepath.Join(dir, txnDir), err)
	}
	return nil
}

// applyJournal moves the files of DIR/.txn into place and removes it. It
// can run again after an interruption: files already moved are skipped.
func applyJournal(dir string, hook commitHook) error {
	tdir := filepath.Join(dir, txnDir)
	f, err := os.Open(filepath.Join(tdir, planFile))
	if err != nil {
		return err
	}
	defer f.Close()
	dirs := map[string]bool{} // that got or lost files
	made := map[string]bool{} // known to exist
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	moved := 0
	for sc.Scan() {
		idx, rel, ok := strings.Cut(sc.Text(), "\t")
		if !ok || rel == "" || !filepath.IsLocal(filepath.FromSlash(rel)) {
			return fmt.Errorf("corrupt journal line %q", sc.Text())
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		dstDir := filepath.Dir(dst)
		dirs[dstDir] = true
		if idx == "-" {
			if err := os.Remove(dst); err != nil && !os.IsNotExist(err) {
				return err
			}
			continue
		}
		n, err := strconv.Atoi(idx)
		if err != nil {
			return fmt.Errorf("corrupt journal line %q", sc.Text())
		}
		src := filepath.Join(tdir, "files", journalFile(n))
		if fi, err := os.Lstat(src); err != nil || !fi.Mode().IsRegular() {
			// Not there (moved, or an earlier version's journal), or the
			// directory files/N of an earlier version.
			src = filepath.Join(tdir, "files", oldJournalFile(n))
			if _, err := os.Lstat(src); os.IsNotExist(err) {
				continue // moved before an interruption
			}
		}
		if !made[dstDir] {
			if err := os.MkdirAll(dstDir, 0o755); err != nil {
				return err
			}
			made[dstDir] = true
		}
		if err := os.Rename(src, dst); err != nil {
			return err
		}
		moved++
		if err := hook.at("moved " + strconv.Itoa(moved)); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	// The directories that got or lost files (the rename of .txn into dir
	// was synced at the commit point).
	dirList := slices.Sorted(maps.Keys(dirs))
	if len(dirList) == 0 {
		dirList = []string{dir}
	}
	if err := syncBatch(moved, dirList...); err != nil {
		return err
	}
	f.Close()
	return removeJournal(tdir)
}

// removeJournal removes the directory of a journal applied: what a commit
// of a few files leaves there (an empty files/ and the plan, last, see
// recoverJournal) directly, anything else through RemoveAll.
func removeJournal(tdir string) error {
	if os.Remove(filepath.Join(tdir, "files")) != nil {
		if err := os.RemoveAll(filepath.Join(tdir, "files")); err != nil {
			return err
		}
	}
	if err := os.Remove(filepath.Join(tdir, planFile)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.Remove(tdir)
}

// syncBatch makes a batch of n files written since the last call durable,
// with the directories dirs (the first of which identifies the file
// system): see atomicfile.SyncBatch, which decides how.
func syncBatch(n int, dirs ...string) error { return atomicfile.SyncBatch(n, dirs...) }

// writeOpen writes data to a new file at path, and returns it open, not
// synced (see atomicfile.Deferred).
func writeOpen(path string, data []byte, perm os.FileMode) (*os.File, error) {
	f, err := openFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// writeSynced writes data to a new file at path, and syncs it at once when
// sync is set: for file i of a batch, atomicfile.SyncEach(i) says.
func writeSynced(path string, data []byte, perm os.FileMode, sync bool) error {
	f, err := writeOpen(path, data, perm)
	if err != nil {
		return err
	}
	if sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readFile is os.ReadFile, opening the file with openFile.
func readFile(path string) ([]byte, error) { return readFileInto(new(bytes.Buffer), path) }

// readFileInto reads the file at path into buf, emptied first, and returns
// its bytes, which are buf's.
func readFileInto(buf *bytes.Buffer, path string) ([]byte, error) {
	f, err := openFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf.Reset()
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 && fi.Size() < 1<<30 {
		buf.Grow(int(fi.Size()) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeAtomic replaces the file at path with data: readers see the old
// file or the new one, never a part.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, perm)
}

func syncDir(dir string) error { return atomicfile.SyncDir(dir) }

// fileBatch counts the files of a batch written under root (the content
// store, a publication) and the directories that got new entries, so
// that syncBatch makes them durable together. Its methods may be called
// from several goroutines.
type fileBatch struct {
	root string
	mu   sync.Mutex
	n    int
	dirs map[string]bool
	open []*os.File // written without a sync (see keep)
}

func newFileBatch(root string) *fileBatch {
	return &fileBatch{root: root, dirs: map[string]bool{}}
}

// next returns whether the next file of the batch is to be synced as it
// is written (see atomicfile.SyncEach), and counts it.
func (b *fileBatch) next() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	return atomicfile.SyncEach(b.n - 1)
}

// keep counts f, a file of the batch that is written, and takes it: the
// first files (atomicfile.Deferred) stay open, to be synced together by
// sync; the others are synced now when atomicfile.SyncEach says, and
// closed.
func (b *fileBatch) keep(f *os.File) error {
	b.mu.Lock()
	i := b.n
	b.n++
	b.mu.Unlock()
	kept, err := atomicfile.Finish(i, f)
	if kept {
		b.mu.Lock()
		b.open = append(b.open, f)
		b.mu.Unlock()
	}
	return err
}

// discard closes the files the batch holds open, for a batch given up.
func (b *fileBatch) discard() {
	b.mu.Lock()
	defer b.mu.Unlock()
	atomicfile.CloseAll(b.open)
	b.open = nil
}

// placed records that a file now has its name at path, under root: the
// directories from path's up to root (some of which may be new) changed.
func (b *fileBatch) placed(path string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for d := filepath.Dir(path); !b.dirs[d]; d = filepath.Dir(d) {
		b.dirs[d] = true
		if d == b.root || d == filepath.Dir(d) {
			break
		}
	}
}

// sync makes the batch durable.
func (b *fileBatch) sync() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	open := b.open
	b.open = nil
	if b.n == 0 && len(b.dirs) == 0 {
		return nil
	}
	dirs := []string{b.root}
	for d := range b.dirs {
		if d != b.root {
			dirs = append(dirs, d)
		}
	}
	return atomicfile.SyncBatchFiles(b.n, open, dirs)
}

// parallel runs fn(0..n-1) on a few goroutines and returns the first
// error. There are more goroutines than processors: most work here ends in
// file system calls, which overlap.
func parallel(n int, fn func(i int) error) error {
	return parallelN(max(2*runtime.GOMAXPROCS(0), 8), n, fn)
}

// parallelN is parallel on at most workers goroutines.
func parallelN(workers, n int, fn func(i int) error) error {
	workers = min(workers, n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		mu    sync.Mutex
		next  int
		first error
		wg    sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= n || first != nil {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
