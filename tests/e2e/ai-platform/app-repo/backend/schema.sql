-- The guide's tables and indexes (G20), as a migration would create them.
CREATE TABLE IF NOT EXISTS users (id serial PRIMARY KEY, email text NOT NULL);
CREATE TABLE IF NOT EXISTS conversations (id serial PRIMARY KEY, user_id int REFERENCES users(id));
CREATE INDEX IF NOT EXISTS idx_users_email ON users(email);
CREATE INDEX IF NOT EXISTS idx_conversations_user_id ON conversations(user_id);
CREATE TABLE IF NOT EXISTS migrations_run (release text, at timestamptz DEFAULT now());
