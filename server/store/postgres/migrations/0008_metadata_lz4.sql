-- Rampart server schema, version 8: metadata documents are compressed
-- with lz4 where the server has it, not pglz: the first publish of a large
-- repository (150 MB of hashed bins) spent seconds of PostgreSQL's time
-- compressing them, lz4 a fraction of that, for a little more disk. Values
-- stored before keep their compression. A server built without lz4 keeps
-- pglz.

DO $$
BEGIN
    ALTER TABLE metadata_files ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available: metadata stays compressed with pglz';
END
$$;
