-- Access rules: groups of users, group grants, and an ordered list of rules per service; and what rules need to
-- know about a device: how and when it last signed in (see 001 for the rules these files follow: idempotent
-- statements, progress recorded per statement; "duplicate column" on an ALTER TABLE … ADD counts as applied).

-- How the device last signed in ('code' or 'passkey') and when (ms). Devices from before this migration count
-- as signed in with a code when they were created: the weaker method, so a `passkey` rule asks them to step up.
ALTER TABLE devices ADD COLUMN signed_in_with VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'code';
ALTER TABLE devices ADD COLUMN signed_in_at BIGINT NOT NULL DEFAULT 0;
UPDATE devices SET signed_in_at = created_at WHERE signed_in_at = 0;

-- 1 when the row only holds the pseudonymous token of a user who uses the service through a group grant: it is
-- then no grant of its own (leaving the group ends the access).
ALTER TABLE grants ADD COLUMN via_group TINYINT NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS user_groups (
  id         INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name       VARCHAR(63) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE KEY user_groups_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS group_members (
  group_id   INT UNSIGNED NOT NULL,
  user_id    INT UNSIGNED NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (group_id, user_id),
  KEY group_members_user_id (user_id),
  CONSTRAINT group_members_group FOREIGN KEY (group_id) REFERENCES user_groups (id) ON DELETE CASCADE,
  CONSTRAINT group_members_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS group_grants (
  group_id   INT UNSIGNED NOT NULL,
  service_id INT UNSIGNED NOT NULL,
  scope      VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  PRIMARY KEY (group_id, service_id),
  KEY group_grants_service_id (service_id),
  CONSTRAINT group_grants_group FOREIGN KEY (group_id) REFERENCES user_groups (id) ON DELETE CASCADE,
  CONSTRAINT group_grants_service FOREIGN KEY (service_id) REFERENCES services (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS access_rules (
  id         INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  service_id INT UNSIGNED NOT NULL,
  position   INT NOT NULL,
  paths      TEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  methods    TEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  networks   TEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  subject_users  TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  subject_groups TEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  policy     VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  created_at BIGINT NOT NULL,
  KEY access_rules_service_id (service_id, position),
  CONSTRAINT access_rules_service FOREIGN KEY (service_id) REFERENCES services (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
