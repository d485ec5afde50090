package postgres_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
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

// TestStagedDocumentsStay: parts put again replace those stored; a commit
// leaves the staged documents where they are and the files refer to them
// (migration 9); File reads them, the
// committed update neither expires nor counts as open, no part of it can
// be replaced, and deleting the repository removes it.
func TestStagedDocumentsStay(t *testing.T) {
	url := pg.NewDatabase(t)
	s := open(t, url)
	ctx := context.Background()
	const gun, id = "example.com/stay", "0123456789abcdef0123456789abcdef"
	now := time.Now()
	part := func(name, data string) store.StagedPart {
		sum := sha256.Sum256([]byte(data))
		return store.StagedPart{Name: name, SHA256: hex.EncodeToString(sum[:]), Length: int64(len(data)), Data: []byte(data)}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateStaged(ctx, store.Staged{GUN: gun, ID: id, Created: now, Expires: now.Add(time.Hour)}, 1))
	// A part put again replaces the one stored; of a name given twice in
	// one put the last counts; the others stay.
	must(s.PutStagedParts(ctx, gun, id, []store.StagedPart{part("root/001", `{"root":0}`), part("bins-0", `{"old":0}`), part("snapshot", `{"snap":1}`)}))
	must(s.PutStagedParts(ctx, gun, id, []store.StagedPart{part("bins-0", `{"old":1}`), part("root/001", `{"root":1}`), part("bins-0", `{"bins":0}`)}))
	if _, all, err := s.Staged(ctx, gun, id, now); err != nil || len(all) != 3 {
		t.Fatalf("Staged: %d parts, %v; want 3", len(all), err)
	}
	ps, err := s.StagedPartsNamed(ctx, gun, id, []string{"bins-0", "missing", "root/001"})
	if err != nil || len(ps) != 2 {
		t.Fatalf("StagedPartsNamed: %d parts, %v", len(ps), err)
	}
	for _, p := range ps {
		if want := map[string]string{"bins-0": `{"bins":0}`, "root/001": `{"root":1}`}[p.Name]; string(p.Data) != want || p.SHA256 != part("", want).SHA256 {
			t.Errorf("StagedPartsNamed: %s: %q %s", p.Name, p.Data, p.SHA256)
		}
	}
	ts := part("", `{"ts":1}`)
	u := store.Update{Repo: store.Repo{GUN: gun, RootVersion: 1, SnapshotVersion: 1, TimestampVersion: 1},
		Files: []store.File{{Role: "timestamp", Version: 1, SHA256: ts.SHA256, Data: ts.Data}}}
	_, err = s.CommitStaged(ctx, u, id, []store.StagedFile{{Part: "root/001", Role: "root", Version: 1}, {Part: "bins-0", Role: "bins-0", Version: 1}})
	must(err)

	for role, want := range map[string]string{"root": `{"root":1}`, "bins-0": `{"bins":0}`, "timestamp": `{"ts":1}`} {
		f, err := s.File(ctx, gun, role, 1)
		if err != nil || string(f.Data) != want || f.SHA256 != part("", want).SHA256 {
			t.Errorf("%s: %q %s, %v", role, f.Data, f.SHA256, err)
		}
	}
	conn, err := pgx.Connect(ctx, url)
	must(err)
	defer conn.Close(ctx)
	var copied, parts int
	must(conn.QueryRow(ctx, `SELECT count(*) FROM metadata_files WHERE gun = $1 AND role <> 'timestamp' AND data IS NOT NULL`, gun).Scan(&copied))
	must(conn.QueryRow(ctx, `SELECT count(*) FROM staged_parts WHERE gun = $1`, gun).Scan(&parts))
	if copied != 0 || parts != 2 {
		t.Errorf("%d documents copied into metadata_files, %d staged parts kept; want 0 and 2 (the snapshot no file took is gone)", copied, parts)
	}

	if _, _, err := s.Staged(ctx, gun, id, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a committed staged update is still open: %v", err)
	}
	if err := s.PutStagedParts(ctx, gun, id, []store.StagedPart{part("bins-0", `{"evil":1}`)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("replacing a part of a committed staged update: %v", err)
	}
	if _, err := s.StagedPart(ctx, gun, id, "bins-0"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a part of a committed staged update read as staged: %v", err)
	}
	if ps, err := s.StagedPartsNamed(ctx, gun, id, []string{"bins-0"}); err != nil || len(ps) != 0 {
		t.Errorf("parts of a committed staged update read as staged: %d, %v", len(ps), err)
	}
	if n, err := s.DeleteExpiredStaged(ctx, now.Add(48*time.Hour)); err != nil || n != 0 {
		t.Errorf("expiry removed %d committed staged updates, %v", n, err)
	}
	if err := s.DeleteStaged(ctx, gun, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteStaged of a committed staged update: %v", err)
	}
	if f, err := s.File(ctx, gun, "bins-0", 1); err != nil || string(f.Data) != `{"bins":0}` {
		t.Fatalf("after expiry: %q, %v", f.Data, err)
	}
	// The limit of one open staged update counts only open ones.
	must(s.CreateStaged(ctx, store.Staged{GUN: gun, ID: "1123456789abcdef0123456789abcdef", Created: now, Expires: now.Add(time.Hour)}, 1))

	if _, err := s.Delete(ctx, gun); err != nil {
		t.Fatal(err)
	}
	must(conn.QueryRow(ctx, `SELECT count(*) FROM staged_parts WHERE gun = $1 AND id = $2`, gun, id).Scan(&parts))
	if parts != 0 {
		t.Errorf("%d documents of a deleted repository left", parts)
	}
}

// BenchmarkPublishListings: the first publish of a million listings (see
// storetest.BenchmarkPublishListings).
func BenchmarkPublishListings(b *testing.B) {
	storetest.BenchmarkPublishListings(b, 1_000_000, func(b *testing.B) store.Store {
		s, err := postgres.Open(context.Background(), pg.NewDatabase(b))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}

// TestMigrateListings opens a database at schema version 9, which kept a
// row per listing, and finds its listings in the index (migration 10);
// the old table is gone. A database of a newer schema is refused.
func TestMigrateListings(t *testing.T) {
	url := pg.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
	names, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range names[:9] {
		sql, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		exec(string(sql))
		exec(`INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, i+1, name)
	}
	for _, l := range storetest.LegacyListings() {
		var until *time.Time
		if !l.Until.IsZero() {
			until = &l.Until
		}
		exec(`INSERT INTO listings (gun, digest, path, role, until) VALUES ($1, $2, $3, $4, $5)`, l.GUN, l.Digest, l.Path, l.Role, until)
	}
	s := open(t, url)
	storetest.CheckLegacyListings(t, s)
	var gone bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('listings') IS NULL`).Scan(&gone); err != nil || !gone {
		t.Errorf("the table of migration 9's listings is still there (%v)", err)
	}
	// A second store on the database finds them with the same key.
	storetest.CheckLegacyListings(t, open(t, url))

	exec(`INSERT INTO schema_migrations (version, name) VALUES (99, 'migrations/0099_future.sql')`)
	if s, err := postgres.Open(ctx, url); err == nil || !strings.Contains(err.Error(), "schema version 99 is newer than this server's") {
		if err == nil {
			s.Close()
		}
		t.Errorf("Open of a database of schema 99: %v, want refused as newer", err)
	}
}
