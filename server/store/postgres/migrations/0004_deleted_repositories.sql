-- Rampart server schema, version 4: the GUNs that were deleted. A deleted
-- GUN's online keys are destroyed, and creating it again needs an admin
-- token.

CREATE TABLE deleted_repositories (
    gun        text        PRIMARY KEY,
    deleted_at timestamptz NOT NULL DEFAULT now()
);
