package quickstart

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := Run(context.Background(), &out, dir, false); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"root v1: signed", "snapshot v1: matches", "target hello.txt: 13 bytes", "ok: every signature"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left %d entries behind", len(entries))
	}
}

// TestVerifyCatchesTampering keeps the repository and changes a target.
func TestVerifyCatchesTampering(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := Run(context.Background(), &out, dir, true); err != nil {
		t.Fatal(err)
	}
	work, _ := filepath.Glob(filepath.Join(dir, "rampart-quickstart-*"))
	files, _ := filepath.Glob(filepath.Join(work[0], "targets", "*.hello.txt"))
	if len(files) != 1 {
		t.Fatalf("target files: %v", files)
	}
	if err := os.WriteFile(files[0], []byte("evil\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := verify(&out, work[0], time.Now())
	if err == nil || !strings.Contains(err.Error(), "hello.txt") {
		t.Fatalf("tampered target passed: %v", err)
	}
}
