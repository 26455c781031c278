-- passwordless-auth schema, SQLite. Frozen once released: change the schema with a new numbered file.
-- The runner applies each file in one transaction, so a failure leaves nothing half-applied.

CREATE TABLE users (
  id                 INTEGER PRIMARY KEY AUTOINCREMENT,
  email              TEXT    NOT NULL UNIQUE,           -- canonical form: NFKC, trimmed, lower case
  username           TEXT,
  role               TEXT    NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
  totp_secret_sealed TEXT    NOT NULL,                  -- AES-256-GCM, bound to the row id
  last_totp_step     INTEGER,                           -- replay guard: no code at or before this step again
  created_at         INTEGER NOT NULL                   -- epoch milliseconds, as every time column
);

CREATE TABLE devices (
  id           TEXT    PRIMARY KEY CHECK (length(id) = 32),
  user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  signature    TEXT    NOT NULL CHECK (length(signature) = 64),  -- HMAC-SHA256(secret, id); never the secret
  device_type  TEXT    NOT NULL,
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER
);
CREATE INDEX devices_user_id ON devices (user_id);

CREATE TABLE services (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT    NOT NULL UNIQUE,                    -- BINARY collation: exact, case-sensitive
  token_hash TEXT    NOT NULL,
  token_salt TEXT    NOT NULL,
  token_alg  TEXT    NOT NULL DEFAULT 'sha256',
  created_at INTEGER NOT NULL
);

CREATE TABLE grants (
  user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  service_id   INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
  scope        TEXT    NOT NULL DEFAULT '',
  token_sealed TEXT    NOT NULL,                         -- the user-service token, bound to (user, service)
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER,
  PRIMARY KEY (user_id, service_id)
);
CREATE INDEX grants_service_id ON grants (service_id);

CREATE TABLE proxy_tokens (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT    NOT NULL UNIQUE,
  token_hash TEXT    NOT NULL,
  token_salt TEXT    NOT NULL,
  token_alg  TEXT    NOT NULL DEFAULT 'sha256',
  created_at INTEGER NOT NULL
);
