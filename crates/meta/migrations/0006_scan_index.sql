-- berth metadata schema, version 6: what scanned images contain and what affects them, for the questions
-- "which images are affected by ID" and "which images contain package P". Derived from image_scans (rewritten
-- with each scan and each re-evaluation); deleted with the image.
CREATE TABLE scan_index (
    manifest_id INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    -- 'package': key is the package name in lower case; 'advisory': key is an advisory id or one of its aliases.
    kind        TEXT    NOT NULL CHECK (kind IN ('package', 'advisory')),
    key         TEXT    NOT NULL,
    -- package: "name version ecosystem"; advisory: "package version" it affects.
    detail      TEXT    NOT NULL,
    PRIMARY KEY (kind, key, manifest_id, detail)
) STRICT, WITHOUT ROWID;
CREATE INDEX scan_index_by_manifest ON scan_index (manifest_id);
