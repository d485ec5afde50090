-- Rampart server schema, version 7: a staged update's listings are no
-- longer staged (its commit computes them and writes them at once), and
-- staged documents are stored uncompressed: the commit copies them into
-- metadata_files, which compresses them once.

DROP TABLE staged_listings;
ALTER TABLE staged_parts ALTER COLUMN data SET STORAGE EXTERNAL;
