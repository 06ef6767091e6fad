-- berth metadata schema, version 12 (PostgreSQL): a repository's catalog data (the public gallery's
-- description, about and usage texts). Same table as migrations/0012_catalog_data.sql.
CREATE TABLE repository_catalog_data (
    repository_id     BIGINT PRIMARY KEY REFERENCES repository_settings (repository_id) ON DELETE CASCADE,
    description       TEXT COLLATE "C" NOT NULL DEFAULT '',
    about_text        TEXT COLLATE "C" NOT NULL DEFAULT '',
    usage_text        TEXT COLLATE "C" NOT NULL DEFAULT '',
    architectures     TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    operating_systems TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    updated_at        BIGINT NOT NULL
);
