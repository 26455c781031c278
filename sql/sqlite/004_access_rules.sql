-- Access rules: groups of users, group grants, and an ordered list of rules per service; and what rules need to
-- know about a device: how and when it last signed in.

-- How the device last signed in ('code' or 'passkey') and when (ms). Devices from before this migration count
-- as signed in with a code when they were created: the weaker method, so a `passkey` rule asks them to step up.
ALTER TABLE devices ADD COLUMN signed_in_with TEXT NOT NULL DEFAULT 'code' CHECK (signed_in_with IN ('code', 'passkey'));
ALTER TABLE devices ADD COLUMN signed_in_at INTEGER NOT NULL DEFAULT 0;
UPDATE devices SET signed_in_at = created_at WHERE signed_in_at = 0;

-- 1 when the row only holds the pseudonymous token of a user who uses the service through a group grant: it is
-- then no grant of its own (leaving the group ends the access).
ALTER TABLE grants ADD COLUMN via_group INTEGER NOT NULL DEFAULT 0 CHECK (via_group IN (0, 1));

CREATE TABLE user_groups (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT    NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);

CREATE TABLE group_members (
  group_id   INTEGER NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
  user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user_id ON group_members (user_id);

CREATE TABLE group_grants (
  group_id   INTEGER NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
  service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
  scope      TEXT    NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  PRIMARY KEY (group_id, service_id)
);
CREATE INDEX group_grants_service_id ON group_grants (service_id);

-- One rule of a service's ordered list (by position, then id): first match wins. Lists are stored as text, one
-- item per line; they were validated before they were written, and are validated again when a matcher is built.
CREATE TABLE access_rules (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
  position   INTEGER NOT NULL,
  paths      TEXT    NOT NULL DEFAULT '',
  methods    TEXT    NOT NULL DEFAULT '',
  networks   TEXT    NOT NULL DEFAULT '',
  subject_users  TEXT    NOT NULL DEFAULT '',
  subject_groups TEXT    NOT NULL DEFAULT '',
  policy     TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX access_rules_service_id ON access_rules (service_id, position);
