-- berth metadata schema, version 1.
--
-- Conventions: digests are stored in their string form (`algorithm:hex`), times as INTEGER Unix seconds,
-- sizes and counters as INTEGER (the Rust side converts to and from u64 and rejects out-of-range values).
-- Text comparisons use SQLite's default BINARY collation, so "lexical order" is byte order everywhere.

-- A repository row is an identity (and the owner of usage counters). Whether a repository "exists" for the
-- catalog is derived: it has at least one blob link or one manifest (see the Rust side).
CREATE TABLE repositories (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
) STRICT;

-- Blobs known to be committed in storage, across all repositories.
CREATE TABLE blobs (
    digest     TEXT    PRIMARY KEY,
    size       INTEGER NOT NULL CHECK (size >= 0),
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Which repository may serve which blob. Deleting a blob row is refused while a link exists.
CREATE TABLE repository_blobs (
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest        TEXT    NOT NULL REFERENCES blobs (digest),
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (repository_id, digest)
) STRICT, WITHOUT ROWID;
-- "Which repositories link this blob?" (garbage collection).
CREATE INDEX repository_blobs_digest ON repository_blobs (digest);

CREATE TABLE manifests (
    id             INTEGER PRIMARY KEY,
    repository_id  INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest         TEXT    NOT NULL,
    media_type     TEXT    NOT NULL,
    content        BLOB    NOT NULL,
    size           INTEGER NOT NULL CHECK (size >= 0),
    artifact_type  TEXT,
    subject_digest TEXT,
    -- JSON object text, served as-is in referrers responses.
    annotations    TEXT,
    config_digest  TEXT,
    -- For an index: JSON array of the children's platforms.
    platforms      TEXT,
    pushed_at      INTEGER NOT NULL,
    last_pulled_at INTEGER,
    UNIQUE (repository_id, digest)
) STRICT;
-- Referrers lookup by (repository, subject), already in digest order; the optional artifact-type filter is
-- applied to the few rows found. Partial: most manifests have no subject.
CREATE INDEX manifests_subject ON manifests (repository_id, subject_digest, digest)
    WHERE subject_digest IS NOT NULL;

-- Blobs a manifest needs (config and non-foreign layers): what garbage collection must keep.
-- References `blobs` so a blob still needed by a manifest cannot be forgotten.
CREATE TABLE manifest_blobs (
    manifest_id INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    digest      TEXT    NOT NULL REFERENCES blobs (digest),
    PRIMARY KEY (manifest_id, digest)
) STRICT, WITHOUT ROWID;
-- "Is this blob still referenced by any manifest?" (garbage collection).
CREATE INDEX manifest_blobs_digest ON manifest_blobs (digest);

-- Manifests an index references (by digest, in the index's repository). No foreign key on the child: a
-- child may be deleted on its own, and the index row then points at nothing (as in the distribution spec).
CREATE TABLE manifest_children (
    manifest_id  INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    child_digest TEXT    NOT NULL,
    PRIMARY KEY (manifest_id, child_digest)
) STRICT, WITHOUT ROWID;
-- "Is this manifest referenced by an index?" (garbage collection).
CREATE INDEX manifest_children_child ON manifest_children (child_digest);

CREATE TABLE tags (
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    manifest_id   INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (repository_id, name)
) STRICT, WITHOUT ROWID;
-- Tags of a manifest (cascade on manifest delete, "which tags point here").
CREATE INDEX tags_manifest ON tags (manifest_id);

-- Upload sessions. Keyed by repository *name*, not id: starting an upload must not create a repository.
CREATE TABLE uploads (
    id            TEXT    PRIMARY KEY,
    repository    TEXT    NOT NULL,
    size          INTEGER NOT NULL CHECK (size >= 0),
    hash_state    BLOB    NOT NULL,
    backend_state BLOB    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
-- Expiry scan.
CREATE INDEX uploads_updated_at ON uploads (updated_at);

CREATE TABLE usage (
    repository_id INTEGER PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    bytes_in      INTEGER NOT NULL DEFAULT 0 CHECK (bytes_in >= 0),
    bytes_out     INTEGER NOT NULL DEFAULT 0 CHECK (bytes_out >= 0),
    pulls         INTEGER NOT NULL DEFAULT 0 CHECK (pulls >= 0)
) STRICT;
