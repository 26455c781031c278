-- Failed login attempts, for the guess budget per account and per client address (see 001 for the rules
-- these files follow: idempotent statements, progress recorded per statement).
CREATE TABLE IF NOT EXISTS login_failures (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  subject    VARCHAR(300) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  attempt_id CHAR(16)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  at         BIGINT NOT NULL,
  KEY login_failures_subject_at (subject, at),
  KEY login_failures_attempt (attempt_id),
  KEY login_failures_at (at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
