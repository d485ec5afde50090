package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-tuf/rampart/server/store"
)

var _ store.Staging = (*Store)(nil)

// CreateStaged implements store.Staging.
func (s *Store) CreateStaged(ctx context.Context, st store.Staged, maxOpen int) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Creations for one GUN take turns, so that two cannot both see
		// room for one more.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "staged "+st.GUN); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM staged_updates WHERE gun = $1 AND expires > $2 AND NOT committed`, st.GUN, st.Created).Scan(&n); err != nil {
			return err
		}
		if n >= maxOpen {
			return fmt.Errorf("%w: %d staged updates open, at most %d", store.ErrLimit, n, maxOpen)
		}
		_, err := tx.Exec(ctx, `INSERT INTO staged_updates (gun, id, created, expires) VALUES ($1, $2, $3, $4)`,
			st.GUN, st.ID, st.Created, st.Expires)
		return err
	})
	return wrap(fmt.Sprintf("staged update %s of %s", st.ID, st.GUN), err)
}

// getStaged reads a staged update that has not expired before now (any,
// when now is zero); in a transaction (lock), it locks the row.
func getStaged(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, lock bool, gun, id string, now time.Time) (store.Staged, error) {
	st := store.Staged{GUN: gun, ID: id}
	query := `SELECT created, expires FROM staged_updates WHERE gun = $1 AND id = $2 AND NOT committed`
	if lock {
		query += ` FOR UPDATE`
	}
	if err := q.QueryRow(ctx, query, gun, id).Scan(&st.Created, &st.Expires); err != nil {
		return st, err
	}
	if !now.IsZero() && !st.Expires.After(now) {
		return st, fmt.Errorf("expired at %s: %w", st.Expires.UTC().Format(time.RFC3339), store.ErrNotFound)
	}
	return st, nil
}

// Staged implements store.Staging.
func (s *Store) Staged(ctx context.Context, gun, id string, now time.Time) (store.Staged, []store.StagedPart, error) {
	what := fmt.Sprintf("staged update %s of %s", id, gun)
	st, err := getStaged(ctx, s.pool, false, gun, id, now)
	if err != nil {
		return store.Staged{}, nil, wrap(what, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT name, sha256, length(data) FROM staged_parts WHERE gun = $1 AND id = $2 ORDER BY name`, gun, id)
	if err != nil {
		return store.Staged{}, nil, wrap(what, err)
	}
	parts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.StagedPart, error) {
		var p store.StagedPart
		err := r.Scan(&p.Name, &p.SHA256, &p.Length)
		return p, err
	})
	if err != nil {
		return store.Staged{}, nil, wrap(what, err)
	}
	return st, parts, nil
}

// PutStagedParts implements store.Staging.
func (s *Store) PutStagedParts(ctx context.Context, gun, id string, ps []store.StagedPart) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := getStaged(ctx, tx, true, gun, id, time.Time{}); err != nil {
			return err
		}
		// The parts of these names are replaced: deleted, then the new
		// ones copied in (COPY streams the 16 MiB of thousands of
		// documents, where a batch of inserts builds them into one
		// message, copying it again and again as it grows). The lock
		// on the staged update orders this with other puts to it.
		last := make(map[string]int, len(ps)) // of a name given twice, the last counts
		for i, p := range ps {
			last[p.Name] = i
		}
		names := make([]string, 0, len(last))
		for n := range last {
			names = append(names, n)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM staged_parts WHERE gun = $1 AND id = $2 AND name = ANY($3::text[])`, gun, id, names); err != nil {
			return err
		}
		rows := make([]int, 0, len(last))
		for i, p := range ps {
			if last[p.Name] == i {
				rows = append(rows, i)
			}
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"staged_parts"}, []string{"gun", "id", "name", "sha256", "data"},
			pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
				p := ps[rows[i]]
				return []any{gun, id, p.Name, p.SHA256, p.Data}, nil
			}))
		return err
	})
	return wrap(fmt.Sprintf("staged update %s of %s", id, gun), err)
}

// StagedPart implements store.Staging.
func (s *Store) StagedPart(ctx context.Context, gun, id, name string) (store.StagedPart, error) {
	p := store.StagedPart{Name: name}
	err := s.pool.QueryRow(ctx, `SELECT p.sha256, p.data FROM staged_parts p JOIN staged_updates u USING (gun, id)
		WHERE p.gun = $1 AND p.id = $2 AND p.name = $3 AND NOT u.committed`, gun, id, name).Scan(&p.SHA256, &p.Data)
	p.Length = int64(len(p.Data))
	return p, wrap(fmt.Sprintf("staged update %s of %s: part %s", id, gun, name), err)
}

// StagedPartsNamed implements store.Staging: one query for many parts,
// where a commit's check would make one round trip for each.
func (s *Store) StagedPartsNamed(ctx context.Context, gun, id string, names []string) ([]store.StagedPart, error) {
	rows, err := s.pool.Query(ctx, `SELECT p.name, p.sha256, p.data FROM staged_parts p JOIN staged_updates u USING (gun, id)
		WHERE p.gun = $1 AND p.id = $2 AND p.name = ANY($3::text[]) AND NOT u.committed`, gun, id, names)
	if err != nil {
		return nil, wrap(fmt.Sprintf("staged update %s of %s", id, gun), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.StagedPart, error) {
		var p store.StagedPart
		err := r.Scan(&p.Name, &p.SHA256, &p.Data)
		p.Length = int64(len(p.Data))
		return p, err
	})
	return out, wrap(fmt.Sprintf("staged update %s of %s", id, gun), err)
}

// CommitStaged implements store.Staging. The documents stay where they
// are: the staged update is marked committed, and the new rows of
// metadata_files refer to its parts (schema 9), so that neither the
// server nor the database copies them.
func (s *Store) CommitStaged(ctx context.Context, u store.Update, id string, moves []store.StagedFile) (store.Change, error) {
	gun := u.Repo.GUN
	return s.publish(ctx, u, func(tx pgx.Tx) error {
		if _, err := getStaged(ctx, tx, true, gun, id, time.Time{}); err != nil {
			return fmt.Errorf("staged update %s: %w", id, err)
		}
		parts, roles, versions := make([]string, len(moves)), make([]string, len(moves)), make([]int64, len(moves))
		for i, m := range moves {
			parts[i], roles[i], versions[i] = m.Part, m.Role, m.Version
		}
		tag, err := tx.Exec(ctx, `INSERT INTO metadata_files (gun, role, version, sha256, staged_id, staged_part)
			SELECT p.gun, m.role, m.version, p.sha256, p.id, p.name
			FROM unnest($3::text[], $4::text[], $5::bigint[]) AS m(part, role, version)
			JOIN staged_parts p ON p.gun = $1 AND p.id = $2 AND p.name = m.part
			ON CONFLICT DO NOTHING`, gun, id, parts, roles, versions)
		if err != nil {
			return err
		}
		if n := tag.RowsAffected(); n != int64(len(moves)) {
			return fmt.Errorf("%w: %d of the %d staged documents exist already or are missing", store.ErrConflict, int64(len(moves))-n, len(moves))
		}
		// Parts no file refers to (a snapshot the commit encoded again) go.
		if _, err := tx.Exec(ctx, `DELETE FROM staged_parts WHERE gun = $1 AND id = $2 AND name <> ALL($3::text[])`, gun, id, parts); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE staged_updates SET committed = true WHERE gun = $1 AND id = $2`, gun, id)
		return err
	})
}

// DeleteStaged implements store.Staging.
func (s *Store) DeleteStaged(ctx context.Context, gun, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM staged_updates WHERE gun = $1 AND id = $2 AND NOT committed`, gun, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	return wrap(fmt.Sprintf("staged update %s of %s", id, gun), err)
}

// DeleteExpiredStaged implements store.Staging.
func (s *Store) DeleteExpiredStaged(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM staged_updates WHERE expires <= $1 AND NOT committed`, now)
	if err != nil {
		return 0, wrap("expired staged updates", err)
	}
	return int(tag.RowsAffected()), nil
}
