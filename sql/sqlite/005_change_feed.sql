-- The change feed: every change that can alter a /verify answer appends a row here in its own transaction, and
-- every instance reads the rows newer than the last it saw (by id, the primary key) to forget exactly what each
-- names. Rows are pruned after an hour. `kind` is not checked here: a row this version does not know (written by
-- a newer one) is logged and skipped by the reader, never a failed write.
CREATE TABLE changes (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  kind       TEXT    NOT NULL,              -- 'device', 'user', 'grant', 'services', 'proxy-tokens', 'decisions'
  subject    TEXT    NOT NULL DEFAULT '',   -- the device id, user id or 'user id:service id' the kind names
  created_at INTEGER NOT NULL
);
CREATE INDEX changes_created_at ON changes (created_at);
