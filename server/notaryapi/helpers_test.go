package notaryapi_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/blob"
	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/bolt"
	"github.com/rampart-tuf/rampart/server/store/postgres"
	"github.com/rampart-tuf/rampart/server/store/postgres/pgtest"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

// stores are the stores every test runs on.
var stores = []string{"bolt", "postgres"}

// testServer is `rampart serve`'s server on loopback over TLS.
type testServer struct {
	URL    string
	CAFile string // PEM of the server's certificate, for the notary client
	Store  store.Store
	Server *server.Server
	client *http.Client
}

func startServer(t *testing.T, kind string, opts ...func(*server.Config)) *testServer {
	t.Helper()
	dir := t.TempDir()
	var st store.Store
	var blobs blob.Store
	var err error
	switch kind {
	case "bolt":
		if st, err = bolt.Open(filepath.Join(dir, "rampart.db")); err == nil {
			blobs, err = blob.OpenDir(filepath.Join(dir, "blobs"))
		}
	case "postgres":
		var ps *postgres.Store
		if ps, err = postgres.Open(context.Background(), pg.NewDatabase(t)); err == nil {
			st, blobs = ps, ps.Blobs()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sg, err := signer.NewLocal(st, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{Store: st, Signer: sg, Blobs: blobs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	hs := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); cancel(); <-done })
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	c := hs.Client()
	c.Timeout = 30 * time.Second
	return &testServer{URL: hs.URL, CAFile: ca, Store: st, Server: srv, client: c}
}

// token creates a token straight in the store.
func (s *testServer) token(t *testing.T, scope, prefix string) string {
	t.Helper()
	tok, hash := auth.NewToken()
	if err := s.Store.CreateToken(context.Background(), store.Token{Hash: hash, GUNPrefix: prefix, Scope: scope, Description: "test"}); err != nil {
		t.Fatal(err)
	}
	return tok
}

// do sends a request with the header "Authorization: auth" when auth is
// not empty, and returns the status, body and header.
func (s *testServer) do(t *testing.T, method, path, authz, contentType string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// doHeader is do with a body and extra header fields (name, value, ...).
func (s *testServer) doHeader(t *testing.T, method, path, authz string, body []byte, header ...string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// doWith sends a request without a body through c.
func (s *testServer) doWith(t *testing.T, c *http.Client, method, path string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}
