package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSigstoreRootOfTrust: the entry point follows Sigstore's published
// root chain from version 1 to 15 (key IDs as names, offset expiries, hex
// keys: docs/compatibility.md) and downloads targets through its
// delegation, at the reference time FAKETIME gives, as the harness would
// run it. The data is the client package's (client/testdata/sigstore).
func TestSigstoreRootOfTrust(t *testing.T) {
	data := filepath.Join("..", "..", "client", "testdata", "sigstore")
	files := map[string][]byte{}
	for v := 1; v <= 15; v++ {
		files["/metadata/"+strconv.Itoa(v)+".root.json"] = mustRead(t, filepath.Join(data, "roots", strconv.Itoa(v)+".root.json"))
	}
	era := filepath.Join(data, "2026-08-21")
	err := filepath.WalkDir(era, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(era, p)
		files["/"+filepath.ToSlash(rel)] = mustRead(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, ok := files[r.URL.Path]; ok {
			w.Write(b)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()

	tmp := t.TempDir()
	md, td := filepath.Join(tmp, "metadata"), filepath.Join(tmp, "targets")
	var stderr bytes.Buffer
	ctx := context.Background()
	if code := run(ctx, []string{"--metadata-dir", md, "init", filepath.Join(data, "roots", "1.root.json")}, &stderr); code != 0 {
		t.Fatalf("init: %s", stderr.String())
	}
	t.Setenv("FAKETIME", "@"+time.Date(2026, 8, 21, 20, 0, 0, 0, time.UTC).Local().Format("2006-01-02 15:04:05"))
	code := run(ctx, []string{"--metadata-dir", md, "--metadata-url", srv.URL + "/metadata", "--target-base-url", srv.URL + "/targets", "--target-dir", td,
		"--target-name", "trusted_root.json", "--target-name", "registry.npmjs.org/keys.json", "download"}, &stderr)
	if code != 0 {
		t.Fatalf("download: exit %d: %s", code, stderr.String())
	}
	if !bytes.Equal(mustRead(t, filepath.Join(md, "root.json")), files["/metadata/15.root.json"]) {
		t.Fatal("trusted root is not version 15")
	}
	for name, published := range map[string]string{
		"trusted_root.json":              "/targets/6494e21ea73fa7ee769f85f57d5a3e6a08725eae1e38c755fc3517c9e6bc0b66.trusted_root.json",
		"registry.npmjs.org%2Fkeys.json": "/targets/registry.npmjs.org/160677eb6e1c7083c89b166b20f8fe4e837fb71181506aff1991b80b89184f7d.keys.json",
	} {
		if !bytes.Equal(mustRead(t, filepath.Join(td, name)), files[published]) {
			t.Errorf("%s differs from the published target", name)
		}
	}
	// A week later the published timestamp has expired.
	t.Setenv("FAKETIME", "@"+time.Date(2026, 8, 28, 20, 0, 0, 0, time.UTC).Local().Format("2006-01-02 15:04:05"))
	stderr.Reset()
	if code := run(ctx, []string{"--metadata-dir", md, "--metadata-url", srv.URL + "/metadata", "refresh"}, &stderr); code != 1 || !strings.Contains(stderr.String(), "timestamp.json: expired") {
		t.Fatalf("refresh after the timestamp's expiry: exit %d, %s", code, stderr.String())
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
