-- Failed login attempts, for the guess budget per account and per client address. One row per attempt that
-- counts; old rows are pruned by the service. The id orders the attempts (see LoginFailureStore.counts).
CREATE TABLE login_failures (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  subject    varchar(300) COLLATE "C" NOT NULL,   -- 'acct:<canonical email>' or 'addr:<IPv4 address or IPv6 /64>'
  attempt_id varchar(16)  COLLATE "C" NOT NULL,   -- groups the rows of one attempt, so a success can take them back
  at         bigint NOT NULL
);
CREATE INDEX login_failures_subject_at ON login_failures (subject, at);
CREATE INDEX login_failures_attempt ON login_failures (attempt_id);
CREATE INDEX login_failures_at ON login_failures (at);
