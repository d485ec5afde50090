package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-tuf/rampart/server/blob"
	"github.com/rampart-tuf/rampart/server/blob/blobtest"
)

func TestBlobConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return open(t, pg.NewDatabase(t)).Blobs() })
}

// TestBlobsShared stores a blob through one store and reads it through a
// second one on the same database, as another replica does.
func TestBlobsShared(t *testing.T) {
	url := pg.NewDatabase(t)
	a, b := open(t, url).Blobs(), open(t, url).Blobs()
	ctx := context.Background()
	content := blobtest.Content(blobtest.BigSize, 9)
	if _, err := a.Put(ctx, bytes.NewReader(content), blobtest.BigSize, blobtest.SHA256(content)); err != nil {
		t.Fatal(err)
	}
	r, err := b.Open(ctx, blobtest.SHA256(content))
	if err != nil {
		t.Fatalf("the other store does not find the blob: %v", err)
	}
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("reading through the other store: %d bytes, %v", len(got), err)
	}
}

// TestBlobsLeaveNothing checks the tables: failed uploads leave no rows,
// not even chunks, and a stored blob has the chunks it should.
func TestBlobsLeaveNothing(t *testing.T) {
	url := pg.NewDatabase(t)
	s := open(t, url).Blobs()
	ctx := context.Background()
	content := blobtest.Content(blobtest.BigSize, 5)
	sum := blobtest.SHA256(content)
	wrong := bytes.Clone(content)
	wrong[blobtest.BigSize-1] ^= 1
	boom := errors.New("boom")
	for name, put := range map[string]func() error{
		"wrong content": func() error { _, err := s.Put(ctx, bytes.NewReader(wrong), blobtest.BigSize, sum); return err },
		"over the limit": func() error {
			_, err := s.Put(ctx, bytes.NewReader(content), blobtest.BigSize-1, sum)
			return err
		},
		"failing reader": func() error {
			_, err := s.Put(ctx, io.MultiReader(bytes.NewReader(content[:3<<20]), iotest.ErrReader(boom)), blobtest.BigSize, sum)
			return err
		},
	} {
		if err := put(); err == nil {
			t.Errorf("Put of %s succeeded", name)
		}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	count := func() (blobs, chunks int) {
		t.Helper()
		if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM blobs), (SELECT count(*) FROM blob_chunks)`).Scan(&blobs, &chunks); err != nil {
			t.Fatal(err)
		}
		return blobs, chunks
	}
	if b, c := count(); b != 0 || c != 0 {
		t.Fatalf("after failed uploads: %d blobs, %d chunks; want none", b, c)
	}
	for range 2 {
		if _, err := s.Put(ctx, bytes.NewReader(content), blobtest.BigSize, sum); err != nil {
			t.Fatal(err)
		}
	}
	if b, c := count(); b != 1 || c != 4 {
		t.Fatalf("after storing %d bytes twice: %d blobs, %d chunks; want 1 and 4", blobtest.BigSize, b, c)
	}
}
