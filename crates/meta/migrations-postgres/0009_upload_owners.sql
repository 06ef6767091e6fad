-- berth metadata schema, version 9 (PostgreSQL): upload sessions record who started them. Same as
-- migrations/0009_upload_owners.sql.
ALTER TABLE uploads ADD COLUMN owner TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX uploads_repository ON uploads (repository);
CREATE INDEX uploads_owner ON uploads (owner);
