-- berth metadata schema, version 3: repositories created explicitly (the ECR-compatible API's
-- CreateRepository) and their settings.
--
-- Same conventions as 0001 (INTEGER Unix seconds, BINARY collation, booleans INTEGER 0/1).
--
-- A repository now exists while it has a blob link, a manifest, *or a settings row*: CreateRepository
-- inserts the row, so an empty repository exists (in the catalog, `tags/list` answers an empty list);
-- DeleteRepository removes the row together with the content. A repository created by a push has no row
-- and the defaults below; deleting all its content through /v2 still makes it disappear, as before. An
-- explicitly created repository stays when its content is deleted through /v2 (as in ECR).
CREATE TABLE repository_settings (
    repository_id        INTEGER PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    -- When CreateRepository made it (the repositories row may be older: visibility or a policy can be set
    -- before a repository exists, and the row outlives deleted content for its usage counters).
    created_at           INTEGER NOT NULL,
    -- IMMUTABLE: a tag, once pushed, cannot be moved to another manifest (enforced by put_manifest).
    image_tag_mutability TEXT    NOT NULL DEFAULT 'MUTABLE'
        CHECK (image_tag_mutability IN ('MUTABLE', 'IMMUTABLE')),
    scan_on_push         INTEGER NOT NULL DEFAULT 0 CHECK (scan_on_push IN (0, 1))
) STRICT;

-- Resource tags (key/value metadata on the repository, not image tags). Removed with the settings row.
CREATE TABLE repository_resource_tags (
    repository_id INTEGER NOT NULL REFERENCES repository_settings (repository_id) ON DELETE CASCADE,
    key           TEXT    NOT NULL,
    value         TEXT    NOT NULL,
    PRIMARY KEY (repository_id, key)
) STRICT, WITHOUT ROWID;
