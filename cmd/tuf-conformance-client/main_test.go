package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/internal/repotest"
)

// TestProtocol drives the executable's entry point as the conformance
// harness does, against a repository served on loopback.
func TestProtocol(t *testing.T) {
	ctx := context.Background()
	repo := repotest.New(t)
	repo.AddTarget("targets", "dir/file.txt", []byte("content"))
	repo.AddTarget("targets", "other", []byte("other"))
	repo.Publish()
	srv := repo.Serve()
	tmp := t.TempDir()
	rootFile := filepath.Join(tmp, "root.json")
	os.WriteFile(rootFile, repo.RootBytes(1), 0o644)
	md, td := filepath.Join(tmp, "metadata"), filepath.Join(tmp, "targets")
	var stderr bytes.Buffer
	runArgs := func(args ...string) int { return run(ctx, args, &stderr) }

	if code := runArgs("--metadata-dir", md, "init", rootFile); code != 0 {
		t.Fatalf("init: %d %s", code, stderr.String())
	}
	if n := len(repo.Requests); n != 0 {
		t.Fatalf("init made %d requests", n)
	}
	if code := runArgs("--metadata-url", srv.URL+"/metadata", "--metadata-dir", md, "refresh"); code != 0 {
		t.Fatalf("refresh: %d %s", code, stderr.String())
	}
	entries, _ := os.ReadDir(md)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, ","); got != "root.json,snapshot.json,targets.json,timestamp.json" {
		t.Fatalf("metadata dir holds %s", got)
	}
	dl := []string{"--metadata-dir", md, "--metadata-url", srv.URL + "/metadata", "--target-name", "dir/file.txt", "--target-name", "other", "--target-base-url", srv.URL + "/targets", "--target-dir", td, "download"}
	for range 2 {
		if code := runArgs(dl...); code != 0 {
			t.Fatalf("download: %d %s", code, stderr.String())
		}
	}
	if data, _ := os.ReadFile(filepath.Join(td, "dir%2Ffile.txt")); string(data) != "content" {
		t.Fatalf("target file holds %q", data)
	}
	info := repo.Targets["targets"].Signed.Targets["dir/file.txt"]
	if n := repo.RequestCount("/targets/" + info.ConsistentPath("dir/file.txt")); n != 1 {
		t.Fatalf("target fetched %d times, want once", n)
	}

	// Failures exit 1, never 2 or a panic.
	for _, args := range [][]string{
		{"refresh"},
		{"--metadata-dir", md, "bogus"},
		{"--no-such-flag"},
		{"--metadata-dir", md, "--metadata-url", srv.URL + "/metadata", "--target-name", "missing", "--target-base-url", srv.URL + "/targets", "--target-dir", td, "download"},
		{"--metadata-dir", filepath.Join(tmp, "empty"), "--metadata-url", srv.URL + "/metadata", "refresh"},
	} {
		if code := runArgs(args...); code != 1 {
			t.Errorf("%q: exit %d, want 1", args, code)
		}
	}
}

func TestFaketime(t *testing.T) {
	repo := repotest.New(t)
	srv := repo.Serve()
	tmp := t.TempDir()
	rootFile := filepath.Join(tmp, "root.json")
	os.WriteFile(rootFile, repo.RootBytes(1), 0o644)
	md := filepath.Join(tmp, "metadata")
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"--metadata-dir", md, "init", rootFile}, &stderr); code != 0 {
		t.Fatal(stderr.String())
	}
	t.Setenv("FAKETIME", "@"+repo.Expires.Add(time.Hour).Local().Format("2006-01-02 15:04:05"))
	code := run(context.Background(), []string{"--metadata-dir", md, "--metadata-url", srv.URL + "/metadata", "refresh"}, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "expired") {
		t.Fatalf("refresh after expiry under FAKETIME: exit %d, %s", code, stderr.String())
	}
}
