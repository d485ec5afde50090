-- Rampart server schema, version 5: which target content the metadata of
-- each repository lists, by digest and path (the server serves only that),
-- and until when content that a role no longer lists stays served (NULL:
-- listed by the role's current version). A row with empty digest, path
-- and role marks a repository whose listings are complete.

CREATE TABLE listings (
    gun    text        NOT NULL,
    digest text        NOT NULL,
    path   text        NOT NULL,
    role   text        NOT NULL,
    until  timestamptz,
    PRIMARY KEY (gun, digest, path, role)
);
