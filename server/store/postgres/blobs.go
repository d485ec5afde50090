package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rampart-tuf/rampart/server/blob"
)

// chunkSize is the length of the chunks that Put splits new blobs into.
// Each blob records its own, so that it may change.
const chunkSize = 1 << 20

// Blobs is a blob.Store in the database (tables blobs and blob_chunks):
// every Store on the same database, and so every server replica, sees the
// same blobs. Get it with Store.Blobs.
//
// Put writes a blob's chunks as it reads and hashes the content, in one
// transaction that it commits only once the length and SHA-256 check
// out, so a failed or wrong upload leaves nothing. Content that is stored
// already is read and checked, not written again. Uploads of the same
// content, on any replica, wait for one another. A Put holds a database
// connection until its upload ends, so at most half of the pool's
// connections serve uploads at once and the others stay for everything
// else (pool_max_conns in the connection string sets the pool's size).
//
// A Blob reads one chunk at a time, when a read needs it: neither Put nor
// a Blob holds more than a chunk of a blob in memory.
type Blobs struct {
	pool    *pgxpool.Pool
	uploads chan struct{} // one element per Put writing to the database
}

var _ blob.Store = (*Blobs)(nil)

func newBlobs(pool *pgxpool.Pool) *Blobs {
	return &Blobs{pool: pool, uploads: make(chan struct{}, max(1, pool.Config().MaxConns/2))}
}

// Blobs returns the blob store in the store's database.
func (s *Store) Blobs() *Blobs { return s.blobs }

// errStored is returned by write when the blob is there already.
var errStored = errors.New("blob stored already")

// Put implements blob.Store.
func (b *Blobs) Put(ctx context.Context, r io.Reader, limit int64, wantSHA256 string) (blob.Info, error) {
	if !blob.ValidSHA256(wantSHA256) {
		return blob.Info{}, fmt.Errorf("store blob: expected SHA-256 %q is not 64 lowercase hex digits", wantSHA256)
	}
	info, err := b.write(ctx, r, limit, wantSHA256)
	if errors.Is(err, errStored) {
		// Nothing was read yet: check what was sent all the same.
		h := blob.NewHasher()
		if _, err := io.Copy(h, io.LimitReader(r, limit+1)); err != nil {
			return blob.Info{}, fmt.Errorf("store blob %s: reading the content: %w", wantSHA256, err)
		}
		return h.Check(limit, wantSHA256)
	}
	return info, err
}

// write stores the content of r in one transaction, or returns errStored,
// having read nothing, when the blob is there already.
func (b *Blobs) write(ctx context.Context, r io.Reader, limit int64, sum string) (blob.Info, error) {
	what := "store blob " + sum
	stored, err := b.touch(ctx, sum)
	if err != nil {
		return blob.Info{}, wrap(what, err)
	}
	if stored {
		return blob.Info{}, errStored
	}
	select {
	case b.uploads <- struct{}{}:
		defer func() { <-b.uploads }()
	case <-ctx.Done():
		return blob.Info{}, fmt.Errorf("%s: %w", what, ctx.Err())
	}
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return blob.Info{}, wrap(what, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// Uploads of the same content wait here until the first commits or
	// fails.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "blob "+sum); err != nil {
		return blob.Info{}, wrap(what, err)
	}
	if stored, err = blobStored(ctx, tx, sum); err != nil {
		return blob.Info{}, wrap(what, err)
	}
	if stored {
		// Stored by the upload this one waited for: touch it outside
		// this transaction, which is rolled back.
		if stored, err = b.touch(ctx, sum); err != nil {
			return blob.Info{}, wrap(what, err)
		}
		if stored {
			return blob.Info{}, errStored
		}
		return blob.Info{}, fmt.Errorf("%s: removed while this upload waited; send it again", what)
	}
	h := blob.NewHasher()
	lr := io.LimitReader(r, limit+1)
	buf := make([]byte, chunkSize)
	for n := 0; ; n++ {
		k, rerr := io.ReadFull(lr, buf)
		h.Write(buf[:k])
		if h.Len() > limit {
			return h.Check(limit, sum)
		}
		if k > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO blob_chunks (sha256, n, data) VALUES ($1, $2, $3)`, sum, n, buf[:k]); err != nil {
				return blob.Info{}, wrap(what, err)
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return blob.Info{}, fmt.Errorf("%s: reading the content: %w", what, rerr)
		}
	}
	info, err := h.Check(limit, sum)
	if err != nil {
		return blob.Info{}, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO blobs (sha256, sha512, length, chunk_size) VALUES ($1, $2, $3, $4)`,
		info.SHA256, info.SHA512, info.Length, chunkSize); err != nil {
		return blob.Info{}, wrap(what, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return blob.Info{}, wrap(what, err)
	}
	return info, nil
}

// touch marks the blob sum as stored now, if it is there, and reports
// whether it is: Put of stored content counts as storing it again (see
// blob.Collector).
func (b *Blobs) touch(ctx context.Context, sum string) (bool, error) {
	tag, err := b.pool.Exec(ctx, `UPDATE blobs SET created_at = now() WHERE sha256 = $1`, sum)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

var _ blob.Collector = (*Blobs)(nil)

// List implements blob.Collector.
func (b *Blobs) List(ctx context.Context) ([]string, error) {
	rows, err := b.pool.Query(ctx, `SELECT sha256 FROM blobs ORDER BY sha256`)
	if err != nil {
		return nil, wrap("list blobs", err)
	}
	sums, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return sums, wrap("list blobs", err)
}

// Remove implements blob.Collector: one statement, so that a Put that
// touches the blob concurrently either comes first and keeps it, or
// comes after and stores it again.
func (b *Blobs) Remove(ctx context.Context, sum string, cutoff time.Time) (bool, error) {
	tag, err := b.pool.Exec(ctx, `DELETE FROM blobs WHERE sha256 = $1 AND created_at < $2`, sum, cutoff)
	if err != nil {
		return false, wrap("remove blob "+sum, err)
	}
	return tag.RowsAffected() == 1, nil
}

// blobStored reports whether the blob sum is stored.
func blobStored(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, sum string) (bool, error) {
	var stored bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM blobs WHERE sha256 = $1)`, sum).Scan(&stored)
	return stored, err
}

// Open implements blob.Store. Reads from the Blob query the database
// with ctx.
func (b *Blobs) Open(ctx context.Context, sum string) (blob.Blob, error) {
	if !blob.ValidSHA256(sum) {
		return nil, fmt.Errorf("blob %q: %w", sum, fs.ErrNotExist)
	}
	o := &openBlob{ctx: ctx, pool: b.pool, sha256: sum, n: -1}
	err := b.pool.QueryRow(ctx, `SELECT length, chunk_size FROM blobs WHERE sha256 = $1`, sum).Scan(&o.size, &o.chunkSize)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("blob %s: %w", sum, fs.ErrNotExist)
	}
	if err != nil {
		return nil, wrap("blob "+sum, err)
	}
	return o, nil
}

// openBlob is a Blob in the database. It keeps the chunk it read last.
type openBlob struct {
	ctx             context.Context
	pool            *pgxpool.Pool
	sha256          string
	size, chunkSize int64
	off             int64  // offset of the next Read
	n               int64  // index of the chunk in data, -1 for none
	data            []byte // chunk n
	closed          bool
}

func (o *openBlob) Size() int64 { return o.size }

func (o *openBlob) Read(p []byte) (int, error) {
	if o.closed {
		return 0, fmt.Errorf("blob %s: %w", o.sha256, fs.ErrClosed)
	}
	if o.off >= o.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if n := o.off / o.chunkSize; n != o.n {
		if err := o.load(n); err != nil {
			return 0, err
		}
	}
	k := copy(p, o.data[o.off-o.n*o.chunkSize:])
	o.off += int64(k)
	return k, nil
}

// load reads chunk n into o.data.
func (o *openBlob) load(n int64) error {
	o.n, o.data = -1, nil
	var data []byte
	err := o.pool.QueryRow(o.ctx, `SELECT data FROM blob_chunks WHERE sha256 = $1 AND n = $2`, o.sha256, n).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("blob %s: chunk %d is missing", o.sha256, n)
	}
	if err != nil {
		return wrap(fmt.Sprintf("blob %s: chunk %d", o.sha256, n), err)
	}
	if want := min(o.chunkSize, o.size-n*o.chunkSize); int64(len(data)) != want {
		return fmt.Errorf("blob %s: chunk %d is %d bytes long, want %d", o.sha256, n, len(data), want)
	}
	o.n, o.data = n, data
	return nil
}

func (o *openBlob) Seek(offset int64, whence int) (int64, error) {
	if o.closed {
		return 0, fmt.Errorf("blob %s: %w", o.sha256, fs.ErrClosed)
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += o.off
	case io.SeekEnd:
		offset += o.size
	default:
		return 0, fmt.Errorf("blob %s: seek: invalid whence %d", o.sha256, whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("blob %s: seek to negative offset %d", o.sha256, offset)
	}
	o.off = offset
	return offset, nil
}

func (o *openBlob) Close() error {
	o.closed, o.data = true, nil
	return nil
}
