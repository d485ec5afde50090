package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/postgres"
	"github.com/rampart-tuf/rampart/server/store/postgres/pgtest"
	"github.com/rampart-tuf/rampart/server/store/storetest"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

func open(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, pg.NewDatabase(t)) })
}

// TestMigrateTwice opens the same database from two stores at once, as two
// replicas starting together do.
func TestMigrateTwice(t *testing.T) {
	url := pg.NewDatabase(t)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			s, err := postgres.Open(context.Background(), url)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	open(t, url) // and once more, with nothing left to do
}

// TestOutage stops the database under an open store: calls fail with
// ErrUnavailable, and succeed again once it is back, without reopening.
func TestOutage(t *testing.T) {
	s := open(t, pg.NewDatabase(t))
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	pg.StopServer()
	restarted := false
	defer func() {
		if !restarted {
			pg.StartServer()
		}
	}()
	for _, call := range []func() error{
		func() error { return s.Ping(ctx) },
		func() error { _, err := s.Repo(ctx, "example.com/x"); return err },
		func() error {
			_, err := s.Publish(ctx, store.Update{Repo: store.Repo{GUN: "example.com/x"}})
			return err
		},
		func() error { _, err := s.Blobs().Open(ctx, strings.Repeat("ab", 32)); return err },
		func() error {
			_, err := s.Blobs().Put(ctx, strings.NewReader("x"), 1, "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881")
			return err
		},
	} {
		if err := call(); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("with the database down: got %v, want ErrUnavailable", err)
		}
	}
	if err := pg.StartServer(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.Repo(ctx, "example.com/x")
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover after the database came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTokenIDMigration opens a database at schema version 1 that already
// holds tokens: the migration gives them their IDs, and they can be listed
// and deleted like new ones.
func TestTokenIDMigration(t *testing.T) {
	url := pg.NewDatabase(t)
	ctx := context.Background()
	initial, err := os.ReadFile("migrations/0001_initial.sql")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	hash := strings.Repeat("0123456789abcdef", 4)
	for _, q := range []string{
		string(initial),
		`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
		`INSERT INTO schema_migrations (version, name) VALUES (1, 'migrations/0001_initial.sql')`,
		`INSERT INTO tokens (hash, gun_prefix, scope, description) VALUES ('` + hash + `', 'example.com/old', 'push', 'from before')`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			conn.Close(ctx)
			t.Fatal(err)
		}
	}
	conn.Close(ctx)

	s := open(t, url)
	list, err := s.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != "0123456789abcdef" || list[0].GUNPrefix != "example.com/old" || list[0].CreatedAt.IsZero() {
		t.Fatalf("Tokens after the migration = %+v", list)
	}
	if _, err := s.DeleteToken(ctx, "0123456789abcdef", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Token(ctx, hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Token after DeleteToken: %v", err)
	}
}

// TestTokenRevocationAcrossStores deletes a token through one store: a
// second store on the same database, as another replica has, no longer
// finds it on its very next lookup.
func TestTokenRevocationAcrossStores(t *testing.T) {
	url := pg.NewDatabase(t)
	a, b := open(t, url), open(t, url)
	ctx := context.Background()
	hash := strings.Repeat("fedcba9876543210", 4)
	if err := a.CreateToken(ctx, store.Token{Hash: hash, Scope: "push"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Token(ctx, hash); err != nil {
		t.Fatalf("the other store does not see the new token: %v", err)
	}
	if _, err := a.DeleteToken(ctx, store.TokenID(hash), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Token(ctx, hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the other store still finds the deleted token: %v", err)
	}
}

// TestMetadataLZ4: a metadata document large enough to be compressed is
// compressed with lz4 (migration 8), which the Debian PostgreSQL the tests
// run on has; it reads back as stored.
func TestMetadataLZ4(t *testing.T) {
	url := pg.NewDatabase(t)
	s := open(t, url)
	ctx := context.Background()
	doc := []byte(`{"signed":{"targets":{` + strings.Repeat(`"pkgs/a-file.tar.gz":{"length":1000},`, 500) + `}}}`)
	f := store.File{Role: "targets", Version: 1, SHA256: strings.Repeat("ab", 32), Data: doc}
	if _, err := s.Publish(ctx, store.Update{Files: []store.File{f}, Repo: store.Repo{GUN: "example.com/lz4", RootVersion: 1, SnapshotVersion: 1, TimestampVersion: 1}}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var method *string
	if err := conn.QueryRow(ctx, `SELECT pg_column_compression(data) FROM metadata_files WHERE gun = 'example.com/lz4' AND role = 'targets'`).Scan(&method); err != nil {
		t.Fatal(err)
	}
	if method == nil || *method != "lz4" {
		t.Errorf("metadata compressed with %v, want lz4", method)
	}
	got, err := s.File(ctx, "example.com/lz4", "targets", 1)
	if err != nil || !bytes.Equal(got.Data, doc) {
		t.Fatalf("read back: %d bytes, %v", len(got.Data), err)
	}
}
