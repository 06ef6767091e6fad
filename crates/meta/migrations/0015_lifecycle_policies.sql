-- berth metadata schema, version 15: lifecycle policies (ECR's document, kept as written) and the last
-- preview of each repository. Both hang off the settings row: setting a policy makes the repository
-- explicit, and deleting the repository deletes them.
CREATE TABLE repository_lifecycle_policies (
    repository_id     INTEGER PRIMARY KEY REFERENCES repository_settings (repository_id) ON DELETE CASCADE,
    policy_text       TEXT    NOT NULL,
    updated_at        INTEGER NOT NULL,
    -- When a run last evaluated the policy (NULL: never); the daily schedule reads it.
    last_evaluated_at INTEGER
) STRICT;

CREATE TABLE repository_lifecycle_previews (
    repository_id INTEGER PRIMARY KEY REFERENCES repository_settings (repository_id) ON DELETE CASCADE,
    policy_text   TEXT    NOT NULL,
    -- IN_PROGRESS, COMPLETE, EXPIRED or FAILED (ECR's LifecyclePolicyPreviewStatus).
    status        TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    -- The preview's results as JSON (NULL while in progress), written by berth-registry.
    result        TEXT
) STRICT;
