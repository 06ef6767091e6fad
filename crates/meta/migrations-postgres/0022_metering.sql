-- berth metadata schema, version 22 (PostgreSQL): metering and hourly storage snapshots.
-- Same tables as migrations/0022_metering.sql.
CREATE TABLE meter (
    hour       BIGINT NOT NULL,
    repository TEXT   COLLATE "C" NOT NULL,
    subject    TEXT   COLLATE "C" NOT NULL,
    operation  TEXT   COLLATE "C" NOT NULL,
    requests   BIGINT NOT NULL CHECK (requests >= 0),
    bytes_in   BIGINT NOT NULL CHECK (bytes_in >= 0),
    bytes_out  BIGINT NOT NULL CHECK (bytes_out >= 0),
    PRIMARY KEY (hour, repository, subject, operation)
);

CREATE TABLE storage_hourly (
    hour         BIGINT NOT NULL,
    repository   TEXT   COLLATE "C" NOT NULL,
    stored_bytes BIGINT NOT NULL CHECK (stored_bytes >= 0),
    PRIMARY KEY (hour, repository)
);
