-- berth metadata schema, version 9: upload sessions record who started them (a principal label such as
-- `user/alice`, `robot/ci`, `anonymous`; empty for sessions started before this version), so that open
-- sessions can be capped per principal as well as per repository. Both counts use an index.
ALTER TABLE uploads ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX uploads_repository ON uploads (repository);
CREATE INDEX uploads_owner ON uploads (owner);
