// Package blob keeps target file content on disk, addressed by SHA-256:
// DIR/sha256/ab/abcdef…, written to a temporary file first and renamed
// into place once its length and digests are known and checked, so that a
// reader never sees a partial blob.
package blob

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Store is a directory of blobs.
type Store struct{ dir string }

// Open returns the blob store in dir, creating the directory.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	return &Store{dir: dir}, nil
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

func validHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && len(s) == 64
}

func (s *Store) path(sum string) string { return filepath.Join(s.dir, "sha256", sum[:2], sum) }

// Put reads r to its end, at most limit bytes, and stores it if its
// SHA-256 is wantSHA256 (hex).
func (s *Store) Put(r io.Reader, limit int64, wantSHA256 string) (Info, error) {
	if !validHex(wantSHA256) {
		return Info{}, fmt.Errorf("expected SHA-256 %q is not 64 hex digits", wantSHA256)
	}
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "upload-")
	if err != nil {
		return Info{}, fmt.Errorf("blob store: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	h256, h512 := sha256.New(), sha512.New()
	n, err := io.Copy(io.MultiWriter(tmp, h256, h512), io.LimitReader(r, limit+1))
	if err != nil {
		return Info{}, fmt.Errorf("reading upload: %w", err)
	}
	if n > limit {
		return Info{}, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	info := Info{SHA256: hex.EncodeToString(h256.Sum(nil)), SHA512: hex.EncodeToString(h512.Sum(nil)), Length: n}
	if info.SHA256 != wantSHA256 {
		return Info{}, fmt.Errorf("%w: got %s, want %s", ErrDigest, info.SHA256, wantSHA256)
	}
	if err := tmp.Sync(); err != nil {
		return Info{}, fmt.Errorf("blob store: %w", err)
	}
	dst := s.path(info.SHA256)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return Info{}, fmt.Errorf("blob store: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return Info{}, fmt.Errorf("blob store: %w", err)
	}
	return info, nil
}

// Open opens the blob with the given hex SHA-256.
func (s *Store) Open(sum string) (*os.File, error) {
	if !validHex(sum) {
		return nil, fmt.Errorf("blob %q: %w", sum, os.ErrNotExist)
	}
	return os.Open(s.path(sum))
}
