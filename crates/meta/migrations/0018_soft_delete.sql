-- berth metadata schema, version 18: soft delete. A deleted image or repository is moved here, out of the
-- live tables (so nothing that lists, pulls or counts live content sees it), and stays restorable until
-- `purge_after`; then its rows are deleted, which queues its blobs for garbage collection review.

-- A deleted repository: its settings as they were (JSON, see berth-meta's `deleted` module), its images in
-- `deleted_images` with `deleted_repository_id` set.
CREATE TABLE deleted_repositories (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    -- NULL when the repository had no settings row (it existed through its content).
    settings    TEXT,
    created_at  INTEGER NOT NULL,
    deleted_at  INTEGER NOT NULL,
    purge_after INTEGER NOT NULL
) STRICT;
CREATE INDEX deleted_repositories_purge ON deleted_repositories (purge_after);

-- A deleted manifest with what it had: its row's columns, its tags and its index children (JSON arrays).
-- `repository` is the name (the repository row may be gone); an image deleted on its own has
-- `deleted_repository_id` NULL, one deleted with its repository names the repository's tombstone.
CREATE TABLE deleted_images (
    id                    INTEGER PRIMARY KEY,
    repository            TEXT    NOT NULL,
    deleted_repository_id INTEGER REFERENCES deleted_repositories (id) ON DELETE CASCADE,
    digest                TEXT    NOT NULL,
    media_type            TEXT    NOT NULL,
    content               BLOB    NOT NULL,
    size                  INTEGER NOT NULL CHECK (size >= 0),
    artifact_type         TEXT,
    subject_digest        TEXT,
    annotations           TEXT,
    config_digest         TEXT,
    platforms             TEXT,
    pushed_at             INTEGER NOT NULL,
    last_pulled_at        INTEGER,
    tags                  TEXT    NOT NULL,
    children              TEXT    NOT NULL,
    deleted_at            INTEGER NOT NULL,
    purge_after           INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX deleted_images_alone ON deleted_images (repository, digest) WHERE deleted_repository_id IS NULL;
CREATE UNIQUE INDEX deleted_images_with_repository ON deleted_images (deleted_repository_id, digest)
    WHERE deleted_repository_id IS NOT NULL;
CREATE INDEX deleted_images_purge ON deleted_images (purge_after);

-- The blobs a deleted image needs: they keep the blob rows (and so the bytes) alive until it is purged.
CREATE TABLE deleted_image_blobs (
    image_id INTEGER NOT NULL REFERENCES deleted_images (id) ON DELETE CASCADE,
    digest   TEXT    NOT NULL REFERENCES blobs (digest),
    PRIMARY KEY (image_id, digest)
) STRICT, WITHOUT ROWID;
CREATE INDEX deleted_image_blobs_digest ON deleted_image_blobs (digest);

-- A purge (or a restore, or a push that replaces the deleted image) may leave a blob unreferenced.
CREATE TRIGGER gc_review_deleted_reference_delete AFTER DELETE ON deleted_image_blobs BEGIN
    INSERT INTO gc_blob_review_queue (digest, review_after) VALUES (OLD.digest, 0)
        ON CONFLICT (digest) DO UPDATE SET review_after = 0;
END;
