-- Passkeys (WebAuthn credentials), one-time invite links, and the WebAuthn challenges in flight.

-- 1 when the account refuses codes and signs in with a passkey only. An empty users.totp_secret_sealed means the
-- account has no TOTP secret (created by an invite and enrolled with a passkey): no code can match it.
ALTER TABLE users ADD COLUMN passkey_only INTEGER NOT NULL DEFAULT 0 CHECK (passkey_only IN (0, 1));

CREATE TABLE passkeys (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  credential_id TEXT    NOT NULL UNIQUE,   -- base64url, as the authenticator made it
  public_key    TEXT    NOT NULL,          -- COSE public key, base64url
  sign_count    INTEGER NOT NULL,          -- the authenticator's counter; never accepted going backwards
  transports    TEXT    NOT NULL DEFAULT '',
  name          TEXT    NOT NULL,
  created_at    INTEGER NOT NULL,
  last_used_at  INTEGER
);
CREATE INDEX passkeys_user_id ON passkeys (user_id);

CREATE TABLE invites (
  id                  INTEGER PRIMARY KEY AUTOINCREMENT,
  token_hash          TEXT    NOT NULL UNIQUE,   -- SHA-256 of the link's token; never the token
  user_id             INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  pending_totp_sealed TEXT,                      -- the TOTP secret the link offers, until a first code confirms it
  created_at          INTEGER NOT NULL,
  expires_at          INTEGER NOT NULL,
  used_at             INTEGER
);
CREATE INDEX invites_user_id ON invites (user_id);

CREATE TABLE webauthn_challenges (
  handle_hash TEXT    PRIMARY KEY,   -- SHA-256 of the browser's cookie handle
  challenge   TEXT    NOT NULL,
  purpose     TEXT    NOT NULL CHECK (purpose IN ('sign-in', 'register', 'enroll')),
  user_id     INTEGER REFERENCES users (id) ON DELETE CASCADE,
  expires_at  INTEGER NOT NULL
);
CREATE INDEX webauthn_challenges_expires_at ON webauthn_challenges (expires_at);
