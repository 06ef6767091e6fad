-- berth metadata schema, version 2: identities and access.
--
-- Same conventions as 0001 (INTEGER Unix seconds, BINARY collation). Secrets are never stored in the clear:
-- passwords and robot-token secrets are argon2 hashes, access-key secrets and signing keys are sealed
-- (encrypted with the server's master key) by the caller. Booleans are INTEGER 0/1.

CREATE TABLE users (
    name          TEXT    PRIMARY KEY,
    -- argon2id PHC string; NULL for users who sign in only with access keys.
    password_hash TEXT,
    is_admin      INTEGER NOT NULL CHECK (is_admin IN (0, 1)),
    created_at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE access_keys (
    id            TEXT    PRIMARY KEY,
    user_name     TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    sealed_secret BLOB    NOT NULL,
    active        INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
) STRICT, WITHOUT ROWID;
-- A user's keys (listing, and the cascade when the user is deleted).
CREATE INDEX access_keys_user ON access_keys (user_name, created_at, id);

CREATE TABLE groups (
    name       TEXT    PRIMARY KEY,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE group_members (
    group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
    user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    PRIMARY KEY (group_name, user_name)
) STRICT, WITHOUT ROWID;
-- A user's groups (authorisation, and the cascade when the user is deleted).
CREATE INDEX group_members_user ON group_members (user_name, group_name);

-- One policy document per target. Targets are named, not referenced: repository targets name repositories
-- whose row may come and go with their content, and the registry target has no row at all (its name is '').
-- User and group policies are removed with their user or group by the triggers below.
CREATE TABLE policies (
    target_kind TEXT    NOT NULL CHECK (target_kind IN ('user', 'group', 'repository', 'registry')),
    target_name TEXT    NOT NULL,
    document    TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (target_kind, target_name),
    CHECK ((target_kind = 'registry') = (target_name = ''))
) STRICT, WITHOUT ROWID;

CREATE TRIGGER users_delete_policy AFTER DELETE ON users FOR EACH ROW
BEGIN
    DELETE FROM policies WHERE target_kind = 'user' AND target_name = OLD.name;
END;

CREATE TRIGGER groups_delete_policy AFTER DELETE ON groups FOR EACH ROW
BEGIN
    DELETE FROM policies WHERE target_kind = 'group' AND target_name = OLD.name;
END;

-- Visibility is a property of the repository row: it is set (and the row created) before the first push,
-- and survives the repository's content being deleted, like the usage counters.
ALTER TABLE repositories ADD COLUMN visibility TEXT NOT NULL DEFAULT 'private'
    CHECK (visibility IN ('private', 'public'));
-- The public catalog. Partial: most repositories are private.
CREATE INDEX repositories_public ON repositories (name) WHERE visibility = 'public';

CREATE TABLE robot_tokens (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    owner       TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    -- argon2id hash of the token's secret part.
    secret_hash TEXT    NOT NULL,
    -- Identity policy document (JSON) limiting what the token may do.
    scope       TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
-- An owner's tokens (listing, and the cascade when the owner is deleted).
CREATE INDEX robot_tokens_owner ON robot_tokens (owner, created_at, id);

-- With a rowid: it orders keys created in the same second ("newest first" = inserted last).
CREATE TABLE signing_keys (
    kid            TEXT    PRIMARY KEY,
    sealed_private BLOB    NOT NULL,
    created_at     INTEGER NOT NULL,
    retired_at     INTEGER
) STRICT;

-- AUTOINCREMENT: ids only ever increase, so `id > after` pages through the log even if old records are
-- removed one day.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    principal TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    resource  TEXT    NOT NULL,
    source_ip TEXT    NOT NULL,
    outcome   TEXT    NOT NULL,
    status    INTEGER NOT NULL CHECK (status BETWEEN 0 AND 65535),
    detail    TEXT
) STRICT;
CREATE INDEX audit_log_at ON audit_log (at);
