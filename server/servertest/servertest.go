// Package servertest starts a real Rampart metadata server on loopback,
// for tests of the packages that talk to one, and plays a repository's
// maintainer against it. It is for tests only.
//
// The server runs in-process, by default on an embedded store with online
// keys held by an in-process signer, and is stopped when the test ends.
// [OpenStore] opens either store ("bolt" or "postgres", the latter in a new
// database of a [pgtest.Server]); [WithStore] runs the server on it.
package servertest

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
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

// Server is a running metadata server.
type Server struct {
	// URL is the server's base URL, such as "http://127.0.0.1:34567".
	URL string
	// Admin is a bearer token with admin scope over every GUN.
	Admin string
	// Store is the server's store; tests may read and write it directly.
	Store store.Store
	// Blobs holds the server's target content.
	Blobs blob.Store
	// Server is the metadata server itself.
	Server *server.Server
	// Client talks to the server: it trusts the server's certificate
	// when the server speaks TLS (StartTLS).
	Client *http.Client
	// CAFile is a PEM file of the certificate of a server started with
	// StartTLS, for clients in other processes; empty otherwise.
	CAFile string
}

// secret seals the online keys of every test server; it is not secret.
var secret = bytes.Repeat([]byte{7}, 32)

// Stores are the kinds of store OpenStore opens.
var Stores = []string{"bolt", "postgres"}

// OpenStore opens a new, empty store of kind "bolt" (under t.TempDir())
// or "postgres" (a new database of pg, which must then be running), closed
// when the test ends.
func OpenStore(t testing.TB, kind string, pg *pgtest.Server) store.Store {
	t.Helper()
	var st store.Store
	var err error
	switch kind {
	case "bolt":
		st, err = bolt.Open(filepath.Join(t.TempDir(), "rampart.db"))
	case "postgres":
		if pg == nil {
			t.Fatal("servertest: a postgres store needs a running pgtest.Server")
		}
		st, err = postgres.Open(context.Background(), pg.NewDatabase(t))
	default:
		t.Fatalf("servertest: unknown store %q: want bolt or postgres", kind)
	}
	if err != nil {
		t.Fatalf("servertest: opening the %s store: %v", kind, err)
	}
	t.Cleanup(func() { st.Close() }) // runs after the server is stopped
	return st
}

// WithStore runs the server on st.
func WithStore(st store.Store) func(*server.Config) {
	return func(c *server.Config) { c.Store = st }
}

// Start starts a server over plain HTTP and creates an admin token in its
// store. opts change the server's configuration first; what they leave
// unset is filled in: an embedded store under t.TempDir(), an in-process
// signer over the store, the store's blob store (PostgreSQL's own, or a
// directory under t.TempDir()) and a logger that discards. Everything is
// stopped by t.Cleanup.
func Start(t testing.TB, opts ...func(*server.Config)) *Server {
	t.Helper()
	return start(t, false, opts)
}

// StartTLS is Start over HTTPS with a certificate of httptest's.
func StartTLS(t testing.TB, opts ...func(*server.Config)) *Server {
	t.Helper()
	return start(t, true, opts)
}

func start(t testing.TB, useTLS bool, opts []func(*server.Config)) *Server {
	t.Helper()
	cfg := newConfig(t, opts)
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	hs := httptest.NewUnstartedServer(nil)
	hs.Config = srv.HTTPServer()
	s := &Server{Store: cfg.Store, Blobs: cfg.Blobs, Server: srv}
	if useTLS {
		hs.StartTLS()
		s.CAFile = filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(s.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}), 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		hs.Start()
	}
	t.Cleanup(func() { hs.Close(); cancel(); <-done })
	s.URL = hs.URL
	s.Client = hs.Client()
	s.Client.Timeout = 30 * time.Second
	s.Admin = s.Token(t, "admin", "")
	return s
}

// newConfig applies opts and fills in what they leave unset.
func newConfig(t testing.TB, opts []func(*server.Config)) server.Config {
	t.Helper()
	var cfg server.Config
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.Store == nil {
		cfg.Store = OpenStore(t, "bolt", nil)
	}
	if cfg.Signer == nil {
		sg, err := signer.NewLocal(cfg.Store, secret)
		if err != nil {
			t.Fatalf("servertest: signer: %v", err)
		}
		cfg.Signer = sg
	}
	if cfg.Blobs == nil {
		if pg, ok := cfg.Store.(*postgres.Store); ok {
			cfg.Blobs = pg.Blobs()
		} else {
			blobs, err := blob.OpenDir(filepath.Join(t.TempDir(), "blobs"))
			if err != nil {
				t.Fatalf("servertest: blob store: %v", err)
			}
			cfg.Blobs = blobs
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// Token creates a token with scope ("pull", "push" or "admin") over the
// GUNs under gunPrefix (empty: all) straight in the store, and returns it.
func (s *Server) Token(t testing.TB, scope, gunPrefix string) string {
	t.Helper()
	if _, err := auth.ParseScope(scope); err != nil {
		t.Fatalf("servertest: %v", err)
	}
	tok, hash := auth.NewToken()
	err := s.Store.CreateToken(context.Background(), store.Token{Hash: hash, GUNPrefix: gunPrefix, Scope: scope, Description: "servertest"})
	if err != nil {
		t.Fatalf("servertest: creating a %s token: %v", scope, err)
	}
	return tok
}

// Do sends a request to the server's path with the token (if not empty)
// and the header's name-value pairs, and returns the status, body and
// header of the answer.
func (s *Server) Do(t testing.TB, method, path, token string, body []byte, header ...string) (int, []byte, http.Header) {
	t.Helper()
	return Do(t, s.client(), method, s.URL+path, token, body, header...)
}

func (s *Server) client() *http.Client {
	if s.Client == nil { // a Server made by hand, for a server in another process
		return http.DefaultClient
	}
	return s.Client
}

// Do sends a request with c (see Server.Do).
func Do(t testing.TB, c *http.Client, method, url, token string, body []byte, header ...string) (int, []byte, http.Header) {
	t.Helper()
	return DoReader(t, c, method, url, token, bytes.NewReader(body), header...)
}

// DoReader is Do with the body read from a reader: one that is not a
// *bytes.Reader (or other type net/http knows the length of) is sent
// chunked, without a declared length.
func DoReader(t testing.TB, c *http.Client, method, url, token string, body io.Reader, header ...string) (int, []byte, http.Header) {
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
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := readAll(resp)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return resp.StatusCode, b, resp.Header
}

func readAll(resp *http.Response) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(resp.Body)
	return b.Bytes(), err
}

// must fails the test on an error.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(fmt.Errorf("servertest: %w", err))
	}
}
