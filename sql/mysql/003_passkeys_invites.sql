-- Passkeys (WebAuthn credentials), one-time invite links, and the WebAuthn challenges in flight (see 001 for the
-- rules these files follow: idempotent statements, progress recorded per statement). MySQL 8 has no
-- ADD COLUMN IF NOT EXISTS: the runner takes "duplicate column" on an ALTER TABLE … ADD as already applied.

-- 1 when the account refuses codes and signs in with a passkey only. An empty users.totp_secret_sealed means the
-- account has no TOTP secret (created by an invite and enrolled with a passkey): no code can match it.
ALTER TABLE users ADD COLUMN passkey_only TINYINT NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS passkeys (
  id            INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id       INT UNSIGNED NOT NULL,
  credential_id VARCHAR(1400) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  public_key    VARCHAR(2048) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  sign_count    BIGINT NOT NULL,
  transports    VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
  name          VARCHAR(64) NOT NULL,
  created_at    BIGINT NOT NULL,
  last_used_at  BIGINT NULL,
  UNIQUE KEY passkeys_credential_id (credential_id),
  KEY passkeys_user_id (user_id),
  CONSTRAINT passkeys_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS invites (
  id                  INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  token_hash          CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  user_id             INT UNSIGNED NOT NULL,
  pending_totp_sealed VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
  created_at          BIGINT NOT NULL,
  expires_at          BIGINT NOT NULL,
  used_at             BIGINT NULL,
  UNIQUE KEY invites_token_hash (token_hash),
  KEY invites_user_id (user_id),
  CONSTRAINT invites_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS webauthn_challenges (
  handle_hash CHAR(64)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  challenge   VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  purpose     VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  user_id     INT UNSIGNED NULL,
  expires_at  BIGINT NOT NULL,
  KEY webauthn_challenges_expires_at (expires_at),
  CONSTRAINT webauthn_challenges_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
