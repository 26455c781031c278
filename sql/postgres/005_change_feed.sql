-- The change feed (see sql/sqlite/005_change_feed.sql for what the rows mean). A transaction that appends rows
-- also sends NOTIFY passwordless_auth_changes, so listening instances read them at once instead of at the next poll.
CREATE TABLE changes (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind       varchar(40)  COLLATE "C" NOT NULL,
  subject    varchar(200) COLLATE "C" NOT NULL DEFAULT '',
  created_at bigint NOT NULL
);
CREATE INDEX changes_created_at ON changes (created_at);
