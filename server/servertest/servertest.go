// Package servertest starts a real Rampart metadata server on loopback,
// for tests of the packages that talk to one. It is for tests only.
//
// The server runs in-process on an embedded store, with online keys held
// by an in-process signer, and is stopped when the test ends.
package servertest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/blob"
	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/bolt"
)

// Server is a running metadata server.
type Server struct {
	// URL is the server's base URL, such as "http://127.0.0.1:34567".
	URL string
	// Admin is a bearer token with admin scope over every GUN.
	Admin string
	// Store is the server's store; tests may read and write it directly.
	Store store.Store
	// Server is the metadata server itself.
	Server *server.Server
}

// secret seals the online keys of every test server; it is not secret.
var secret = bytes.Repeat([]byte{7}, 32)

// Start starts a server on an embedded store under t.TempDir(), with an
// in-process signer, target content under t.TempDir() and logs discarded,
// and creates an admin token in its store. opts may change the server's
// configuration before it is created. Everything is stopped by t.Cleanup.
func Start(t testing.TB, opts ...func(*server.Config)) *Server {
	t.Helper()
	dir := t.TempDir()
	st, err := bolt.Open(filepath.Join(dir, "rampart.db"))
	if err != nil {
		t.Fatalf("servertest: opening the store: %v", err)
	}
	t.Cleanup(func() { st.Close() }) // runs after the server is stopped
	sg, err := signer.NewLocal(st, secret)
	if err != nil {
		t.Fatalf("servertest: signer: %v", err)
	}
	blobs, err := blob.OpenDir(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatalf("servertest: blob store: %v", err)
	}
	cfg := server.Config{Store: st, Signer: sg, Blobs: blobs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	hs := httptest.NewUnstartedServer(nil)
	hs.Config = srv.HTTPServer()
	hs.Start()
	t.Cleanup(func() { hs.Close(); cancel(); <-done })
	s := &Server{URL: hs.URL, Store: st, Server: srv}
	s.Admin = s.Token(t, "admin", "")
	return s
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
