-- berth metadata schema, version 20 (PostgreSQL): repository creation templates. Same table as
-- migrations/0020_repository_creation_templates.sql.
CREATE TABLE repository_creation_templates (
    prefix                    TEXT COLLATE "C" PRIMARY KEY,
    description               TEXT COLLATE "C" NOT NULL,
    encryption_type           TEXT COLLATE "C",
    kms_key                   TEXT COLLATE "C",
    resource_tags             TEXT COLLATE "C" NOT NULL,
    image_tag_mutability      TEXT COLLATE "C" NOT NULL CHECK (image_tag_mutability IN ('MUTABLE', 'IMMUTABLE')),
    tag_mutability_exclusions TEXT COLLATE "C",
    repository_policy         TEXT COLLATE "C",
    lifecycle_policy          TEXT COLLATE "C",
    applied_for               TEXT COLLATE "C" NOT NULL,
    custom_role_arn           TEXT COLLATE "C",
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);
