-- Rampart server schema, version 6: staged updates, a publish uploaded in
-- parts and committed at once (store.Staging). Nothing here is served;
-- a commit moves the parts into metadata_files and the listings into
-- listings, and deletes the staged update.

CREATE TABLE staged_updates (
    gun     text        NOT NULL,
    id      text        NOT NULL,
    created timestamptz NOT NULL,
    expires timestamptz NOT NULL,
    PRIMARY KEY (gun, id)
);

CREATE TABLE staged_parts (
    gun    text  NOT NULL,
    id     text  NOT NULL,
    name   text  NOT NULL,
    sha256 text  NOT NULL,
    data   bytea NOT NULL,
    PRIMARY KEY (gun, id, name),
    FOREIGN KEY (gun, id) REFERENCES staged_updates ON DELETE CASCADE
);

CREATE TABLE staged_listings (
    gun    text NOT NULL,
    id     text NOT NULL,
    digest text NOT NULL,
    path   text NOT NULL,
    role   text NOT NULL,
    until  timestamptz,
    PRIMARY KEY (gun, id, digest, path, role),
    FOREIGN KEY (gun, id) REFERENCES staged_updates ON DELETE CASCADE
);
