-- berth metadata schema, version 11 (PostgreSQL): the repository journal's change feed. Same table and
-- triggers as migrations/0011_repository_journal.sql, plus one thing SQLite's single writer gives for free:
--
-- The exporter reads the feed up to some `seq` and then forgets everything up to it. With concurrent
-- writers a `seq` is drawn before its transaction commits, so a transaction could commit a lower `seq`
-- after the exporter read past it, and the exporter would forget a change it never saw. So every
-- transaction that names a change takes the advisory lock (1650815604, 1) in shared mode (held until it
-- ends), and the exporter reads the feed holding it exclusively: it waits for the writers in flight and
-- sees every `seq` drawn before its read.
CREATE TABLE journal_changes (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repository TEXT COLLATE "C" NOT NULL,
    -- 'manifest' (name: its digest) or 'tag' (name: the tag).
    kind       TEXT COLLATE "C" NOT NULL CHECK (kind IN ('manifest', 'tag')),
    name       TEXT COLLATE "C" NOT NULL
);

CREATE FUNCTION journal_manifest_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed manifests%ROWTYPE;
BEGIN
    IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
    PERFORM pg_advisory_xact_lock_shared(1650815604, 1);
    INSERT INTO journal_changes (repository, kind, name)
        SELECT name, 'manifest', changed.digest FROM repositories WHERE id = changed.repository_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER journal_manifest_insert AFTER INSERT ON manifests
    FOR EACH ROW EXECUTE FUNCTION journal_manifest_change();
CREATE TRIGGER journal_manifest_delete AFTER DELETE ON manifests
    FOR EACH ROW EXECUTE FUNCTION journal_manifest_change();

CREATE FUNCTION journal_tag_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed tags%ROWTYPE;
BEGIN
    IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
    PERFORM pg_advisory_xact_lock_shared(1650815604, 1);
    INSERT INTO journal_changes (repository, kind, name)
        SELECT name, 'tag', changed.name FROM repositories WHERE id = changed.repository_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER journal_tag_insert AFTER INSERT ON tags FOR EACH ROW EXECUTE FUNCTION journal_tag_change();
CREATE TRIGGER journal_tag_update AFTER UPDATE ON tags FOR EACH ROW EXECUTE FUNCTION journal_tag_change();
CREATE TRIGGER journal_tag_delete AFTER DELETE ON tags FOR EACH ROW EXECUTE FUNCTION journal_tag_change();

-- Whatever a registry held before the journal existed is journaled once.
INSERT INTO journal_changes (repository, kind, name)
    SELECT r.name, 'manifest', m.digest FROM manifests m JOIN repositories r ON r.id = m.repository_id ORDER BY m.id;
INSERT INTO journal_changes (repository, kind, name)
    SELECT r.name, 'tag', t.name FROM tags t JOIN repositories r ON r.id = t.repository_id;
