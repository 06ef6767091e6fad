-- Users get an id that is never reused: credentials issued without a database row (login passwords,
-- bearer tokens) name the user by it, so they die with the user and do not come back to life when a new
-- user takes the same name.
ALTER TABLE users ADD COLUMN id TEXT NOT NULL DEFAULT '';
UPDATE users SET id = lower(hex(randomblob(16))) WHERE id = '';
CREATE UNIQUE INDEX users_id ON users (id);
