-- passwordless-auth schema, PostgreSQL 12+. Frozen once released: change the schema with a new numbered file.
-- The runner applies each file in one transaction (PostgreSQL rolls DDL back), so a failure leaves nothing
-- half-applied; so no statement here may refuse to run in a transaction (no CREATE INDEX CONCURRENTLY).
-- Times are BIGINT epoch milliseconds. Text columns that are matched or ordered use COLLATE "C": `=` on text is
-- exact and case-sensitive under any deterministic collation anyway, and "C" also sorts bytewise, as SQLite's
-- BINARY and MySQL's _bin collations do, whatever the database's locale. No CHAR(n): it pads with spaces.
-- Lengths follow the MySQL schema, so every database refuses the same oversized values.

CREATE TABLE users (
  id                 integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email              varchar(254) COLLATE "C" NOT NULL,   -- canonical form: NFKC, trimmed, lower case
  username           varchar(255),
  role               varchar(16)  COLLATE "C" NOT NULL DEFAULT 'user',
  totp_secret_sealed varchar(255) COLLATE "C" NOT NULL,   -- AES-256-GCM, bound to the row id
  last_totp_step     bigint,                              -- replay guard: no code at or before this step again
  created_at         bigint NOT NULL,                     -- epoch milliseconds, as every time column
  CONSTRAINT users_email UNIQUE (email),
  CONSTRAINT users_role CHECK (role IN ('admin', 'user'))
);

CREATE TABLE devices (
  id           text COLLATE "C" PRIMARY KEY CHECK (length(id) = 32),
  user_id      integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  signature    text COLLATE "C" NOT NULL CHECK (length(signature) = 64),  -- HMAC-SHA256(secret, id); never the secret
  device_type  varchar(64) NOT NULL,
  created_at   bigint NOT NULL,
  last_seen_at bigint
);
CREATE INDEX devices_user_id ON devices (user_id);

CREATE TABLE services (
  id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name       varchar(63)  COLLATE "C" NOT NULL,
  token_hash varchar(128) COLLATE "C" NOT NULL,
  token_salt varchar(64)  COLLATE "C" NOT NULL,
  token_alg  varchar(16)  COLLATE "C" NOT NULL DEFAULT 'sha256',
  created_at bigint NOT NULL,
  CONSTRAINT services_name UNIQUE (name)
);

CREATE TABLE grants (
  user_id      integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  service_id   integer NOT NULL REFERENCES services (id) ON DELETE CASCADE,
  scope        varchar(255) COLLATE "C" NOT NULL DEFAULT '',
  token_sealed varchar(255) COLLATE "C" NOT NULL,          -- the user-service token, bound to (user, service)
  created_at   bigint NOT NULL,
  last_seen_at bigint,
  PRIMARY KEY (user_id, service_id)
);
CREATE INDEX grants_service_id ON grants (service_id);

CREATE TABLE proxy_tokens (
  id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name       varchar(63)  COLLATE "C" NOT NULL,
  token_hash varchar(128) COLLATE "C" NOT NULL,
  token_salt varchar(64)  COLLATE "C" NOT NULL,
  token_alg  varchar(16)  COLLATE "C" NOT NULL DEFAULT 'sha256',
  created_at bigint NOT NULL,
  CONSTRAINT proxy_tokens_name UNIQUE (name)
);
