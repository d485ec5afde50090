-- Rampart server schema, version 2: token IDs, for listing and revoking
-- tokens. A token's ID is the first 16 hex digits of its hash
-- (store.TokenID), computed by the database for existing rows as for new
-- ones; the unique index makes it name one token and serves lookups by ID.

ALTER TABLE tokens ADD COLUMN id text GENERATED ALWAYS AS (left(hash, 16)) STORED;
CREATE UNIQUE INDEX tokens_id ON tokens (id);
