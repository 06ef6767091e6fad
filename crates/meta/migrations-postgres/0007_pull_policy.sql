-- berth metadata schema, version 7 (PostgreSQL): a repository's pull policy (JSON), NULL for none. Same as
-- migrations/0007_pull_policy.sql.
ALTER TABLE repository_settings ADD COLUMN pull_policy TEXT COLLATE "C";
