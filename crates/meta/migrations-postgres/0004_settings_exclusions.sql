-- berth metadata schema, version 4 (PostgreSQL): tag mutability exclusions (a JSON array of wildcard
-- filters, NULL for none), and registry-wide settings. Same as migrations/0004_settings_exclusions.sql.
ALTER TABLE repository_settings ADD COLUMN tag_mutability_exclusions TEXT COLLATE "C";

CREATE TABLE registry_settings (
    name       TEXT COLLATE "C" PRIMARY KEY,
    value      TEXT COLLATE "C" NOT NULL,
    updated_at BIGINT NOT NULL
);
