-- berth metadata schema, version 23: webhook subscriptions and their delivery log.
--
-- Same conventions as 0001 (INTEGER Unix seconds, BINARY collation).
--
-- A subscription: where registry events matching `events` (comma-separated event names, e.g.
-- `image.push,scan.complete`) in repositories matching `repository_filter` (a glob, `*` for every one) are
-- sent. The signing secret is sealed with the master key (it must be recoverable to sign). After
-- `consecutive_failures` reaches the configured limit the subscription is `disabled`, with the reason.
CREATE TABLE webhooks (
    id                   INTEGER PRIMARY KEY,
    url                  TEXT    NOT NULL,
    events               TEXT    NOT NULL,
    repository_filter    TEXT    NOT NULL,
    sealed_secret        BLOB    NOT NULL,
    state                TEXT    NOT NULL CHECK (state IN ('enabled', 'disabled')),
    disabled_reason      TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    created_by           TEXT    NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
) STRICT;

-- One row per attempt at sending one event to one subscription: HTTP status (NULL when no response came)
-- or the error, how long it took. Removed with the subscription.
CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY,
    webhook_id  INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id    TEXT    NOT NULL,
    event_type  TEXT    NOT NULL,
    attempt     INTEGER NOT NULL CHECK (attempt >= 1),
    at          INTEGER NOT NULL,
    status_code INTEGER,
    error       TEXT,
    duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
    succeeded   INTEGER NOT NULL CHECK (succeeded IN (0, 1))
) STRICT;
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);
