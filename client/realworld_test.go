package client_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/trust"
)

// Sigstore's root of trust, as published (testdata/sigstore/README.md):
// a key ID that is not the hash of its key (root version 11: the online key
// keeps its ID while its key object changes; version 12 lists it under its
// hash),
// expiries with offsets and fractions (versions 1 to 3), legacy hex ECDSA
// keys (1 to 4) and PEM keys under both ECDSA key type names, spec_version
// "1.0", tuf-on-ci's extra members, signatures with an empty value, a switch
// to consistent snapshots at version 5, and snapshots that list roles no
// delegation reaches (rekor, revocation, staging, even root.json).

const sigstoreData = "testdata/sigstore"

// fileServer serves a fixed set of files on loopback and records requests.
type fileServer struct {
	files map[string][]byte // URL path to content
	mu    sync.Mutex
	log   []string
}

func (f *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.log = append(f.log, r.URL.Path)
	f.mu.Unlock()
	data, ok := f.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(data)
}

func (f *fileServer) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

// serveSigstore serves root versions first..last and the metadata and
// targets of one era of the repository.
func serveSigstore(t *testing.T, last int, era string) (*fileServer, string) {
	t.Helper()
	fs := &fileServer{files: map[string][]byte{}}
	for v := 1; v <= last; v++ {
		name := filepath.Join(sigstoreData, "roots", strconv.Itoa(v)+".root.json")
		fs.files["/metadata/"+strconv.Itoa(v)+".root.json"] = readFile(t, name)
	}
	base := filepath.Join(sigstoreData, era)
	err := filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		fs.files["/"+filepath.ToSlash(rel)] = readFile(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fs)
	t.Cleanup(srv.Close)
	return fs, srv.URL
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func sigstoreClient(t *testing.T, url string, firstRoot int, now time.Time, strict bool) (*client.Client, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "metadata")
	if err := client.Init(dir, readFile(t, filepath.Join(sigstoreData, "roots", strconv.Itoa(firstRoot)+".root.json"))); err != nil {
		t.Fatalf("init with root version %d: %v", firstRoot, err)
	}
	c, err := client.New(client.Config{MetadataURL: url + "/metadata", TargetsURL: url + "/targets", Dir: dir,
		Now: func() time.Time { return now }, StrictKeyIDs: strict})
	if err != nil {
		t.Fatal(err)
	}
	return c, dir
}

// download looks targetPath up and downloads it, and checks it against the
// published file.
func download(t *testing.T, c *client.Client, targetPath, published string) client.TargetInfo {
	t.Helper()
	ctx := context.Background()
	info, err := c.Target(ctx, targetPath)
	if err != nil {
		t.Fatalf("Target(%s): %v", targetPath, err)
	}
	var buf bytes.Buffer
	if err := c.Download(ctx, info, &buf); err != nil {
		t.Fatalf("Download(%s): %v", targetPath, err)
	}
	if !bytes.Equal(buf.Bytes(), readFile(t, published)) {
		t.Fatalf("%s differs from %s", targetPath, published)
	}
	return info
}

func trustedRootVersion(t *testing.T, dir string) int64 {
	t.Helper()
	root, err := metadata.ParseRoot(readFile(t, filepath.Join(dir, "root.json")))
	if err != nil {
		t.Fatal(err)
	}
	return root.Signed.Version
}

func TestSigstoreRootChain(t *testing.T) {
	era := filepath.Join(sigstoreData, "2026-08-21")
	now := time.Date(2026, 8, 21, 20, 0, 0, 0, time.UTC) // the published timestamp is current
	// From the first root, and from version 5, where python-tuf starts.
	for _, first := range []int{1, 5, 14} {
		fs, url := serveSigstore(t, 15, "2026-08-21")
		c, dir := sigstoreClient(t, url, first, now, false)
		if err := c.Refresh(context.Background()); err != nil {
			t.Fatalf("from root version %d: %v", first, err)
		}
		if v := trustedRootVersion(t, dir); v != 15 {
			t.Fatalf("from root version %d: trusted root is version %d, want 15", first, v)
		}
		if !bytes.Equal(readFile(t, filepath.Join(dir, "root.json")), readFile(t, filepath.Join(sigstoreData, "roots", "15.root.json"))) {
			t.Fatal("trusted root.json is not 15.root.json byte for byte")
		}
		info := download(t, c, "trusted_root.json", filepath.Join(era, "targets", "6494e21ea73fa7ee769f85f57d5a3e6a08725eae1e38c755fc3517c9e6bc0b66.trusted_root.json"))
		if info.Role != "targets" {
			t.Errorf("trusted_root.json listed by %s", info.Role)
		}
		info = download(t, c, "registry.npmjs.org/keys.json", filepath.Join(era, "targets", "registry.npmjs.org", "160677eb6e1c7083c89b166b20f8fe4e837fb71181506aff1991b80b89184f7d.keys.json"))
		if info.Role != "registry.npmjs.org" {
			t.Errorf("keys.json listed by %s", info.Role)
		}
		list, err := c.ListTargets(context.Background(), 0)
		if err != nil || len(list) != 12 {
			t.Fatalf("ListTargets: %d targets, %v; want 12", len(list), err)
		}
		// Consistent snapshots: versioned metadata names; the retired roles
		// the snapshot still lists are never asked for.
		reqs := fs.requests()
		for _, want := range []string{"/metadata/165.snapshot.json", "/metadata/14.targets.json", "/metadata/8.registry.npmjs.org.json"} {
			if !slices.Contains(reqs, want) {
				t.Errorf("from root version %d: %s not fetched (requests %v)", first, want, reqs)
			}
		}
		for _, r := range reqs {
			for _, retired := range []string{"rekor.json", "revocation.json", "staging.json", "/metadata/root.json", "/metadata/snapshot.json", "/metadata/targets.json"} {
				if strings.HasSuffix(r, retired) || r == retired {
					t.Errorf("from root version %d: fetched %s", first, r)
				}
			}
		}
	}
}

// The strict key ID rule refuses the chain at version 11, the first root that
// lists a key under an ID that is not its hash, and keeps version 10.
func TestSigstoreRootChainStrictKeyIDs(t *testing.T) {
	_, url := serveSigstore(t, 15, "2026-08-21")
	c, dir := sigstoreClient(t, url, 1, time.Date(2026, 8, 21, 20, 0, 0, 0, time.UTC), true)
	err := c.Refresh(context.Background())
	var ke *metadata.KeyIDError
	if !errors.As(err, &ke) || !strings.HasPrefix(err.Error(), "11.root.json: key IDs check failed") {
		t.Fatalf("got %v, want 11.root.json refused for its key IDs", err)
	}
	if v := trustedRootVersion(t, dir); v != 10 {
		t.Fatalf("trusted root is version %d, want 10", v)
	}
	// Init refuses such a root as the trusted one.
	if err := client.InitWithOptions(t.TempDir(), readFile(t, filepath.Join(sigstoreData, "roots", "11.root.json")), trust.Options{StrictKeyIDs: true}); !errors.As(err, &ke) {
		t.Fatalf("InitWithOptions(strict, 11.root.json) = %v", err)
	}
}

// The repository before consistent snapshots (root version 2): unversioned
// metadata and target names, expiries with offsets and fractions, hex ECDSA
// keys, a delegation to a terminating role.
func TestSigstoreEarlyRepository(t *testing.T) {
	fs, url := serveSigstore(t, 2, "2022-03-08")
	era := filepath.Join(sigstoreData, "2022-03-08")
	c, dir := sigstoreClient(t, url, 1, time.Date(2022, 3, 8, 12, 0, 0, 0, time.UTC), false)
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := trustedRootVersion(t, dir); v != 2 {
		t.Fatalf("trusted root is version %d, want 2", v)
	}
	download(t, c, "fulcio_v1.crt.pem", filepath.Join(era, "targets", "fulcio_v1.crt.pem"))
	info := download(t, c, "rekor.0.pub", filepath.Join(era, "targets", "rekor.0.pub"))
	if info.Role != "rekor" {
		t.Errorf("rekor.0.pub listed by %s", info.Role)
	}
	reqs := fs.requests()
	for _, want := range []string{"/metadata/snapshot.json", "/metadata/targets.json", "/metadata/rekor.json", "/targets/rekor.0.pub"} {
		if !slices.Contains(reqs, want) {
			t.Errorf("%s not fetched (requests %v)", want, reqs)
		}
	}
	if slices.Contains(reqs, "/metadata/staging.json") {
		t.Error("staging.json fetched, past a terminating delegation")
	}
	// Root version 2 expires at 2022-05-11T19:09:02.663975009Z: a client
	// a second later refuses it.
	c, _ = sigstoreClient(t, url, 1, time.Date(2022, 5, 11, 19, 9, 3, 0, time.UTC), false)
	if err := c.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "root.json: expired at 2022-05-11T19:09:02Z") {
		t.Fatalf("got %v, want root.json expired", err)
	}
}
