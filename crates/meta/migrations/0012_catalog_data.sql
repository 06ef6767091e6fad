-- berth metadata schema, version 12: what the public gallery shows of a repository (ECR Public's "catalog
-- data"): a one-line description, "about" and "usage" texts, and the architectures and operating systems
-- it claims (JSON arrays of strings). Plain text; the console renders it escaped. Removed with the settings
-- row, so with the repository.
CREATE TABLE repository_catalog_data (
    repository_id     INTEGER PRIMARY KEY REFERENCES repository_settings (repository_id) ON DELETE CASCADE,
    description       TEXT    NOT NULL DEFAULT '',
    about_text        TEXT    NOT NULL DEFAULT '',
    usage_text        TEXT    NOT NULL DEFAULT '',
    architectures     TEXT    NOT NULL DEFAULT '[]',
    operating_systems TEXT    NOT NULL DEFAULT '[]',
    updated_at        INTEGER NOT NULL
) STRICT;
