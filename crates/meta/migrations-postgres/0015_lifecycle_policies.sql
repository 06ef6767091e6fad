-- berth metadata schema, version 15 (PostgreSQL): lifecycle policies and their last preview. Same tables as
-- migrations/0015_lifecycle_policies.sql.
CREATE TABLE repository_lifecycle_policies (
    repository_id     BIGINT PRIMARY KEY REFERENCES repository_settings (repository_id) ON DELETE CASCADE,
    policy_text       TEXT COLLATE "C" NOT NULL,
    updated_at        BIGINT NOT NULL,
    last_evaluated_at BIGINT
);

CREATE TABLE repository_lifecycle_previews (
    repository_id BIGINT PRIMARY KEY REFERENCES repository_settings (repository_id) ON DELETE CASCADE,
    policy_text   TEXT COLLATE "C" NOT NULL,
    status        TEXT COLLATE "C" NOT NULL,
    started_at    BIGINT NOT NULL,
    result        TEXT COLLATE "C"
);
