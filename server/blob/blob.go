// Package blob stores target file content, addressed by its SHA-256.
//
// A Store keeps each blob whole or not at all: Put reads the content to
// its end, checks its length and digest, and only then makes it visible,
// so that a reader never sees a partial or wrong blob and a failed upload
// leaves nothing behind. Dir is a Store in a local directory; the
// PostgreSQL store (package server/store/postgres) has one that server
// replicas sharing a database share too.
package blob

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/rampart-tuf/rampart/internal/atomicfile"
)

// Store is a content-addressed store of blobs. Its methods may be called
// concurrently.
type Store interface {
	// Put reads r to its end, at most limit bytes, and stores the content
	// if its SHA-256 is wantSHA256 (64 lowercase hex digits); nothing is
	// stored otherwise. Content over the limit is an error wrapping
	// ErrTooLarge, content with another digest one wrapping ErrDigest.
	// Storing content that is there already is not an error. Errors
	// reading r are returned wrapped.
	Put(ctx context.Context, r io.Reader, limit int64, wantSHA256 string) (Info, error)

	// Open opens the blob whose SHA-256 is sha256 (hex). A blob that is
	// not there, or a malformed digest, is an error matching
	// fs.ErrNotExist. Reads from the Blob may use ctx, which must stay
	// live until the Blob is closed.
	Open(ctx context.Context, sha256 string) (Blob, error)
}

// Blob is an open blob. It is not safe for concurrent use.
type Blob interface {
	io.ReadSeekCloser
	// Size returns the blob's length in bytes.
	Size() int64
}

// Info describes a stored blob.
type Info struct {
	SHA256, SHA512 string // hex
	Length         int64
}

// ErrTooLarge is returned by Put when the content exceeds the limit.
var ErrTooLarge = errors.New("content too large")

// ErrDigest is returned by Put when the content does not have the
// expected SHA-256.
var ErrDigest = errors.New("content does not match the expected SHA-256")

// ValidSHA256 reports whether s is a SHA-256 digest as the stores name
// blobs: 64 lowercase hex digits.
func ValidSHA256(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Hasher computes the length and digests of content written to it, for
// implementations of Put.
type Hasher struct {
	sha256, sha512 interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

// NewHasher returns a Hasher that has seen no content.
func NewHasher() *Hasher { return &Hasher{sha256: sha256.New(), sha512: sha512.New()} }

// Write adds p to the content; it never fails.
func (h *Hasher) Write(p []byte) (int, error) {
	h.sha256.Write(p)
	h.sha512.Write(p)
	h.n += int64(len(p))
	return len(p), nil
}

// Len returns the number of bytes written.
func (h *Hasher) Len() int64 { return h.n }

// Check returns the content's Info if it is at most limit bytes long and
// has the SHA-256 want, and otherwise an error wrapping ErrTooLarge or
// ErrDigest.
func (h *Hasher) Check(limit int64, want string) (Info, error) {
	if h.n > limit {
		return Info{}, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	info := Info{SHA256: hex.EncodeToString(h.sha256.Sum(nil)), SHA512: hex.EncodeToString(h.sha512.Sum(nil)), Length: h.n}
	if info.SHA256 != want {
		return Info{}, fmt.Errorf("%w: got %s, want %s", ErrDigest, info.SHA256, want)
	}
	return info, nil
}

// Dir is a Store in a local directory: DIR/sha256/ab/abcdef…, each blob
// written to a temporary file in DIR/tmp first and renamed into place once
// its length and digest are checked.
type Dir struct{ dir string }

var _ Store = (*Dir)(nil)

// OpenDir returns the blob store in dir, creating the directory. It
// removes the temporary files of uploads that no process is writing any
// more (left by a server that was killed): each upload holds a lock on its
// file while it runs, so that servers sharing the directory keep theirs.
func OpenDir(dir string) (*Dir, error) {
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	for _, e := range entries {
		if p := filepath.Join(tmp, e.Name()); e.Type().IsRegular() && abandoned(p) {
			if err := os.Remove(p); err != nil {
				return nil, fmt.Errorf("blob store: removing an abandoned upload: %w", err)
			}
		}
	}
	return &Dir{dir: dir}, nil
}

func (d *Dir) path(sum string) string { return filepath.Join(d.dir, "sha256", sum[:2], sum) }

// Put implements Store. A blob that is there already is replaced by the
// same content, atomically.
func (d *Dir) Put(ctx context.Context, r io.Reader, limit int64, wantSHA256 string) (Info, error) {
	if !ValidSHA256(wantSHA256) {
		return Info{}, fmt.Errorf("blob store: expected SHA-256 %q is not 64 lowercase hex digits", wantSHA256)
	}
	tmp, err := os.CreateTemp(filepath.Join(d.dir, "tmp"), "upload-")
	if err != nil {
		return Info{}, fmt.Errorf("blob store: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	if err := lockUpload(tmp); err != nil {
		return Info{}, fmt.Errorf("blob store: locking %s: %w", tmp.Name(), err)
	}
	h := NewHasher()
	if _, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, limit+1)); err != nil {
		return Info{}, fmt.Errorf("blob store: reading the content: %w", err)
	}
	info, err := h.Check(limit, wantSHA256)
	if err != nil {
		return Info{}, err
	}
	// The content is synced while the directory it goes to is made
	// durable: the two wait on the disk at once.
	dst := d.path(info.SHA256)
	dirReady := make(chan error, 1)
	go func() { dirReady <- makeDurableDir(filepath.Dir(dst)) }()
	err = tmp.Sync()
	if derr := <-dirReady; err == nil {
		err = derr
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = place(tmp.Name(), dst)
	}
	if err != nil {
		return Info{}, fmt.Errorf("blob store: %w", err)
	}
	return info, nil
}

// makeDurableDir makes the directory dir when it does not exist, and then
// its entry in the directory above durable.
func makeDurableDir(dir string) error {
	_, err := os.Stat(dir)
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(dir))
}

// place renames the synced file tmp to dst, in a durable directory, and
// makes the new name durable before Put reports the blob stored: dst's
// directory is synced. Otherwise a crash could lose the name while the
// repository already lists the content.
func place(tmp, dst string) error {
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(dst))
}

// Open implements Store; the Blob is an open file.
func (d *Dir) Open(_ context.Context, sum string) (Blob, error) {
	if !ValidSHA256(sum) {
		return nil, fmt.Errorf("blob %q: %w", sum, fs.ErrNotExist)
	}
	f, err := os.Open(d.path(sum))
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blob store: %w", err)
	}
	return file{f, fi.Size()}, nil
}

// file is a Blob on disk.
type file struct {
	*os.File
	size int64
}

func (f file) Size() int64 { return f.size }

// CopyResult says what Copy did.
type CopyResult struct {
	Copied, Present int
	// Bad lists the blobs of src whose content does not match their
	// name; they are not copied.
	Bad []string
}

// Copy copies every blob of src that dst does not have into dst, checking
// each against its SHA-256 on the way. Blobs in src are left as they are.
func Copy(ctx context.Context, dst Store, src *Dir) (CopyResult, error) {
	var res CopyResult
	sums, err := src.list()
	if err != nil {
		return res, err
	}
	for _, sum := range sums {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if b, err := dst.Open(ctx, sum); err == nil {
			b.Close()
			res.Present++
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return res, err
		}
		b, err := src.Open(ctx, sum)
		if err != nil {
			return res, err
		}
		_, err = dst.Put(ctx, b, b.Size(), sum)
		b.Close()
		switch {
		case errors.Is(err, ErrDigest):
			res.Bad = append(res.Bad, sum)
		case err != nil:
			return res, fmt.Errorf("copying blob %s from %s: %w", sum, src.dir, err)
		default:
			res.Copied++
		}
	}
	return res, nil
}

// list returns the SHA-256 of every blob in d, sorted.
func (d *Dir) list() ([]string, error) {
	var sums []string
	root := filepath.Join(d.dir, "sha256")
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				return filepath.SkipDir
			}
			return err
		}
		if e.Type().IsRegular() && ValidSHA256(e.Name()) && filepath.Base(filepath.Dir(p)) == e.Name()[:2] {
			sums = append(sums, e.Name())
		}
		return nil
	})
	slices.Sort(sums)
	return sums, err
}
