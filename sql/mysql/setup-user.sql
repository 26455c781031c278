-- Least-privilege MySQL/MariaDB account for passwordless-auth. Run once as an administrator, after choosing a
-- password (replace CHANGE_ME) and, if you like, the database name:
--   mysql -u root -p < sql/mysql/setup-user.sql
-- Then: DATABASE_URL=mysql://passwordless_auth:CHANGE_ME@db-host:3306/passwordless_auth
--
-- The service applies its own migrations at start, which needs CREATE, ALTER, INDEX and REFERENCES on its own
-- database only. If you prefer to run `passwordless-auth migrate` with a separate admin account, drop those four
-- from the grant below and the service runs with SELECT, INSERT, UPDATE, DELETE alone.

CREATE DATABASE IF NOT EXISTS passwordless_auth CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS 'passwordless_auth'@'%' IDENTIFIED BY 'CHANGE_ME';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES
  ON passwordless_auth.* TO 'passwordless_auth'@'%';
FLUSH PRIVILEGES;
