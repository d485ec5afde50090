-- Rampart server schema, version 10: listings are kept in the compact
-- index of package listindex instead of a row per listing (a first
-- publish of a million targets wrote a million rows of about 150 bytes;
-- now 65536 rows of about 600). listing_chunks holds a repository's
-- records by chunk, with the earliest time a record of the chunk ends
-- (NULL when none does), for the garbage collection; listings_indexed the
-- repositories whose listings are complete; listing_key the index's
-- secret key, made by the server when it applies this migration, which
-- also moves the rows of listings into the index and drops that table
-- (see migrateListings in postgres.go).

CREATE TABLE listing_key (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    key bytea   NOT NULL CHECK (length(key) = 64)
);

CREATE TABLE listing_chunks (
    gun     text    NOT NULL,
    chunk   integer NOT NULL CHECK (chunk BETWEEN 0 AND 65535),
    records bytea   NOT NULL CHECK (length(records) % 40 = 0),
    ending  timestamptz,
    PRIMARY KEY (gun, chunk)
);
CREATE INDEX listing_chunks_ending ON listing_chunks (ending) WHERE ending IS NOT NULL;
-- Records are random bytes: not worth compressing.
ALTER TABLE listing_chunks ALTER COLUMN records SET STORAGE EXTERNAL;

CREATE TABLE listings_indexed (
    gun text PRIMARY KEY
);
