-- Access rules: groups of users, group grants, and an ordered list of rules per service; and what rules need to
-- know about a device: how and when it last signed in.

-- How the device last signed in ('code' or 'passkey') and when (ms). Devices from before this migration count
-- as signed in with a code when they were created: the weaker method, so a `passkey` rule asks them to step up.
ALTER TABLE devices ADD COLUMN signed_in_with varchar(16) COLLATE "C" NOT NULL DEFAULT 'code' CONSTRAINT devices_signed_in_with CHECK (signed_in_with IN ('code', 'passkey'));
ALTER TABLE devices ADD COLUMN signed_in_at bigint NOT NULL DEFAULT 0;
UPDATE devices SET signed_in_at = created_at WHERE signed_in_at = 0;

-- 1 when the row only holds the pseudonymous token of a user who uses the service through a group grant: it is
-- then no grant of its own (leaving the group ends the access).
ALTER TABLE grants ADD COLUMN via_group smallint NOT NULL DEFAULT 0 CONSTRAINT grants_via_group CHECK (via_group IN (0, 1));

CREATE TABLE user_groups (
  id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name       varchar(63) COLLATE "C" NOT NULL,
  created_at bigint NOT NULL,
  CONSTRAINT user_groups_name UNIQUE (name)
);

CREATE TABLE group_members (
  group_id   integer NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
  user_id    integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at bigint NOT NULL,
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user_id ON group_members (user_id);

CREATE TABLE group_grants (
  group_id   integer NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
  service_id integer NOT NULL REFERENCES services (id) ON DELETE CASCADE,
  scope      varchar(255) COLLATE "C" NOT NULL DEFAULT '',
  created_at bigint NOT NULL,
  PRIMARY KEY (group_id, service_id)
);
CREATE INDEX group_grants_service_id ON group_grants (service_id);

-- One rule of a service's ordered list (by position, then id): first match wins. Lists are stored as text, one
-- item per line; they were validated before they were written, and are validated again when a matcher is built.
CREATE TABLE access_rules (
  id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  service_id integer NOT NULL REFERENCES services (id) ON DELETE CASCADE,
  position   integer NOT NULL,
  paths      text COLLATE "C" NOT NULL DEFAULT '',
  methods    text COLLATE "C" NOT NULL DEFAULT '',
  networks   text COLLATE "C" NOT NULL DEFAULT '',
  subject_users  text COLLATE "C" NOT NULL DEFAULT '',
  subject_groups text COLLATE "C" NOT NULL DEFAULT '',
  policy     varchar(32) COLLATE "C" NOT NULL,
  created_at bigint NOT NULL
);
CREATE INDEX access_rules_service_id ON access_rules (service_id, position);
