-- berth metadata schema, version 8 (PostgreSQL): users get an id that is never reused. Same as
-- migrations/0008_user_ids.sql (128 random bits as hex there, a random UUID's 122 here).
ALTER TABLE users ADD COLUMN id TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE users SET id = replace(gen_random_uuid()::text, '-', '') WHERE id = '';
CREATE UNIQUE INDEX users_id ON users (id);
