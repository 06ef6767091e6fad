-- berth metadata schema, version 16 (PostgreSQL): online garbage collection. Same tables and triggers as
-- migrations/0016_garbage_collection.sql. What SQLite's single writer gives for free is taken here with an
-- advisory lock per digest (hashtext(digest) in namespace 1650815607): a blob commit starting and a review
-- deciding to delete the same digest are serialised by it (see postgres/gc.rs).
CREATE TABLE gc_blob_review_queue (
    digest       TEXT COLLATE "C" PRIMARY KEY,
    review_after BIGINT NOT NULL
);
CREATE INDEX gc_blob_review_queue_due ON gc_blob_review_queue (review_after);

CREATE FUNCTION gc_review_blob() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO gc_blob_review_queue (digest, review_after) VALUES (NEW.digest, 0) ON CONFLICT (digest) DO NOTHING;
    ELSE
        INSERT INTO gc_blob_review_queue (digest, review_after) VALUES (OLD.digest, 0)
            ON CONFLICT (digest) DO UPDATE SET review_after = 0;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER gc_review_link_insert AFTER INSERT ON repository_blobs
    FOR EACH ROW EXECUTE FUNCTION gc_review_blob();
CREATE TRIGGER gc_review_link_delete AFTER DELETE ON repository_blobs
    FOR EACH ROW EXECUTE FUNCTION gc_review_blob();
CREATE TRIGGER gc_review_reference_delete AFTER DELETE ON manifest_blobs
    FOR EACH ROW EXECUTE FUNCTION gc_review_blob();

CREATE TABLE gc_blob_commits (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest        TEXT COLLATE "C" NOT NULL,
    upload        TEXT COLLATE "C" NOT NULL,
    backend_state BYTEA  NOT NULL,
    owner         TEXT COLLATE "C" NOT NULL,
    started_at    BIGINT NOT NULL
);
CREATE INDEX gc_blob_commits_digest ON gc_blob_commits (digest);
CREATE INDEX gc_blob_commits_started ON gc_blob_commits (started_at);

CREATE TABLE gc_blob_deletions (
    digest     TEXT COLLATE "C" PRIMARY KEY,
    size       BIGINT NOT NULL CHECK (size >= 0),
    started_at BIGINT NOT NULL
);

CREATE TABLE gc_state (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    requested_at     BIGINT,
    -- Requests made (`berth gc run`) and the highest one a finished run served.
    requests         BIGINT NOT NULL DEFAULT 0,
    served           BIGINT NOT NULL DEFAULT 0,
    runs             BIGINT NOT NULL DEFAULT 0,
    last_started_at  BIGINT,
    last_finished_at BIGINT,
    links_removed    BIGINT NOT NULL DEFAULT 0,
    blobs_deleted    BIGINT NOT NULL DEFAULT 0,
    bytes_reclaimed  BIGINT NOT NULL DEFAULT 0
);
INSERT INTO gc_state (id) VALUES (1);

INSERT INTO gc_blob_review_queue (digest, review_after) SELECT digest, 0 FROM blobs;
