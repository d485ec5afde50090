-- Rampart server schema, version 1.

CREATE TABLE repositories (
    gun               text        PRIMARY KEY,
    root_version      bigint      NOT NULL,
    snapshot_version  bigint      NOT NULL,
    timestamp_version bigint      NOT NULL,
    timestamp_expires timestamptz NOT NULL,
    snapshot_expires  timestamptz NOT NULL,
    snapshot_online   boolean     NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX repositories_timestamp_expires ON repositories (timestamp_expires);

-- Every version of every role's document. Rows are immutable.
CREATE TABLE metadata_files (
    gun        text        NOT NULL,
    role       text        NOT NULL,
    version    bigint      NOT NULL CHECK (version > 0),
    sha256     text        NOT NULL,
    data       bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gun, role, version)
);

CREATE TABLE changefeed (
    id         bigserial   PRIMARY KEY,
    gun        text        NOT NULL,
    version    bigint      NOT NULL,
    sha256     text        NOT NULL,
    category   text        NOT NULL CHECK (category IN ('update', 'deletion')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX changefeed_gun_id ON changefeed (gun, id);

CREATE TABLE tokens (
    hash        text        PRIMARY KEY,
    gun_prefix  text        NOT NULL,
    scope       text        NOT NULL CHECK (scope IN ('pull', 'push', 'admin')),
    description text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE online_keys (
    id         bigserial   PRIMARY KEY,
    gun        text        NOT NULL,
    role       text        NOT NULL CHECK (role IN ('timestamp', 'snapshot')),
    key_id     text        NOT NULL,
    public     bytea       NOT NULL,
    private    bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (gun, role, key_id)
);
CREATE INDEX online_keys_gun_role ON online_keys (gun, role, id);

CREATE TABLE targets (
    gun        text        NOT NULL,
    sha256     text        NOT NULL,
    sha512     text        NOT NULL,
    length     bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gun, sha256)
);
CREATE INDEX targets_gun_sha512 ON targets (gun, sha512);
