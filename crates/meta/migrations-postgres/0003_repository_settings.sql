-- berth metadata schema, version 3 (PostgreSQL): repositories created explicitly and their settings. Same
-- tables as migrations/0003_repository_settings.sql.
CREATE TABLE repository_settings (
    repository_id        BIGINT PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    created_at           BIGINT NOT NULL,
    image_tag_mutability TEXT COLLATE "C" NOT NULL DEFAULT 'MUTABLE'
        CHECK (image_tag_mutability IN ('MUTABLE', 'IMMUTABLE')),
    scan_on_push         BOOLEAN NOT NULL DEFAULT false
);

-- Resource tags (key/value metadata on the repository, not image tags). Removed with the settings row.
CREATE TABLE repository_resource_tags (
    repository_id BIGINT NOT NULL REFERENCES repository_settings (repository_id) ON DELETE CASCADE,
    key           TEXT COLLATE "C" NOT NULL,
    value         TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (repository_id, key)
);
