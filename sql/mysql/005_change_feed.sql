-- The change feed (see sql/sqlite/005_change_feed.sql for what the rows mean; 001 for the rules these files
-- follow: idempotent statements, progress recorded per statement).
CREATE TABLE IF NOT EXISTS changes (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  kind       VARCHAR(40)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  subject    VARCHAR(200) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  KEY changes_created_at (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
