-- berth metadata schema, version 19: pull time update exclusions and archived images.
--
-- Same conventions as 0001 (INTEGER Unix seconds, BINARY collation).
--
-- Principals (IAM-style ARNs: `arn:aws:iam::ACCOUNT:user/NAME`, `...:role/robot/NAME`) whose pulls do not
-- update a manifest's `last_pulled_at` (ECR's pull time update exclusions), for the whole registry.
CREATE TABLE pull_time_exclusions (
    principal_arn TEXT    PRIMARY KEY,
    created_at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- The storage state of a manifest once it was first archived (a manifest without a row is ACTIVE and was
-- never archived). ARCHIVED refuses pulls; ACTIVATING is a restore in progress (a job completes it);
-- ACTIVE after a restore keeps the times. Goes with its manifest.
CREATE TABLE image_storage (
    manifest_id       INTEGER PRIMARY KEY REFERENCES manifests (id) ON DELETE CASCADE,
    status            TEXT    NOT NULL CHECK (status IN ('ACTIVE', 'ARCHIVED', 'ACTIVATING')),
    last_archived_at  INTEGER,
    last_activated_at INTEGER
) STRICT;
-- Images in a state other than ACTIVE (listing filters, the restore jobs' upkeep, accounting).
CREATE INDEX image_storage_inactive ON image_storage (status) WHERE status <> 'ACTIVE';
