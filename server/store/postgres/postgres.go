// Package postgres is the PostgreSQL store of the Rampart server, for
// production and for several server replicas sharing one database.
//
// Open applies the schema migrations in migrations/ (each once, in order,
// under an advisory lock so that replicas starting together do not race).
// A publish is one transaction that locks the repository's row, checks the
// timestamp version the publisher started from, inserts the new documents,
// updates the row, appends to the changefeed and sends a notification on
// the channel "rampart_changes", which Watch turns into cache
// invalidations on every replica.
//
// Blobs keeps target content in the database too, in chunks, so that
// replicas need no shared volume for it.
//
// Errors that mean the database cannot be reached wrap
// store.ErrUnavailable, so that the server answers 503 and tries again on
// the next request; the connection pool reconnects by itself.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/listindex"
)

//go:embed migrations/*.sql
var migrations embed.FS

// channel is the LISTEN/NOTIFY channel that carries the GUN of each change.
const channel = "rampart_changes"

// Advisory lock keys.
const (
	lockMigrate    = 0x72616d7001 // schema migrations
	lockChangefeed = 0x72616d7002 // changefeed IDs in commit order
)

// Store is a store.Store in PostgreSQL.
type Store struct {
	pool     *pgxpool.Pool
	idx      *listindex.Index
	blobs    *Blobs
	inCommit func() // see SetInCommitHook
}

// SetInCommitHook makes every publish call fn inside its transaction,
// after the documents are inserted and before the repository's row is
// updated: crash tests kill the server there. nil removes it. Call it
// before the store is used; servers never set it.
func (s *Store) SetInCommitHook(fn func()) { s.inCommit = fn }

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string) and migrates its schema.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: bad connection string: %w", err)
	}
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool, blobs: newBlobs(pool)}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate schema: %w", classify(err))
	}
	return s, nil
}

// migrate applies the migrations that the database has not seen.
func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(names)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(lockMigrate)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY,
			name text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		var applied int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&applied); err != nil {
			return err
		}
		if applied > len(names) {
			return fmt.Errorf("database schema version %d is newer than this server's (%d)", applied, len(names))
		}
		for i, name := range names {
			version := i + 1
			if n, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "migrations/"), "_", 2)[0]); n != version {
				return fmt.Errorf("migration %s is out of sequence: want number %d", name, version)
			}
			if version <= applied {
				continue
			}
			sql, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if step := goSteps[version]; step != nil {
				if err := step(s, ctx, tx); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, version, name); err != nil {
				return err
			}
		}
		return s.openIndex(ctx, tx)
	})
}

// goSteps are the parts of migrations done in Go, after their SQL, by
// version.
var goSteps = map[int]func(s *Store, ctx context.Context, tx pgx.Tx) error{
	10: (*Store).migrateListings,
}

// classify wraps errors that mean the database is unreachable or shutting
// down as store.ErrUnavailable, unique violations as store.ErrConflict, and
// "no rows" as store.ErrNotFound.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505", pgErr.Code == "40001", pgErr.Code == "40P01":
			return fmt.Errorf("%w: %s", store.ErrConflict, pgErr.Message)
		case strings.HasPrefix(pgErr.Code, "08"), strings.HasPrefix(pgErr.Code, "57P"), strings.HasPrefix(pgErr.Code, "53"):
			return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
		}
		return err
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	if errors.As(err, &netErr) || errors.As(err, &connErr) || pgconn.SafeToRetry(err) ||
		strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "connection reset") ||
		strings.Contains(err.Error(), "unexpected EOF") || strings.Contains(err.Error(), "failed to connect") {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	return err
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, classify(err))
}

const repoColumns = `gun, root_version, snapshot_version, timestamp_version, timestamp_expires, snapshot_expires, snapshot_online, updated_at`

func scanRepo(row pgx.Row) (store.Repo, error) {
	var r store.Repo
	err := row.Scan(&r.GUN, &r.RootVersion, &r.SnapshotVersion, &r.TimestampVersion, &r.TimestampExpires, &r.SnapshotExpires, &r.SnapshotOnline, &r.UpdatedAt)
	r.TimestampExpires = r.TimestampExpires.UTC()
	r.SnapshotExpires = r.SnapshotExpires.UTC()
	r.UpdatedAt = r.UpdatedAt.UTC()
	return r, err
}

// Repo implements store.Store.
func (s *Store) Repo(ctx context.Context, gun string) (store.Repo, error) {
	r, err := scanRepo(s.pool.QueryRow(ctx, `SELECT `+repoColumns+` FROM repositories WHERE gun = $1`, gun))
	return r, wrap("repository "+gun, err)
}

// File implements store.Store.
func (s *Store) File(ctx context.Context, gun, role string, version int64) (store.File, error) {
	f := store.File{Role: role, Version: version}
	// A document of a committed staged update is where the update put it
	// (see CommitStaged).
	err := s.pool.QueryRow(ctx, `SELECT f.sha256, coalesce(f.data, p.data) FROM metadata_files f
		LEFT JOIN staged_parts p ON f.data IS NULL AND p.gun = f.gun AND p.id = f.staged_id AND p.name = f.staged_part
		WHERE f.gun = $1 AND f.role = $2 AND f.version = $3`,
		gun, role, version).Scan(&f.SHA256, &f.Data)
	return f, wrap(fmt.Sprintf("%s: %d.%s.json", gun, version, role), err)
}

// Publish implements store.Store.
func (s *Store) Publish(ctx context.Context, u store.Update) (store.Change, error) {
	return s.publish(ctx, u, nil)
}

// publish is Publish, with more to write in the same transaction (see
// CommitStaged).
func (s *Store) publish(ctx context.Context, u store.Update, extra func(tx pgx.Tx) error) (store.Change, error) {
	gun := u.Repo.GUN
	var ch store.Change
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var cur int64
		err := tx.QueryRow(ctx, `SELECT timestamp_version FROM repositories WHERE gun = $1 FOR UPDATE`, gun).Scan(&cur)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if u.Base != 0 {
				return fmt.Errorf("%w: the repository does not exist", store.ErrConflict)
			}
		case err != nil:
			return err
		case cur != u.Base:
			return fmt.Errorf("%w: timestamp version is %d, the update is based on %d", store.ErrConflict, cur, u.Base)
		}
		var tsSum string
		for _, f := range u.Files {
			tag, err := tx.Exec(ctx, `INSERT INTO metadata_files (gun, role, version, sha256, data) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT DO NOTHING`, gun, f.Role, f.Version, f.SHA256, f.Data)
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 1 {
				return fmt.Errorf("%w: %d.%s.json exists", store.ErrConflict, f.Version, f.Role)
			}
			if f.Role == "timestamp" && f.Version == u.Repo.TimestampVersion {
				tsSum = f.SHA256
			}
		}
		if extra != nil {
			if err := extra(tx); err != nil {
				return err
			}
		}
		chunks, indexed, err := s.idx.BuildUpdate(&u)
		if err != nil {
			return err
		}
		if err := s.putChunks(ctx, tx, gun, chunks, indexed); err != nil {
			return err
		}
		if s.inCommit != nil {
			s.inCommit() // files inserted, repository row not yet updated
		}
		r := u.Repo
		args := []any{gun, r.RootVersion, r.SnapshotVersion, r.TimestampVersion, r.TimestampExpires, r.SnapshotExpires, r.SnapshotOnline}
		if u.Base == 0 {
			_, err = tx.Exec(ctx, `INSERT INTO repositories (gun, root_version, snapshot_version, timestamp_version,
				timestamp_expires, snapshot_expires, snapshot_online) VALUES ($1, $2, $3, $4, $5, $6, $7)`, args...)
		} else {
			_, err = tx.Exec(ctx, `UPDATE repositories SET root_version = $2, snapshot_version = $3, timestamp_version = $4,
				timestamp_expires = $5, snapshot_expires = $6, snapshot_online = $7, updated_at = now() WHERE gun = $1`, args...)
		}
		if err != nil {
			return err
		}
		ch, err = addChange(ctx, tx, store.Change{GUN: gun, Version: r.TimestampVersion, SHA256: tsSum, Category: store.CategoryUpdate})
		return err
	})
	return ch, wrap("publish "+gun, err)
}

// addChange appends to the changefeed and notifies the other replicas.
// The advisory lock, held until commit, makes IDs visible in commit order,
// so that a reader polling with since=ID never skips an entry.
func addChange(ctx context.Context, tx pgx.Tx, ch store.Change) (store.Change, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(lockChangefeed)); err != nil {
		return ch, err
	}
	err := tx.QueryRow(ctx, `INSERT INTO changefeed (gun, version, sha256, category) VALUES ($1, $2, $3, $4)
		RETURNING id, created_at`, ch.GUN, ch.Version, ch.SHA256, ch.Category).Scan(&ch.ID, &ch.CreatedAt)
	if err != nil {
		return ch, err
	}
	ch.CreatedAt = ch.CreatedAt.UTC()
	_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, ch.GUN)
	return ch, err
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, gun string) (store.Change, error) {
	var ch store.Change
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM repositories WHERE gun = $1`, gun); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO deleted_repositories (gun) VALUES ($1)
			ON CONFLICT (gun) DO UPDATE SET deleted_at = now()`, gun); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM metadata_files WHERE gun = $1`, gun); err != nil {
			return err
		}
		// The documents of its committed staged updates, which nothing
		// refers to now.
		if _, err := tx.Exec(ctx, `DELETE FROM staged_updates WHERE gun = $1 AND committed`, gun); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM targets WHERE gun = $1`, gun); err != nil {
			return err
		}
		if err := deleteListings(ctx, tx, gun); err != nil {
			return err
		}
		var err error
		ch, err = addChange(ctx, tx, store.Change{GUN: gun, Category: store.CategoryDeletion})
		return err
	})
	return ch, wrap("delete "+gun, err)
}

// PruneTimestamps implements store.Store.
func (s *Store) PruneTimestamps(ctx context.Context, keep int64) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM metadata_files f USING repositories r
		WHERE f.gun = r.gun AND f.role = 'timestamp' AND f.version <= r.timestamp_version - $1`, max(keep, 1))
	if err != nil {
		return 0, wrap("prune timestamps", err)
	}
	return int(tag.RowsAffected()), nil
}

// Deleted implements store.Store.
func (s *Store) Deleted(ctx context.Context, gun string) (bool, error) {
	var deleted bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deleted_repositories WHERE gun = $1)`, gun).Scan(&deleted)
	return deleted, wrap("deleted "+gun, err)
}

// Expiring implements store.Store.
func (s *Store) Expiring(ctx context.Context, tsBefore, snapBefore time.Time) ([]store.Repo, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+repoColumns+` FROM repositories
		WHERE timestamp_expires < $1 OR (snapshot_online AND snapshot_expires < $2) ORDER BY gun`, tsBefore, snapBefore)
	if err != nil {
		return nil, wrap("list expiring repositories", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Repo, error) { return scanRepo(row) })
	return out, wrap("list expiring repositories", err)
}

// Changes implements store.Store.
func (s *Store) Changes(ctx context.Context, gun string, since int64, limit int) ([]store.Change, error) {
	q := `SELECT id, gun, version, sha256, category, created_at FROM changefeed WHERE id > $1 AND ($2 = '' OR gun = $2) ORDER BY id LIMIT $3`
	return s.queryChanges(ctx, q, since, gun, limit)
}

// queryChanges runs a changefeed query q with args.
func (s *Store) queryChanges(ctx context.Context, q string, args ...any) ([]store.Change, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("changefeed", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Change, error) {
		var c store.Change
		err := row.Scan(&c.ID, &c.GUN, &c.Version, &c.SHA256, &c.Category, &c.CreatedAt)
		c.CreatedAt = c.CreatedAt.UTC()
		return c, err
	})
	return out, wrap("changefeed", err)
}

// ChangesBefore implements store.Store.
func (s *Store) ChangesBefore(ctx context.Context, gun string, before int64, limit int) ([]store.Change, error) {
	if before < 0 {
		before = math.MaxInt64
	}
	q := `SELECT id, gun, version, sha256, category, created_at FROM (
		SELECT * FROM changefeed WHERE id < $1 AND ($2 = '' OR gun = $2) ORDER BY id DESC LIMIT $3) page ORDER BY id`
	return s.queryChanges(ctx, q, before, gun, limit)
}

// CreateToken implements store.Store.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now().UTC()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO tokens (hash, gun_prefix, scope, description, created_at) VALUES ($1, $2, $3, $4, $5)`,
		t.Hash, t.GUNPrefix, t.Scope, t.Description, t.CreatedAt)
	return wrap("create token", err)
}

// Token implements store.Store.
func (s *Store) Token(ctx context.Context, hash string) (store.Token, error) {
	t := store.Token{Hash: hash}
	err := s.pool.QueryRow(ctx, `SELECT id, gun_prefix, scope, description, created_at FROM tokens WHERE hash = $1`, hash).
		Scan(&t.ID, &t.GUNPrefix, &t.Scope, &t.Description, &t.CreatedAt)
	t.CreatedAt = t.CreatedAt.UTC()
	return t, wrap("token", err)
}

const tokenColumns = `id, gun_prefix, scope, description, created_at`

func scanToken(row pgx.Row) (store.Token, error) {
	var t store.Token
	err := row.Scan(&t.ID, &t.GUNPrefix, &t.Scope, &t.Description, &t.CreatedAt)
	t.CreatedAt = t.CreatedAt.UTC()
	return t, err
}

// Tokens implements store.Store.
func (s *Store) Tokens(ctx context.Context) ([]store.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, wrap("list tokens", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Token, error) { return scanToken(row) })
	if out == nil && err == nil {
		out = []store.Token{}
	}
	return out, wrap("list tokens", err)
}

// checkError carries an error from DeleteToken's check out of the
// transaction, to be returned as it is.
type checkError struct{ err error }

func (e checkError) Error() string { return e.err.Error() }

// DeleteToken implements store.Store. The row is locked from the check to
// the deletion; once the transaction commits, every replica's next lookup
// of the token misses.
func (s *Store) DeleteToken(ctx context.Context, id string, check func(store.Token) error) (store.Token, error) {
	var t store.Token
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(t); err != nil {
				return checkError{err}
			}
		}
		_, err = tx.Exec(ctx, `DELETE FROM tokens WHERE id = $1`, id)
		return err
	})
	var ce checkError
	if errors.As(err, &ce) {
		return store.Token{}, ce.err
	}
	if err != nil {
		return store.Token{}, wrap("delete token "+id, err)
	}
	return t, nil
}

func scanKey(row pgx.Row) (store.OnlineKey, error) {
	var k store.OnlineKey
	err := row.Scan(&k.GUN, &k.Role, &k.KeyID, &k.Public, &k.Private, &k.CreatedAt)
	k.CreatedAt = k.CreatedAt.UTC()
	return k, err
}

const keyColumns = `gun, role, key_id, public, private, created_at`

// AddOnlineKey implements store.Store.
func (s *Store) AddOnlineKey(ctx context.Context, k store.OnlineKey, onlyIfNone bool) (store.OnlineKey, error) {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now().UTC()
	}
	var newest store.OnlineKey
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, k.Role+" "+k.GUN); err != nil {
			return err
		}
		if onlyIfNone {
			var err error
			newest, err = scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM online_keys WHERE gun = $1 AND role = $2 ORDER BY id DESC LIMIT 1`, k.GUN, k.Role))
			if err == nil || !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		newest = k
		_, err := tx.Exec(ctx, `INSERT INTO online_keys (gun, role, key_id, public, private, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			k.GUN, k.Role, k.KeyID, k.Public, k.Private, k.CreatedAt)
		return err
	})
	return newest, wrap(fmt.Sprintf("add %s key for %s", k.Role, k.GUN), err)
}

// OnlineKeys implements store.Store.
func (s *Store) OnlineKeys(ctx context.Context, gun, role string) ([]store.OnlineKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM online_keys WHERE gun = $1 AND role = $2 ORDER BY id DESC`, gun, role)
	if err != nil {
		return nil, wrap(role+" keys of "+gun, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.OnlineKey, error) { return scanKey(row) })
	return out, wrap(role+" keys of "+gun, err)
}

// SomeOnlineKeys implements store.Store.
func (s *Store) SomeOnlineKeys(ctx context.Context, limit int) ([]store.OnlineKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM online_keys ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, wrap("online keys", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.OnlineKey, error) { return scanKey(row) })
	return out, wrap("online keys", err)
}

// DeleteOnlineKeys implements store.Store.
func (s *Store) DeleteOnlineKeys(ctx context.Context, gun string) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM online_keys WHERE gun = $1`, gun)
	if err != nil {
		return 0, wrap("delete online keys of "+gun, err)
	}
	return int(tag.RowsAffected()), nil
}

// AddTarget implements store.Store.
func (s *Store) AddTarget(ctx context.Context, gun string, t store.Target) error {
	var created *time.Time
	if !t.CreatedAt.IsZero() {
		created = &t.CreatedAt
	}
	// Adding a target again counts as a new upload (see CollectTargets).
	_, err := s.pool.Exec(ctx, `INSERT INTO targets (gun, sha256, sha512, length, created_at) VALUES ($1, $2, $3, $4, coalesce($5, now()))
		ON CONFLICT (gun, sha256) DO UPDATE SET created_at = EXCLUDED.created_at`, gun, t.SHA256, t.SHA512, t.Length, created)
	return wrap("add target to "+gun, err)
}

// TargetDigests implements store.Store.
func (s *Store) TargetDigests(ctx context.Context) (map[string]bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT sha256 FROM targets`)
	if err != nil {
		return nil, wrap("target digests", err)
	}
	sums, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap("target digests", err)
	}
	out := make(map[string]bool, len(sums))
	for _, s := range sums {
		out[s] = true
	}
	return out, nil
}

// Target implements store.Store.
func (s *Store) Target(ctx context.Context, gun, digest string) (store.Target, error) {
	var t store.Target
	// One index lookup either way: the primary key, or targets_gun_sha512.
	column := "sha256"
	if len(digest) != 64 {
		column = "sha512"
	}
	err := s.pool.QueryRow(ctx, `SELECT sha256, sha512, length, created_at FROM targets
		WHERE gun = $1 AND `+column+` = $2 LIMIT 1`, gun, digest).Scan(&t.SHA256, &t.SHA512, &t.Length, &t.CreatedAt)
	t.CreatedAt = t.CreatedAt.UTC()
	return t, wrap(fmt.Sprintf("target %s of %s", digest, gun), err)
}

// Watch implements store.Store: it LISTENs on a connection of its own and
// reconnects, reporting fn(""), whenever that connection fails.
func (s *Store) Watch(ctx context.Context, fn func(string)) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listen(ctx, fn, func() { backoff = 100 * time.Millisecond })
		if ctx.Err() != nil {
			break
		}
		_ = err // the server reports unavailability through requests and Ping
		fn("")
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	return nil
}

func (s *Store) listen(ctx context.Context, fn func(string), connected func()) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection leaves the pool for good: it carries a LISTEN.
	c := conn.Hijack()
	defer c.Close(context.WithoutCancel(ctx))
	if _, err := c.Exec(ctx, "LISTEN "+channel); err != nil {
		return err
	}
	// Changes made while not listening were missed.
	fn("")
	connected()
	for {
		n, err := c.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Payload)
	}
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	return wrap("ping", s.pool.Ping(ctx))
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}
