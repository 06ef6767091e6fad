-- The repository journal: manifests and tags are also kept as files beside the blobs (see berth-storage), so
-- that the metadata can be rebuilt from disk if this database is lost. Every change of a manifest or a tag
-- names its key here, in the transaction that makes it; an exporter writes the key's current state to disk
-- (off the request path) and then forgets the row. A key may be named many times; the exporter only ever
-- writes what the database holds when it reads, so order and repetitions do not matter.
CREATE TABLE journal_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    repository TEXT    NOT NULL,
    -- 'manifest' (name: its digest) or 'tag' (name: the tag).
    kind       TEXT    NOT NULL CHECK (kind IN ('manifest', 'tag')),
    name       TEXT    NOT NULL
) STRICT;

CREATE TRIGGER journal_manifest_insert AFTER INSERT ON manifests BEGIN
    INSERT INTO journal_changes (repository, kind, name)
        SELECT name, 'manifest', NEW.digest FROM repositories WHERE id = NEW.repository_id;
END;
CREATE TRIGGER journal_manifest_delete AFTER DELETE ON manifests BEGIN
    INSERT INTO journal_changes (repository, kind, name)
        SELECT name, 'manifest', OLD.digest FROM repositories WHERE id = OLD.repository_id;
END;
CREATE TRIGGER journal_tag_insert AFTER INSERT ON tags BEGIN
    INSERT INTO journal_changes (repository, kind, name)
        SELECT name, 'tag', NEW.name FROM repositories WHERE id = NEW.repository_id;
END;
CREATE TRIGGER journal_tag_update AFTER UPDATE ON tags BEGIN
    INSERT INTO journal_changes (repository, kind, name)
        SELECT name, 'tag', NEW.name FROM repositories WHERE id = NEW.repository_id;
END;
CREATE TRIGGER journal_tag_delete AFTER DELETE ON tags BEGIN
    INSERT INTO journal_changes (repository, kind, name)
        SELECT name, 'tag', OLD.name FROM repositories WHERE id = OLD.repository_id;
END;

-- Whatever a registry held before the journal existed is journaled once.
INSERT INTO journal_changes (repository, kind, name)
    SELECT r.name, 'manifest', m.digest FROM manifests m JOIN repositories r ON r.id = m.repository_id ORDER BY m.id;
INSERT INTO journal_changes (repository, kind, name)
    SELECT r.name, 'tag', t.name FROM tags t JOIN repositories r ON r.id = t.repository_id;
