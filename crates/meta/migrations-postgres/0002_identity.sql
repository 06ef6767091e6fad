-- berth metadata schema, version 2 (PostgreSQL): identities and access. Same tables as
-- migrations/0002_identity.sql; triggers call PL/pgSQL functions.

CREATE TABLE users (
    name          TEXT COLLATE "C" PRIMARY KEY,
    -- argon2id PHC string; NULL for users who sign in only with access keys.
    password_hash TEXT COLLATE "C",
    is_admin      BOOLEAN NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE access_keys (
    id            TEXT COLLATE "C" PRIMARY KEY,
    user_name     TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    sealed_secret BYTEA NOT NULL,
    active        BOOLEAN NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX access_keys_user ON access_keys (user_name, created_at, id);

CREATE TABLE groups (
    name       TEXT COLLATE "C" PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE group_members (
    group_name TEXT COLLATE "C" NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
    user_name  TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    PRIMARY KEY (group_name, user_name)
);
CREATE INDEX group_members_user ON group_members (user_name, group_name);

-- One policy document per target. Targets are named, not referenced (see the SQLite migration); user and
-- group policies are removed with their user or group by the triggers below.
CREATE TABLE policies (
    target_kind TEXT COLLATE "C" NOT NULL CHECK (target_kind IN ('user', 'group', 'repository', 'registry')),
    target_name TEXT COLLATE "C" NOT NULL,
    document    TEXT COLLATE "C" NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (target_kind, target_name),
    CHECK ((target_kind = 'registry') = (target_name = ''))
);

CREATE FUNCTION users_delete_policy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM policies WHERE target_kind = 'user' AND target_name = OLD.name;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_delete_policy AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION users_delete_policy();

CREATE FUNCTION groups_delete_policy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM policies WHERE target_kind = 'group' AND target_name = OLD.name;
    RETURN NULL;
END
$$;
CREATE TRIGGER groups_delete_policy AFTER DELETE ON groups FOR EACH ROW EXECUTE FUNCTION groups_delete_policy();

-- Visibility is a property of the repository row (survives the repository's content being deleted).
ALTER TABLE repositories ADD COLUMN visibility TEXT COLLATE "C" NOT NULL DEFAULT 'private'
    CHECK (visibility IN ('private', 'public'));
CREATE INDEX repositories_public ON repositories (name) WHERE visibility = 'public';

CREATE TABLE robot_tokens (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL,
    owner       TEXT COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    secret_hash TEXT COLLATE "C" NOT NULL,
    scope       TEXT COLLATE "C" NOT NULL,
    expires_at  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX robot_tokens_owner ON robot_tokens (owner, created_at, id);

-- `seq` orders keys created in the same second ("newest first" = inserted last), as SQLite's rowid does.
CREATE TABLE signing_keys (
    kid            TEXT COLLATE "C" PRIMARY KEY,
    sealed_private BYTEA NOT NULL,
    created_at     BIGINT NOT NULL,
    retired_at     BIGINT,
    seq            BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
);

-- Ids only ever increase (a sequence never hands a value out twice). Appends are serialised by an advisory
-- lock (see the Rust side) so that ids also increase in commit order: `id > after` never skips a record.
CREATE TABLE audit_log (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        BIGINT NOT NULL,
    principal TEXT COLLATE "C" NOT NULL,
    action    TEXT COLLATE "C" NOT NULL,
    resource  TEXT COLLATE "C" NOT NULL,
    source_ip TEXT COLLATE "C" NOT NULL,
    outcome   TEXT COLLATE "C" NOT NULL,
    status    BIGINT NOT NULL CHECK (status BETWEEN 0 AND 65535),
    detail    TEXT COLLATE "C"
);
CREATE INDEX audit_log_at ON audit_log (at);
