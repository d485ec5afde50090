package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/blob"
	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/bolt"
	"github.com/rampart-tuf/rampart/server/store/postgres"
	"github.com/rampart-tuf/rampart/server/store/postgres/pgtest"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

var pg *pgtest.Server

func TestMain(m *testing.M) {
	if addr := os.Getenv(envCrashChild); addr != "" {
		err := serveCrashChild(addr)
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(pgtest.Main(m, &pg))
}

// forEachStore runs fn against the embedded store and PostgreSQL.
func forEachStore(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, kind := range []string{"bolt", "postgres"} {
		t.Run(kind, func(t *testing.T) { fn(t, kind) })
	}
}

func openStore(t testing.TB, kind string) store.Store {
	t.Helper()
	var st store.Store
	var err error
	switch kind {
	case "bolt":
		st, err = bolt.Open(filepath.Join(t.TempDir(), "rampart.db"))
	case "postgres":
		st, err = postgres.Open(context.Background(), pg.NewDatabase(t))
	default:
		t.Fatalf("unknown store %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newBlobs returns the blob store that rampart serve uses by default with
// st: the database's for PostgreSQL, a directory otherwise.
func newBlobs(t testing.TB, st store.Store) blob.Store {
	t.Helper()
	if pgs, ok := st.(*postgres.Store); ok {
		return pgs.Blobs()
	}
	d, err := blob.OpenDir(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// testServer is a running server with an admin token.
type testServer struct {
	*server.Server
	URL   string
	Admin string
	Store store.Store
	Blobs blob.Store
	http  *httptest.Server
}

type option func(*server.Config)

func newServer(t testing.TB, st store.Store, opts ...option) *testServer {
	t.Helper()
	secret := bytes.Repeat([]byte{7}, 32)
	sg, err := signer.NewLocal(st, secret)
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{Store: st, Signer: sg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.Blobs == nil {
		cfg.Blobs = newBlobs(t, st)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	hs := httptest.NewUnstartedServer(nil)
	hs.Config = srv.HTTPServer()
	hs.Start()
	t.Cleanup(func() { hs.Close(); cancel(); <-done })
	tok, hash := auth.NewToken()
	if err := st.CreateToken(context.Background(), store.Token{Hash: hash, Scope: "admin"}); err != nil {
		t.Fatal(err)
	}
	return &testServer{Server: srv, URL: hs.URL, Admin: tok, Store: st, Blobs: cfg.Blobs, http: hs}
}

// request sends a request with an optional token and returns the status
// and body.
func request(t *testing.T, method, url, token string, body io.Reader, header ...string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// apiError is the JSON error body.
type apiError struct {
	Error string `json:"error"`
	Role  string `json:"role"`
	Check string `json:"check"`
}

// signer makes an in-memory ed25519 signer.
func newSigner(t testing.TB) keys.Signer {
	t.Helper()
	priv, err := keys.Generate(keys.KeyTypeEd25519)
	if err != nil {
		t.Fatal(err)
	}
	s, err := keys.NewSigner(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// maintainer holds a repository's offline keys and builds its metadata.
type maintainer struct {
	t       testing.TB
	ts      *testServer
	gun     string
	token   string
	root    keys.Signer
	targets keys.Signer
	deleg   keys.Signer
	snap    keys.Signer // nil: the server signs snapshot
	online  map[string]*metadata.Key
	expires time.Time
}

func newMaintainer(t testing.TB, ts *testServer, gun string) *maintainer {
	m := &maintainer{t: t, ts: ts, gun: gun, token: ts.Admin, root: newSigner(t), targets: newSigner(t), deleg: newSigner(t),
		online: map[string]*metadata.Key{}, expires: time.Now().Add(365 * 24 * time.Hour)}
	m.create()
	for _, role := range []string{"timestamp", "snapshot"} {
		m.online[role] = m.onlineKey(role)
	}
	return m
}

// create creates the repository on the server (POST
// /api/v1/repositories/GUN).
func (m *maintainer) create() {
	m.t.Helper()
	req, _ := http.NewRequest("POST", m.ts.URL+"/api/v1/repositories/"+m.gun, nil)
	req.Header.Set("Authorization", "Bearer "+m.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		m.t.Fatalf("creating %s: %d %s", m.gun, resp.StatusCode, b)
	}
}

func (m *maintainer) onlineKey(role string) *metadata.Key {
	m.t.Helper()
	req, _ := http.NewRequest("GET", m.ts.URL+"/api/v1/repositories/"+m.gun+"/keys/"+role, nil)
	req.Header.Set("Authorization", "Bearer "+m.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		KeyID string `json:"keyid"`
		Key   struct {
			KeyType string `json:"keytype"`
			Scheme  string `json:"scheme"`
			KeyVal  struct {
				Public string `json:"public"`
			} `json:"keyval"`
		} `json:"key"`
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		m.t.Fatalf("GET %s key: %d %s", role, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		m.t.Fatal(err)
	}
	k := metadata.NewKey(keys.PublicKey{Type: out.Key.KeyType, Scheme: out.Key.Scheme, Value: out.Key.KeyVal.Public})
	if k.ID() != out.KeyID {
		m.t.Fatalf("key ID %s does not match the key (%s)", out.KeyID, k.ID())
	}
	return k
}

func sign[T metadata.Role](t testing.TB, doc T, signers ...keys.Signer) []byte {
	t.Helper()
	md := metadata.New(doc)
	for _, s := range signers {
		if _, err := md.Sign(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	b, err := md.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rootDoc builds a root of the given version.
func (m *maintainer) rootDoc(version int64) *metadata.Root {
	r := metadata.NewRoot(m.expires)
	r.Version = version
	must(m.t, r.AddKey("root", metadata.NewKey(m.root.PublicKey())))
	must(m.t, r.AddKey("targets", metadata.NewKey(m.targets.PublicKey())))
	must(m.t, r.AddKey("timestamp", m.online["timestamp"]))
	if m.snap != nil {
		must(m.t, r.AddKey("snapshot", metadata.NewKey(m.snap.PublicKey())))
	} else {
		must(m.t, r.AddKey("snapshot", m.online["snapshot"]))
	}
	return r
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// targetsDoc builds targets metadata listing files (path → content).
func (m *maintainer) targetsDoc(version int64, files map[string]string) *metadata.Targets {
	tg := metadata.NewTargets(m.expires)
	tg.Version = version
	for p, c := range files {
		tg.Targets[p] = metadata.NewTargetFile([]byte(c), false)
	}
	return tg
}

// delegate makes tg delegate "delegated/*" to role with m.deleg.
func (m *maintainer) delegate(tg *metadata.Targets, role string) {
	k := metadata.NewKey(m.deleg.PublicKey())
	tg.Delegations = &metadata.Delegations{
		Keys:  map[string]*metadata.Key{k.ID(): k},
		Roles: []metadata.DelegatedRole{{Name: role, KeyIDs: []string{k.ID()}, Threshold: 1, Paths: []string{"delegated/*"}}},
	}
}

// body builds a publish request body.
func body(docs map[string][]byte) []byte {
	roles := map[string]json.RawMessage{}
	for k, v := range docs {
		roles[k] = v
	}
	b, _ := json.Marshal(map[string]any{"roles": roles})
	return b
}

// publish posts docs and returns the status and the decoded body.
func (m *maintainer) publish(docs map[string][]byte, header ...string) (int, apiError, server.PublishResult) {
	m.t.Helper()
	return publishTo(m.t, m.ts.URL, m.token, m.gun, body(docs), header...)
}

func publishTo(t testing.TB, url, token, gun string, b []byte, header ...string) (int, apiError, server.PublishResult) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/api/v1/repositories/"+gun+"/metadata", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var e apiError
	var res server.PublishResult
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Fatalf("publish response %q: %v", raw, err)
		}
	} else if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("error response %d %q is not JSON: %v", resp.StatusCode, raw, err)
	}
	return resp.StatusCode, e, res
}

// mustPublish publishes and fails the test unless it succeeds.
func (m *maintainer) mustPublish(docs map[string][]byte) server.PublishResult {
	m.t.Helper()
	code, e, res := m.publish(docs)
	if code != 200 {
		m.t.Fatalf("publish: %d %+v", code, e)
	}
	return res
}

// upload stores target content on the server.
func (m *maintainer) upload(path, content string) {
	m.t.Helper()
	code, b, _ := request(m.t.(*testing.T), "PUT", m.ts.URL+"/api/v1/repositories/"+m.gun+"/targets/"+path, m.token,
		strings.NewReader(content), "X-Rampart-Sha256", sha256hex(content))
	if code != http.StatusCreated {
		m.t.Fatalf("upload %s: %d %s", path, code, b)
	}
}

// client is a go-tuf v2 client of a repository.
type client struct {
	t   testing.TB
	cfg *config.UpdaterConfig
}

func newClient(t testing.TB, base, gun string, root []byte) *client {
	t.Helper()
	u := base + "/tuf/" + gun
	cfg, err := config.New(u+"/metadata", root)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RemoteTargetsURL = u + "/targets"
	dir := t.TempDir()
	cfg.LocalMetadataDir = filepath.Join(dir, "metadata")
	cfg.LocalTargetsDir = filepath.Join(dir, "targets")
	must(t, cfg.EnsurePathsExist())
	return &client{t: t, cfg: cfg}
}

// refresh runs the client's update workflow.
func (c *client) refresh() (*updater.Updater, error) {
	up, err := updater.New(c.cfg)
	if err != nil {
		return nil, err
	}
	return up, up.Refresh()
}

// fetch refreshes and downloads a target, returning its content.
func (c *client) fetch(path string) (string, error) {
	up, err := c.refresh()
	if err != nil {
		return "", fmt.Errorf("refresh: %w", err)
	}
	ti, err := up.GetTargetInfo(path)
	if err != nil {
		return "", fmt.Errorf("target info %s: %w", path, err)
	}
	_, data, err := up.DownloadTarget(ti, filepath.Join(c.t.TempDir(), "dl"), "")
	if err != nil {
		return "", fmt.Errorf("download %s: %w", path, err)
	}
	return string(data), nil
}
