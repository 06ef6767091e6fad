-- berth metadata schema, version 25 (PostgreSQL): keys that sign and verify images.
-- Same table as migrations/0025_image_signing_keys.sql.
CREATE TABLE image_signing_keys (
    name           TEXT   COLLATE "C" PRIMARY KEY,
    public_key     TEXT   COLLATE "C" NOT NULL,
    sealed_private BYTEA,
    created_at     BIGINT NOT NULL
);
