-- berth metadata schema, version 20: repository creation templates (ECR's), the settings a repository
-- created by a push (or, later, by pull-through caching or replication) starts with.
--
-- Same conventions as 0001 (INTEGER Unix seconds, BINARY collation). One row per prefix: `ROOT`, or a
-- namespace prefix without its trailing '/'. JSON columns are written and read by berth-meta only.
CREATE TABLE repository_creation_templates (
    prefix                    TEXT    PRIMARY KEY,
    description               TEXT    NOT NULL,
    -- ECR's encryptionType (berth accepts AES256 only) and kmsKey; NULL when not given.
    encryption_type           TEXT,
    kms_key                   TEXT,
    -- JSON array of [key, value] pairs.
    resource_tags             TEXT    NOT NULL,
    image_tag_mutability      TEXT    NOT NULL CHECK (image_tag_mutability IN ('MUTABLE', 'IMMUTABLE')),
    -- JSON array of wildcard filters, NULL when there are none (as repository_settings).
    tag_mutability_exclusions TEXT,
    repository_policy         TEXT,
    lifecycle_policy          TEXT,
    -- JSON array of ECR's RCTAppliedFor values.
    applied_for               TEXT    NOT NULL,
    custom_role_arn           TEXT,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
