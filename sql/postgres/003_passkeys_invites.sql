-- Passkeys (WebAuthn credentials), one-time invite links, and the WebAuthn challenges in flight.

-- 1 when the account refuses codes and signs in with a passkey only. An empty users.totp_secret_sealed means the
-- account has no TOTP secret (created by an invite and enrolled with a passkey): no code can match it.
ALTER TABLE users ADD COLUMN passkey_only smallint NOT NULL DEFAULT 0 CONSTRAINT users_passkey_only CHECK (passkey_only IN (0, 1));

CREATE TABLE passkeys (
  id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id       integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  credential_id varchar(1400) COLLATE "C" NOT NULL,   -- base64url, as the authenticator made it (at most 1023 bytes)
  public_key    varchar(2048) COLLATE "C" NOT NULL,   -- COSE public key, base64url
  sign_count    bigint NOT NULL,                      -- the authenticator's counter; never accepted going backwards
  transports    varchar(255) COLLATE "C" NOT NULL DEFAULT '',
  name          varchar(64) NOT NULL,
  created_at    bigint NOT NULL,
  last_used_at  bigint,
  CONSTRAINT passkeys_credential_id UNIQUE (credential_id)
);
CREATE INDEX passkeys_user_id ON passkeys (user_id);

CREATE TABLE invites (
  id                  integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  token_hash          varchar(64) COLLATE "C" NOT NULL,   -- SHA-256 of the link's token; never the token
  user_id             integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  pending_totp_sealed varchar(255) COLLATE "C",           -- the TOTP secret the link offers, until a first code confirms it
  created_at          bigint NOT NULL,
  expires_at          bigint NOT NULL,
  used_at             bigint,
  CONSTRAINT invites_token_hash UNIQUE (token_hash)
);
CREATE INDEX invites_user_id ON invites (user_id);

CREATE TABLE webauthn_challenges (
  handle_hash varchar(64) COLLATE "C" PRIMARY KEY,   -- SHA-256 of the browser's cookie handle
  challenge   varchar(64) COLLATE "C" NOT NULL,
  purpose     varchar(16) COLLATE "C" NOT NULL CHECK (purpose IN ('sign-in', 'register', 'enroll')),
  user_id     integer REFERENCES users (id) ON DELETE CASCADE,
  expires_at  bigint NOT NULL
);
CREATE INDEX webauthn_challenges_expires_at ON webauthn_challenges (expires_at);
