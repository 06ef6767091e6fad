-- berth metadata schema, version 5: vulnerability scanning.
--
-- Same conventions as 0001. Rows hang off the manifest they are about (ON DELETE CASCADE): deleting an
-- image deletes its scan, its queued job, nothing else.

-- The durable scan queue: at most one job per image. A worker claims a job by writing claimed_by and
-- claimed_at and renews claimed_at while it works; a claim older than the lease (a crashed node) may be
-- taken over by another worker.
CREATE TABLE scan_jobs (
    id          INTEGER PRIMARY KEY,
    manifest_id INTEGER NOT NULL UNIQUE REFERENCES manifests (id) ON DELETE CASCADE,
    reason      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    claimed_by  TEXT,
    claimed_at  INTEGER,
    attempts    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX scan_jobs_by_age ON scan_jobs (created_at, id);

-- The latest scan of each image: its status, the package inventory it read (JSON, re-matched after a
-- vulnerability database import without reading layers again), its findings (JSON) and when and against
-- which database they were evaluated.
CREATE TABLE image_scans (
    manifest_id        INTEGER PRIMARY KEY REFERENCES manifests (id) ON DELETE CASCADE,
    status             TEXT    NOT NULL CHECK (status IN ('IN_PROGRESS', 'COMPLETE', 'FAILED')),
    description        TEXT,
    started_at         INTEGER NOT NULL,
    completed_at       INTEGER,
    inventory          BLOB,
    findings           BLOB,
    sbom_digest        TEXT,
    vulndb             TEXT,
    evaluated_at       INTEGER
) STRICT;

-- What each layer blob holds that matters to the scanner (JSON), so that shared base layers are read once.
CREATE TABLE layer_analyses (
    digest     TEXT    PRIMARY KEY,
    analysis   BLOB    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
