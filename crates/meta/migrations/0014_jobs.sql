-- berth metadata schema, version 14: one durable job queue for every kind of background work (scans,
-- lifecycle runs, garbage collection, ...), replacing the scan-only `scan_jobs`.
--
-- Same conventions as 0001 (INTEGER Unix seconds, BINARY collation).
--
-- A job is `queued` until a worker claims it (`running`, with `lease_owner` and `lease_until`, renewed while
-- it works); it ends `succeeded`, `failed` (out of attempts, or a failure retrying cannot cure) or
-- `cancelled`. A failed attempt puts it back to `queued` with a later `run_after` (backoff). A running job
-- whose lease lapsed (its node died) may be claimed again. At most one live (queued or running) job per
-- (kind, key): queueing work already queued finds the live job instead. Finished jobs are kept for a while,
-- then pruned.
CREATE TABLE jobs (
    id                  INTEGER PRIMARY KEY,
    kind                TEXT    NOT NULL,
    key                 TEXT    NOT NULL,
    payload             TEXT    NOT NULL,
    state               TEXT    NOT NULL
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts        INTEGER NOT NULL CHECK (max_attempts >= 1),
    run_after           INTEGER NOT NULL,
    lease_owner         TEXT,
    lease_until         INTEGER,
    cancel_requested_at INTEGER,
    progress_done       INTEGER,
    progress_total      INTEGER,
    progress_message    TEXT,
    result              TEXT,
    error               TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    started_at          INTEGER,
    finished_at         INTEGER
) STRICT;
CREATE UNIQUE INDEX jobs_live_key ON jobs (kind, key) WHERE state IN ('queued', 'running');
-- What a worker claims next: queued jobs by due time, running ones by lease.
CREATE INDEX jobs_claimable ON jobs (state, run_after, id);
CREATE INDEX jobs_by_kind ON jobs (kind, id);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
-- Jobs per (kind, key) and creation time, for "at most once per period" scheduling.
CREATE INDEX jobs_by_key ON jobs (kind, key, created_at);

-- Queued and running scans move over as `scan` jobs (a running one is simply queued again).
INSERT INTO jobs (kind, key, payload, state, attempts, max_attempts, run_after, created_at, updated_at)
SELECT 'scan', r.name || '@' || m.digest,
       json_object('repository', r.name, 'digest', m.digest, 'reason', j.reason),
       'queued', 0, 3, j.created_at, j.created_at, j.created_at
FROM scan_jobs j JOIN manifests m ON m.id = j.manifest_id JOIN repositories r ON r.id = m.repository_id
ORDER BY j.created_at, j.id;

DROP TABLE scan_jobs;
