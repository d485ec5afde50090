package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.json")
	for i, c := range []struct {
		data string
		perm os.FileMode
	}{{"first", 0o644}, {"second, longer", 0o600}, {"", 0o640}} {
		if err := WriteFile(p, []byte(c.data), c.perm); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != c.data {
			t.Fatalf("write %d: read %q, %v; want %q", i, got, err, c.data)
		}
		st, _ := os.Stat(p)
		if st.Mode().Perm() != c.perm {
			t.Errorf("write %d: mode %v, want %v", i, st.Mode().Perm(), c.perm)
		}
		if names := entries(t, dir); len(names) != 1 {
			t.Errorf("write %d: directory holds %v, want only f.json", i, names)
		}
	}
}

func TestWriteNewFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k.key")
	if err := WriteNewFile(p, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteNewFile(p, []byte("other"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second WriteNewFile: %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "secret" {
		t.Errorf("the existing file was changed to %q", got)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v, want only k.key", names)
	}
}

// TestNotRegular checks that nothing but a regular file is replaced, and
// that what is there stays as it was.
func TestNotRegular(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		make func(p string) error
	}{
		{"symlink", func(p string) error { return os.Symlink(target, p) }},
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }},
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			if err := c.make(p); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Lstat(p)
			if err := WriteFile(p, []byte("new"), 0o644); !errors.Is(err, ErrNotRegular) {
				t.Fatalf("WriteFile over a %s: %v, want ErrNotRegular", c.name, err)
			}
			if _, err := Create(p, 0o644); !errors.Is(err, ErrNotRegular) {
				t.Fatalf("Create over a %s: %v, want ErrNotRegular", c.name, err)
			}
			after, err := os.Lstat(p)
			if err != nil || after.Mode() != before.Mode() {
				t.Errorf("the %s changed: %v, %v", c.name, after, err)
			}
			if got, _ := os.ReadFile(target); string(got) != "keep" {
				t.Errorf("written through the %s: %q", c.name, got)
			}
			for _, n := range entries(t, dir) {
				if strings.HasPrefix(n, TempPrefix) {
					t.Errorf("temporary file %s left behind", n)
				}
			}
		})
	}
}

// TestAbort checks that an aborted file leaves the old content and no
// temporary file, and that a file made a symlink while being written is
// not replaced.
func TestAbort(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Create(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("half"))
	f.Abort()
	f.Abort()
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Errorf("after Abort: %q, want old", got)
	}
	if err := f.Commit(); err == nil {
		t.Error("Commit after Abort succeeded")
	}

	f, err = Create(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	f.Write([]byte("new"))
	os.Remove(p)
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), p); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Commit over a symlink made meanwhile: %v, want ErrNotRegular", err)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v, want only f", names)
	}
}
