-- Rampart server schema, version 9: the documents of a committed staged
-- update stay where they are. A commit used to copy them from
-- staged_parts into metadata_files (150 MB for the first publish of a
-- million targets, compressed and written again); now the staged update
-- is marked committed, its parts stay, and the new rows of metadata_files
-- refer to them (data NULL, staged_id and staged_part set). A committed
-- staged update is no longer open: it does not count against the limit,
-- does not expire, and goes when its repository is deleted. Staged
-- documents are compressed (lz4 where the server has it) as they arrive.

ALTER TABLE staged_updates ADD COLUMN committed boolean NOT NULL DEFAULT false;

ALTER TABLE metadata_files ALTER COLUMN data DROP NOT NULL;
ALTER TABLE metadata_files ADD COLUMN staged_id text;
ALTER TABLE metadata_files ADD COLUMN staged_part text;
ALTER TABLE metadata_files ADD CONSTRAINT metadata_files_data_or_part
    CHECK ((data IS NULL) = (staged_id IS NOT NULL AND staged_part IS NOT NULL));
ALTER TABLE metadata_files ADD CONSTRAINT metadata_files_staged_part
    FOREIGN KEY (gun, staged_id, staged_part) REFERENCES staged_parts (gun, id, name);

ALTER TABLE staged_parts ALTER COLUMN data SET STORAGE EXTENDED;
DO $$
BEGIN
    ALTER TABLE staged_parts ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available: staged documents are compressed with pglz';
END
$$;
