-- The reference deployment's tables (database `Auth_service`) as the reference's SQL files create them: InnoDB,
-- utf8mb4 with the case-insensitive utf8mb4_unicode_ci collation; docs/migrating.md maps each column. The import
-- tests build a reference database from this file (test/support/reference-db.ts runs it as one query).

CREATE TABLE `User` (
  UserID              INT AUTO_INCREMENT PRIMARY KEY,
  Username            VARCHAR(255),
  Email               VARCHAR(255),
  Role                VARCHAR(50) NOT NULL,
  TOTPSecretEncrypted VARCHAR(255),
  CreationTime        DATETIME DEFAULT CURRENT_TIMESTAMP
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE `Device` (
  DeviceID            VARCHAR(128) PRIMARY KEY,
  UserID              INT NOT NULL,
  DeviceHMACSignature VARCHAR(88) NOT NULL,
  DeviceType          VARCHAR(32),
  LastLogin           DATETIME,
  FOREIGN KEY (UserID) REFERENCES `User` (UserID) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE `Service` (
  ServiceID        INT AUTO_INCREMENT PRIMARY KEY,
  ServiceName      VARCHAR(100) NOT NULL,
  ServiceTokenHash VARCHAR(255) NOT NULL,
  HashSalt         CHAR(32) NOT NULL,
  CreationTime     DATETIME DEFAULT CURRENT_TIMESTAMP
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE `UserService` (
  UserID                    INT NOT NULL,
  ServiceID                 INT NOT NULL,
  Scope                     VARCHAR(255) NOT NULL DEFAULT '',
  UserServiceTokenEncrypted VARCHAR(255) NOT NULL,
  LastLogin                 DATETIME,
  PRIMARY KEY (UserID, ServiceID),
  FOREIGN KEY (UserID) REFERENCES `User` (UserID) ON DELETE CASCADE,
  FOREIGN KEY (ServiceID) REFERENCES `Service` (ServiceID) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
