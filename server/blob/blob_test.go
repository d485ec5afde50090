package blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/server/blob"
	"github.com/rampart-tuf/rampart/server/blob/blobtest"
)

func TestDirConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		d, err := blob.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

// TestCopy copies a directory of blobs into another store: what the
// destination lacks is copied, what it has is counted, and a file whose
// content is not its name is reported and not copied.
func TestCopy(t *testing.T) {
	ctx := context.Background()
	srcDir := t.TempDir()
	src, err := blob.OpenDir(srcDir)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := blob.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, b := blobtest.Content(3000, 1), blobtest.Content(10, 2)
	for _, c := range [][]byte{a, b} {
		if _, err := src.Put(ctx, bytes.NewReader(c), int64(len(c)), blobtest.SHA256(c)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := dst.Put(ctx, bytes.NewReader(b), int64(len(b)), blobtest.SHA256(b)); err != nil {
		t.Fatal(err)
	}
	bad := strings.Repeat("cd", 32)
	if err := os.MkdirAll(filepath.Join(srcDir, "sha256", "cd"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(srcDir, "sha256", "cd", bad), []byte("not its name"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := blob.Copy(ctx, dst, src)
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != 1 || res.Present != 1 || len(res.Bad) != 1 || res.Bad[0] != bad {
		t.Fatalf("Copy = %+v, want 1 copied, 1 present, %s bad", res, bad)
	}
	got, err := dst.Open(ctx, blobtest.SHA256(a))
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if data, _ := io.ReadAll(got); !bytes.Equal(data, a) {
		t.Error("copied content differs")
	}
	if _, err := dst.Open(ctx, bad); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the damaged blob reached the destination: %v", err)
	}
}
