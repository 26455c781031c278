// Row types as the database holds them; the stores map them to the core's domain types.
import type { Generated } from 'kysely';

export interface UsersTable {
  id: Generated<number>;
  email: string;
  username: string | null;
  role: string;
  totp_secret_sealed: string;
  last_totp_step: number | null;
  created_at: number;
  /** 0 or 1 (no boolean type on every dialect). */
  passkey_only: Generated<number>;
}

export interface DevicesTable {
  id: string;
  user_id: number;
  signature: string;
  device_type: string;
  created_at: number;
  last_seen_at: number | null;
  signed_in_with: Generated<string>;
  signed_in_at: Generated<number>;
}

export interface ServicesTable {
  id: Generated<number>;
  name: string;
  token_hash: string;
  token_salt: string;
  token_alg: string;
  created_at: number;
}

export interface GrantsTable {
  user_id: number;
  service_id: number;
  scope: string;
  token_sealed: string;
  created_at: number;
  last_seen_at: number | null;
  /** 0 or 1. */
  via_group: Generated<number>;
}

export interface UserGroupsTable {
  id: Generated<number>;
  name: string;
  created_at: number;
}

interface GroupMembersTable {
  group_id: number;
  user_id: number;
  created_at: number;
}

export interface GroupGrantsTable {
  group_id: number;
  service_id: number;
  scope: string;
  created_at: number;
}

export interface AccessRulesTable {
  id: Generated<number>;
  service_id: number;
  position: number;
  /** Lists, one item per line. */
  paths: string;
  methods: string;
  networks: string;
  subject_users: string;
  subject_groups: string;
  policy: string;
  created_at: number;
}

export interface ProxyTokensTable {
  id: Generated<number>;
  name: string;
  token_hash: string;
  token_salt: string;
  token_alg: string;
  created_at: number;
}

interface LoginFailuresTable {
  id: Generated<number>;
  subject: string;
  attempt_id: string;
  at: number;
}

export interface PasskeysTable {
  id: Generated<number>;
  user_id: number;
  credential_id: string;
  public_key: string;
  sign_count: number;
  transports: string;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

export interface InvitesTable {
  id: Generated<number>;
  token_hash: string;
  user_id: number;
  pending_totp_sealed: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface WebauthnChallengesTable {
  handle_hash: string;
  challenge: string;
  purpose: string;
  user_id: number | null;
  expires_at: number;
}

interface ChangesTable {
  id: Generated<number>;
  kind: string;
  subject: string;
  created_at: number;
}

interface SchemaMigrationsTable {
  version: string;
  statements_done: number;
  complete: number;
  applied_at: number;
}

export interface Database {
  users: UsersTable;
  devices: DevicesTable;
  services: ServicesTable;
  grants: GrantsTable;
  proxy_tokens: ProxyTokensTable;
  login_failures: LoginFailuresTable;
  passkeys: PasskeysTable;
  invites: InvitesTable;
  webauthn_challenges: WebauthnChallengesTable;
  changes: ChangesTable;
  user_groups: UserGroupsTable;
  group_members: GroupMembersTable;
  group_grants: GroupGrantsTable;
  access_rules: AccessRulesTable;
  schema_migrations: SchemaMigrationsTable;
}
