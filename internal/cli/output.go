package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/rampart-tuf/rampart/client"
)

// This file holds what commands share to write their results: the
// destination of a downloaded target (-o), and plurals in messages.

// outputTarget says where a verified target goes.
type outputTarget struct {
	stdout  bool   // -o -: standard output
	path    string // the file written, after resolving DIR/ and symlinks
	special bool   // path is a FIFO, a device or another non-regular file: write into it
	shown   string // how messages name the destination
}

// resolveOutput decides where -o out sends the target at targetPath:
//   - "-" is standard output;
//   - a name ending in "/" or naming a directory gets the target's base name
//     appended (DIR/ writes DIR/BASENAME);
//   - a symlink is followed, so the file it points to receives the target;
//   - a regular file, or a name that does not exist yet, is replaced or
//     created atomically;
//   - anything else (a FIFO, a device) is opened and written into, never
//     replaced.
func resolveOutput(out, targetPath string) (outputTarget, error) {
	if out == "-" {
		return outputTarget{stdout: true, shown: "standard output"}, nil
	}
	base := path.Base(targetPath)
	if strings.HasSuffix(out, "/") || strings.HasSuffix(out, string(filepath.Separator)) {
		out = filepath.Join(out, base)
	} else if st, err := os.Stat(out); err == nil && st.IsDir() {
		out = filepath.Join(out, base)
	}
	resolved := out
	if st, err := os.Lstat(out); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		if resolved, err = filepath.EvalSymlinks(out); err != nil {
			return outputTarget{}, fmt.Errorf("-o %s: %w", out, err)
		}
	}
	st, err := os.Stat(resolved)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return outputTarget{path: resolved, shown: out}, nil
	case err != nil:
		return outputTarget{}, fmt.Errorf("-o %s: %w", out, err)
	case st.IsDir():
		return outputTarget{}, fmt.Errorf("-o %s: is a directory", out)
	case st.Mode().IsRegular():
		return outputTarget{path: resolved, shown: out}, nil
	default:
		return outputTarget{path: resolved, special: true, shown: out}, nil
	}
}

// downloadTo downloads and verifies the target, then delivers it to dst.
// A regular file appears only once verified (atomically, by rename). For
// standard output and special files the target is first verified into a
// private temporary file, so that no unverified byte is ever written there.
// Cancelling ctx stops every step, including an open or a write that blocks
// on a FIFO nobody reads, and leaves no temporary file.
func downloadTo(ctx context.Context, c *client.Client, info client.TargetInfo, dst outputTarget, stdout io.Writer, progress io.Writer) (downloaded bool, err error) {
	return deliverTarget(ctx, dst, stdout, func(path string) (bool, error) {
		return c.DownloadFileProgress(ctx, info, path, progress)
	})
}

// deliverTarget has fetch write the verified target to a regular file,
// dst's own when dst is one, and otherwise to a private temporary file
// that it then copies to standard output or into the special file.
func deliverTarget(ctx context.Context, dst outputTarget, stdout io.Writer, fetch func(path string) (bool, error)) (downloaded bool, err error) {
	if !dst.stdout && !dst.special {
		return fetch(dst.path)
	}
	tmpDir, err := os.MkdirTemp("", "rampart-get-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "target")
	if _, err := fetch(tmp); err != nil {
		return false, err
	}
	src, err := os.Open(tmp)
	if err != nil {
		return false, err
	}
	defer src.Close()
	if dst.stdout {
		return true, copyCtx(ctx, stdout, src, nil)
	}
	f, err := openForWriteCtx(ctx, dst.path)
	if err != nil {
		return false, fmt.Errorf("-o %s: %w", dst.shown, err)
	}
	if err := copyCtx(ctx, f, src, f); err != nil {
		f.Close()
		return false, fmt.Errorf("-o %s: %w", dst.shown, err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("-o %s: %w", dst.shown, err)
	}
	return true, nil
}

// openForWriteCtx opens an existing special file for writing. Opening a FIFO
// blocks until a reader comes; cancelling ctx gives up the wait.
func openForWriteCtx(ctx context.Context, name string) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := os.OpenFile(name, os.O_WRONLY, 0)
		done <- result{f, err}
	}()
	select {
	case r := <-done:
		return r.f, r.err
	case <-ctx.Done():
		go func() { // close the file should the open still succeed
			if r := <-done; r.f != nil {
				r.f.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// copyCtx copies src to w until done or ctx is cancelled. When ctx is
// cancelled during a write that blocks (a full pipe), closer is closed to
// unblock it.
func copyCtx(ctx context.Context, w io.Writer, src io.Reader, closer io.Closer) error {
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(w, src)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if closer != nil {
			closer.Close()
		}
		return ctx.Err()
	}
}

// plural returns "1 key", "2 keys": n and the noun, in the plural unless n
// is 1. Nouns whose plural is not noun+"s" pass it as plural[0].
func plural[N int | int64](n N, noun string, plurals ...string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	if len(plurals) > 0 {
		return fmt.Sprintf("%d %s", n, plurals[0])
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// internalPrefixes are package names that libraries put at the start of
// their errors ("keystore: wrong passphrase"); they mean nothing to a user.
var internalPrefixes = []string{"apiclient: ", "keystore: ", "keys: ", "signerd: ", "client: "}

// userMessage removes internalPrefixes from an error message, where they
// start it or one of its ": "-separated parts.
func userMessage(msg string) string {
	for _, p := range internalPrefixes {
		msg = strings.TrimPrefix(msg, p)
		msg = strings.ReplaceAll(msg, ": "+p, ": ")
	}
	return msg
}
