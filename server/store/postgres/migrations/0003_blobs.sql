-- Rampart server schema, version 3: target content in the database, so
-- that replicas sharing it serve each other's uploads (rampart serve
-- --blobs database). A blob is addressed by its SHA-256 and split into
-- chunks: chunk n holds bytes [n*chunk_size, (n+1)*chunk_size) and every
-- chunk but the last is chunk_size bytes long. A blob's chunks are written
-- in the transaction that inserts its row, so a blob is whole or absent.

CREATE TABLE blobs (
    sha256     text        PRIMARY KEY,
    sha512     text        NOT NULL,
    length     bigint      NOT NULL CHECK (length >= 0),
    chunk_size integer     NOT NULL CHECK (chunk_size > 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE blob_chunks (
    sha256 text    NOT NULL REFERENCES blobs ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    n      integer NOT NULL CHECK (n >= 0),
    data   bytea   NOT NULL,
    PRIMARY KEY (sha256, n)
);
-- Target content is mostly compressed already: store chunks out of line
-- without trying to compress them again.
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
