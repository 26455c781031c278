// The reference's rows as the reader hands them to the mapping: what src/import/reader.ts reads from the
// reference's MySQL tables, and all the mapping knows of them.

/** A `User` row as read. Times are epoch milliseconds, `null` where the column is NULL or not a date. */
export interface ReferenceUser {
  readonly id: number;
  readonly username: string | null;
  readonly email: string | null;
  readonly role: string;
  readonly totpSecretEncrypted: string | null;
  readonly createdAt: number | null;
}

export interface ReferenceDevice {
  readonly id: string;
  readonly userId: number;
  readonly signature: string;
  readonly deviceType: string | null;
  readonly lastLoginAt: number | null;
}

export interface ReferenceService {
  readonly id: number;
  readonly name: string;
  readonly tokenHash: string;
  readonly salt: string;
  readonly createdAt: number | null;
}

/** A `UserService` row. */
export interface ReferenceGrant {
  readonly userId: number;
  readonly serviceId: number;
  readonly scope: string;
  readonly tokenEncrypted: string;
  readonly lastLoginAt: number | null;
}

/** The four tables, read at one point in time. */
export interface ReferenceSnapshot {
  readonly users: readonly ReferenceUser[];
  readonly devices: readonly ReferenceDevice[];
  readonly services: readonly ReferenceService[];
  readonly grants: readonly ReferenceGrant[];
}

export interface ReferenceSource {
  snapshot(): Promise<ReferenceSnapshot>;
}
