-- passwordless-auth schema, MySQL 8 / MariaDB 10.6+. Frozen once released: change it with a new numbered file.
-- MySQL commits every DDL statement on its own, so no transaction can hold a migration together. Instead every
-- statement here is idempotent (IF NOT EXISTS) and the runner records progress after each one: a run that
-- stopped half-way is finished by the next run, and a migration counts as applied only when all of it is.
-- Names and ids use binary collations, so lookups are exact and case-sensitive (the server default is not).

CREATE TABLE IF NOT EXISTS users (
  id                 INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  email              VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  username           VARCHAR(255) NULL,
  role               VARCHAR(16)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'user',
  totp_secret_sealed VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  last_totp_step     BIGINT NULL,
  created_at         BIGINT NOT NULL,
  UNIQUE KEY users_email (email),
  CONSTRAINT users_role CHECK (role IN ('admin', 'user'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS devices (
  id           CHAR(32)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  user_id      INT UNSIGNED NOT NULL,
  signature    CHAR(64)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  device_type  VARCHAR(64)  NOT NULL,
  created_at   BIGINT NOT NULL,
  last_seen_at BIGINT NULL,
  KEY devices_user_id (user_id),
  CONSTRAINT devices_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS services (
  id         INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name       VARCHAR(63)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  token_hash VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  token_salt VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  token_alg  VARCHAR(16)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'sha256',
  created_at BIGINT NOT NULL,
  UNIQUE KEY services_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS grants (
  user_id      INT UNSIGNED NOT NULL,
  service_id   INT UNSIGNED NOT NULL,
  scope        VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
  token_sealed VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  created_at   BIGINT NOT NULL,
  last_seen_at BIGINT NULL,
  PRIMARY KEY (user_id, service_id),
  KEY grants_service_id (service_id),
  CONSTRAINT grants_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT grants_service FOREIGN KEY (service_id) REFERENCES services (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS proxy_tokens (
  id         INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name       VARCHAR(63)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  token_hash VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  token_salt VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  token_alg  VARCHAR(16)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'sha256',
  created_at BIGINT NOT NULL,
  UNIQUE KEY proxy_tokens_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
