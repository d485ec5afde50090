package postgres

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/listindex"
)

// The listings of a repository (store.Listing) are kept by package
// listindex (migration 10): listing_chunks holds its chunks,
// listings_indexed the repositories whose listings are complete
// (store.ListingsIndexed), listing_key the index's key.
//
// A chunk is read, merged and written again, so writers of a repository's
// listings are serialized: each locks the repository's row first (as
// every publish does), then an advisory lock on its GUN, which also
// covers a repository that has no row.

// lockListings is the first key of the advisory lock on the listings of a
// GUN (the second is the hash of the GUN).
const lockListings = 0x72616d03

// copyChunksFrom is the number of chunks from which putListings copies
// them in, for a repository that has none yet (its first publish), rather
// than sending them as parameters of one statement.
const copyChunksFrom = 1024

// openIndex loads the index's key.
func (s *Store) openIndex(ctx context.Context, tx pgx.Tx) error {
	var k []byte
	if err := tx.QueryRow(ctx, `SELECT key FROM listing_key`).Scan(&k); err != nil {
		return fmt.Errorf("listings index key: %w", err)
	}
	idx, err := listindex.New(k)
	s.idx = idx
	return err
}

func lockGUNListings(ctx context.Context, tx pgx.Tx, gun string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::integer, hashtext($2))`, lockListings, gun)
	return err
}

// putListings adds or replaces listings of gun: the chunks they fall in
// are read, merged and written again, or copied in when gun has none.
func (s *Store) putListings(ctx context.Context, tx pgx.Tx, gun string, ls ...[]store.Listing) error {
	chunks, indexed, err := s.idx.Build(ls...)
	if err != nil {
		return err
	}
	return s.putChunks(ctx, tx, gun, chunks, indexed)
}

// PrepareListings implements store.ListingPreparer.
func (s *Store) PrepareListings(ls []store.Listing) (store.PreparedListings, error) {
	return s.idx.PrepareListings(ls)
}

// PrepareListed implements store.ListingPreparer.
func (s *Store) PrepareListed(role string, n int, all iter.Seq2[string, []byte]) store.PreparedListings {
	return s.idx.PrepareListed(role, n, all)
}

// putChunks merges chunks, made by the index, into gun's.
func (s *Store) putChunks(ctx context.Context, tx pgx.Tx, gun string, chunks []listindex.Chunk, indexed bool) (err error) {
	if len(chunks) == 0 && !indexed {
		return nil
	}
	if err := lockGUNListings(ctx, tx, gun); err != nil {
		return err
	}
	if indexed {
		if _, err := tx.Exec(ctx, `INSERT INTO listings_indexed (gun) VALUES ($1) ON CONFLICT DO NOTHING`, gun); err != nil {
			return err
		}
	}
	if len(chunks) == 0 {
		return nil
	}
	ids := make([]int32, len(chunks))
	for i, c := range chunks {
		ids[i] = int32(c.ID)
	}
	var some bool // whether gun has chunks: a first publish has none to read
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM listing_chunks WHERE gun = $1)`, gun).Scan(&some); err != nil {
		return err
	}
	old := map[uint16][]byte{}
	if some {
		if old, err = readChunks(ctx, tx, gun, ids); err != nil {
			return err
		}
	}
	values := make([][]byte, len(chunks))
	ending := make([]*time.Time, len(chunks))
	for i, c := range chunks {
		if values[i], err = listindex.Merge(old[c.ID], c.Records); err != nil {
			return fmt.Errorf("chunk %04x of %s: %w", c.ID, gun, err)
		}
		if t, ok := listindex.Ending(values[i]); ok {
			ending[i] = &t
		}
	}
	if len(old) == 0 && len(chunks) >= copyChunksFrom {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"listing_chunks"}, []string{"gun", "chunk", "records", "ending"},
			pgx.CopyFromSlice(len(chunks), func(i int) ([]any, error) { return []any{gun, ids[i], values[i], ending[i]}, nil }))
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO listing_chunks (gun, chunk, records, ending)
		SELECT $1, * FROM unnest($2::integer[], $3::bytea[], $4::timestamptz[])
		ON CONFLICT (gun, chunk) DO UPDATE SET records = EXCLUDED.records, ending = EXCLUDED.ending`, gun, ids, values, ending)
	return err
}

// readChunks returns the chunks of gun among ids that exist.
func readChunks(ctx context.Context, tx pgx.Tx, gun string, ids []int32) (map[uint16][]byte, error) {
	rows, err := tx.Query(ctx, `SELECT chunk, records FROM listing_chunks WHERE gun = $1 AND chunk = ANY($2)`, gun, ids)
	if err != nil {
		return nil, err
	}
	out := map[uint16][]byte{}
	var id int32
	var v []byte
	_, err = pgx.ForEachRow(rows, []any{&id, &v}, func() error {
		out[uint16(id)] = v
		v = nil
		return nil
	})
	return out, err
}

// deleteListings deletes every listing of gun.
func deleteListings(ctx context.Context, tx pgx.Tx, gun string) error {
	if err := lockGUNListings(ctx, tx, gun); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM listing_chunks WHERE gun = $1`, gun); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM listings_indexed WHERE gun = $1`, gun)
	return err
}

// AddListings implements store.Store.
func (s *Store) AddListings(ctx context.Context, gun string, ls []store.Listing) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM repositories WHERE gun = $1 FOR UPDATE`, gun); err != nil {
			return err
		}
		return s.putListings(ctx, tx, gun, ls)
	})
	return wrap("listings of "+gun, err)
}

// Listed implements store.Store.
func (s *Store) Listed(ctx context.Context, gun, digest, path string, at time.Time) (bool, error) {
	if digest == "" && path == "" {
		var indexed bool
		err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM listings_indexed WHERE gun = $1)`, gun).Scan(&indexed)
		return indexed, wrap("listings of "+gun, err)
	}
	d, ok := s.idx.Digest(digest)
	if !ok {
		return false, nil // no listing has such a digest
	}
	var v []byte
	err := s.pool.QueryRow(ctx, `SELECT records FROM listing_chunks WHERE gun = $1 AND chunk = $2`, gun, int32(d.Chunk())).Scan(&v)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, wrap("listings of "+gun, err)
	}
	listed, err := s.idx.Listed(v, d, path, at)
	return listed, wrap("listings of "+gun, err)
}

// CollectTargets implements store.Store, one repository per transaction:
// it locks the repository's row as Publish does first, so that its
// checks read what a concurrent publish committed.
func (s *Store) CollectTargets(ctx context.Context, cutoff time.Time) ([]store.HeldTarget, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT gun FROM targets WHERE created_at < $1 ORDER BY gun`, cutoff)
	if err != nil {
		return nil, wrap("collect targets", err)
	}
	guns, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap("collect targets", err)
	}
	var out []store.HeldTarget
	for _, gun := range guns {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			ts, err := s.collectTargets(ctx, tx, gun, cutoff)
			out = append(out, ts...)
			return err
		})
		if err != nil {
			return out, wrap("collect targets of "+gun, err)
		}
	}
	return out, s.pruneListings(ctx, cutoff)
}

// collectTargets deletes the target records of gun added before cutoff
// that no listing keeps past it, and returns them.
func (s *Store) collectTargets(ctx context.Context, tx pgx.Tx, gun string, cutoff time.Time) ([]store.HeldTarget, error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM repositories WHERE gun = $1 FOR UPDATE`, gun); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT sha256, sha512 FROM targets WHERE gun = $1 AND created_at < $2`, gun, cutoff)
	if err != nil {
		return nil, err
	}
	var cands []string
	var ds [][]listindex.Digest
	var ids []int32
	var sha256, sha512 string
	_, err = pgx.ForEachRow(rows, []any{&sha256, &sha512}, func() error {
		var these []listindex.Digest
		for _, digest := range []string{sha256, sha512} {
			if d, ok := s.idx.Digest(digest); ok {
				these = append(these, d)
				ids = append(ids, int32(d.Chunk()))
			}
		}
		cands, ds = append(cands, sha256), append(ds, these)
		return nil
	})
	if err != nil || len(cands) == 0 {
		return nil, err
	}
	chunks, err := readChunks(ctx, tx, gun, ids)
	if err != nil {
		return nil, err
	}
	var gone []string
	chunk := func(id uint16) []byte { return chunks[id] }
	for i, sum := range cands {
		kept, err := listindex.KeptByAny(chunk, cutoff, ds[i]...)
		if err != nil {
			return nil, err
		}
		if !kept {
			gone = append(gone, sum)
		}
	}
	rows, err = tx.Query(ctx, `DELETE FROM targets WHERE gun = $1 AND sha256 = ANY($2) AND created_at < $3
		RETURNING sha256, sha512, length, created_at`, gun, gone, cutoff)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.HeldTarget, error) {
		h := store.HeldTarget{GUN: gun}
		err := row.Scan(&h.SHA256, &h.SHA512, &h.Length, &h.CreatedAt)
		h.CreatedAt = h.CreatedAt.UTC()
		return h, err
	})
}

// pruneListings deletes the listings that ended before cutoff, one
// repository per transaction.
func (s *Store) pruneListings(ctx context.Context, cutoff time.Time) error {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT gun FROM listing_chunks WHERE ending < $1 ORDER BY gun`, cutoff)
	if err != nil {
		return wrap("collect listings", err)
	}
	guns, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return wrap("collect listings", err)
	}
	for _, gun := range guns {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT 1 FROM repositories WHERE gun = $1 FOR UPDATE`, gun); err != nil {
				return err
			}
			if err := lockGUNListings(ctx, tx, gun); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `SELECT chunk, records FROM listing_chunks WHERE gun = $1 AND ending < $2`, gun, cutoff)
			if err != nil {
				return err
			}
			var ids []int32
			var values [][]byte
			var ending []*time.Time
			var id int32
			var v []byte
			_, err = pgx.ForEachRow(rows, []any{&id, &v}, func() error {
				nv, _, err := listindex.Prune(v, cutoff)
				if err != nil {
					return fmt.Errorf("chunk %04x: %w", id, err)
				}
				var end *time.Time
				if t, ok := listindex.Ending(nv); ok {
					end = &t
				}
				ids, values, ending = append(ids, id), append(values, nv), append(ending, end)
				v = nil
				return nil
			})
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM listing_chunks c USING unnest($2::integer[], $3::bytea[]) AS n (chunk, records)
				WHERE c.gun = $1 AND c.chunk = n.chunk AND coalesce(length(n.records), 0) = 0`, gun, ids, values); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE listing_chunks c SET records = n.records, ending = n.ending
				FROM unnest($2::integer[], $3::bytea[], $4::timestamptz[]) AS n (chunk, records, ending)
				WHERE c.gun = $1 AND c.chunk = n.chunk AND length(n.records) > 0`, gun, ids, values, ending)
			return err
		})
		if err != nil {
			return wrap("collect listings of "+gun, err)
		}
	}
	return nil
}

// migrateListings is migration 10's part in Go: it makes the index's key
// and moves the rows of listings into the index, a repository at a time.
func (s *Store) migrateListings(ctx context.Context, tx pgx.Tx) error {
	k, err := listindex.NewKey()
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO listing_key (key) VALUES ($1)`, k); err != nil {
		return err
	}
	if err := s.openIndex(ctx, tx); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT DISTINCT gun FROM listings ORDER BY gun`)
	if err != nil {
		return err
	}
	guns, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, gun := range guns {
		rows, err := tx.Query(ctx, `SELECT digest, path, role, until FROM listings WHERE gun = $1`, gun)
		if err != nil {
			return err
		}
		ls, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Listing, error) {
			var l store.Listing
			var until *time.Time
			err := row.Scan(&l.Digest, &l.Path, &l.Role, &until)
			if until != nil {
				l.Until = *until
			}
			return l, err
		})
		if err != nil {
			return err
		}
		if err := s.putListings(ctx, tx, gun, ls); err != nil {
			return fmt.Errorf("listings of %s: %w", gun, err)
		}
	}
	_, err = tx.Exec(ctx, `DROP TABLE listings`)
	return err
}
