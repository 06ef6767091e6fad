-- berth metadata schema, version 16: online garbage collection (see ARCHITECTURE.md, "Garbage collection").
--
-- A blob's bytes are reclaimed once no manifest of any repository needs it and no repository links it.
-- Nothing stops for it: pushes and pulls go on while the collector works, and every decision is re-checked
-- inside the transaction that acts on it.

-- Blobs to look at: named by triggers whenever something that may leave a blob unreferenced happens (a link
-- appears or goes, a manifest's blob reference goes). A review that finds a link younger than the grace
-- period puts the digest back with `review_after` = the link's time + grace. Correctness never depends on
-- this table: a review re-checks everything under lock; the queue only says where to look.
CREATE TABLE gc_blob_review_queue (
    digest       TEXT    PRIMARY KEY,
    review_after INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX gc_blob_review_queue_due ON gc_blob_review_queue (review_after);

CREATE TRIGGER gc_review_link_insert AFTER INSERT ON repository_blobs BEGIN
    INSERT INTO gc_blob_review_queue (digest, review_after) VALUES (NEW.digest, 0) ON CONFLICT (digest) DO NOTHING;
END;
CREATE TRIGGER gc_review_link_delete AFTER DELETE ON repository_blobs BEGIN
    INSERT INTO gc_blob_review_queue (digest, review_after) VALUES (OLD.digest, 0)
        ON CONFLICT (digest) DO UPDATE SET review_after = 0;
END;
CREATE TRIGGER gc_review_reference_delete AFTER DELETE ON manifest_blobs BEGIN
    INSERT INTO gc_blob_review_queue (digest, review_after) VALUES (OLD.digest, 0)
        ON CONFLICT (digest) DO UPDATE SET review_after = 0;
END;

-- Blob commits in flight: written (with the upload session's removal) before a push moves verified bytes to
-- `blobs/`, removed in the transaction that links them. The collector never deletes a digest with a commit in
-- flight, and a commit never starts while the digest is being deleted (`gc_blob_deletions`). A row left by a
-- crash names bytes that may lie in `blobs/` or `uploads/<upload>` with no row: the collector removes them
-- once the row is stale.
CREATE TABLE gc_blob_commits (
    id            INTEGER PRIMARY KEY,
    digest        TEXT    NOT NULL,
    upload        TEXT    NOT NULL,
    backend_state BLOB    NOT NULL,
    owner         TEXT    NOT NULL,
    started_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX gc_blob_commits_digest ON gc_blob_commits (digest);
CREATE INDEX gc_blob_commits_started ON gc_blob_commits (started_at);

-- Blobs whose row is gone and whose bytes are being deleted. Written in the transaction that removes the blob
-- row, removed after the bytes are gone: a crash in between is finished by the next pass.
CREATE TABLE gc_blob_deletions (
    digest     TEXT    PRIMARY KEY,
    size       INTEGER NOT NULL CHECK (size >= 0),
    started_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- The collector's totals and the last run (one row).
CREATE TABLE gc_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    requested_at    INTEGER,
    -- Requests made (`berth gc run`) and the highest one a finished run served.
    requests         INTEGER NOT NULL DEFAULT 0,
    served           INTEGER NOT NULL DEFAULT 0,
    runs            INTEGER NOT NULL DEFAULT 0,
    last_started_at INTEGER,
    last_finished_at INTEGER,
    links_removed   INTEGER NOT NULL DEFAULT 0,
    blobs_deleted   INTEGER NOT NULL DEFAULT 0,
    bytes_reclaimed INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO gc_state (id) VALUES (1);

-- What earlier versions left behind (deleted images, deleted repositories) is looked at once.
INSERT INTO gc_blob_review_queue (digest, review_after) SELECT digest, 0 FROM blobs;
