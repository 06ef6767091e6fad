-- berth metadata schema, version 6 (PostgreSQL): the scan index. Same as migrations/0006_scan_index.sql.
CREATE TABLE scan_index (
    manifest_id BIGINT NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    kind        TEXT COLLATE "C" NOT NULL CHECK (kind IN ('package', 'advisory')),
    key         TEXT COLLATE "C" NOT NULL,
    detail      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (kind, key, manifest_id, detail)
);
CREATE INDEX scan_index_by_manifest ON scan_index (manifest_id);
