-- berth metadata schema, version 4: tag mutability exclusions, and registry-wide settings.
--
-- Same conventions as 0001.

-- Tags matching one of these wildcard filters (a JSON array of strings; `*` matches any run of
-- characters) take the opposite of image_tag_mutability: IMMUTABLE with exclusions is ECR's
-- IMMUTABLE_WITH_EXCLUSION, MUTABLE with exclusions MUTABLE_WITH_EXCLUSION. NULL: no exclusions.
ALTER TABLE repository_settings ADD COLUMN tag_mutability_exclusions TEXT;

-- Settings of the whole registry by name (the ECR-compatible API's account settings and registry scanning
-- configuration), each a JSON document owned by the layer that writes it.
CREATE TABLE registry_settings (
    name       TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
