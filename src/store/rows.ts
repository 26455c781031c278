// Row → domain mapping, one function per entity: the entity stores read rows (schema.ts) and hand out only these.
import type { Selectable } from 'kysely';
import type { TokenAlg } from '../core/crypto.js';
import type {
  ChallengePurpose,
  Device,
  Grant,
  Group,
  GroupGrant,
  Invite,
  Passkey,
  ProxyToken,
  Service,
  StoredRule,
  User,
  WebAuthnChallenge,
} from '../core/model.js';
import type {
  AccessRulesTable,
  DevicesTable,
  GrantsTable,
  GroupGrantsTable,
  InvitesTable,
  PasskeysTable,
  ProxyTokensTable,
  ServicesTable,
  UserGroupsTable,
  UsersTable,
  WebauthnChallengesTable,
} from './schema.js';

export const toUser = (r: Selectable<UsersTable>): User => ({
  id: Number(r.id),
  email: r.email,
  username: r.username,
  role: r.role === 'admin' ? 'admin' : 'user',
  totpSecretSealed: r.totp_secret_sealed,
  lastTotpStep: r.last_totp_step === null ? null : Number(r.last_totp_step),
  createdAt: Number(r.created_at),
  passkeyOnly: Number(r.passkey_only) === 1,
});

export const toDevice = (r: Selectable<DevicesTable>): Device => ({
  id: r.id,
  userId: Number(r.user_id),
  signature: r.signature,
  deviceType: r.device_type,
  createdAt: Number(r.created_at),
  lastSeenAt: r.last_seen_at === null ? null : Number(r.last_seen_at),
  signedInWith: r.signed_in_with === 'passkey' ? 'passkey' : 'code',
  signedInAt: Number(r.signed_in_at),
});

const toTokenAlg = (alg: string): TokenAlg => (alg === 'sha512-ref' ? 'sha512-ref' : 'sha256');

export const toService = (r: Selectable<ServicesTable>): Service => ({
  id: Number(r.id),
  name: r.name,
  token: { hash: r.token_hash, salt: r.token_salt, alg: toTokenAlg(r.token_alg) },
  createdAt: Number(r.created_at),
});

export const toProxyToken = (r: Selectable<ProxyTokensTable>): ProxyToken => ({
  id: Number(r.id),
  name: r.name,
  token: { hash: r.token_hash, salt: r.token_salt, alg: toTokenAlg(r.token_alg) },
  createdAt: Number(r.created_at),
});

export const toGrant = (r: Selectable<GrantsTable>): Grant => ({
  userId: Number(r.user_id),
  serviceId: Number(r.service_id),
  scope: r.scope,
  tokenSealed: r.token_sealed,
  createdAt: Number(r.created_at),
  viaGroup: Number(r.via_group) === 1,
});

export const toGroup = (r: Selectable<UserGroupsTable>): Group => ({ id: Number(r.id), name: r.name, createdAt: Number(r.created_at) });

export const toGroupGrant = (r: Selectable<GroupGrantsTable>): GroupGrant => ({
  groupId: Number(r.group_id),
  serviceId: Number(r.service_id),
  scope: r.scope,
  createdAt: Number(r.created_at),
});

/** A stored list: one item per line. */
const toList = (text: string): string[] => (text === '' ? [] : text.split('\n'));
export const fromList = (items: readonly string[]): string => items.join('\n');

export const toRule = (r: Selectable<AccessRulesTable>): StoredRule => ({
  id: Number(r.id),
  serviceId: Number(r.service_id),
  position: Number(r.position),
  paths: toList(r.paths),
  methods: toList(r.methods),
  networks: toList(r.networks),
  users: toList(r.subject_users),
  groups: toList(r.subject_groups),
  policy: r.policy,
  createdAt: Number(r.created_at),
});

export const toPasskey = (r: Selectable<PasskeysTable>): Passkey => ({
  id: Number(r.id),
  userId: Number(r.user_id),
  credentialId: r.credential_id,
  publicKey: r.public_key,
  signCount: Number(r.sign_count),
  transports: r.transports === '' ? [] : r.transports.split(','),
  name: r.name,
  createdAt: Number(r.created_at),
  lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
});

export const toInvite = (r: Selectable<InvitesTable>): Invite => ({
  id: Number(r.id),
  tokenHash: r.token_hash,
  userId: Number(r.user_id),
  pendingTotpSealed: r.pending_totp_sealed,
  createdAt: Number(r.created_at),
  expiresAt: Number(r.expires_at),
  usedAt: r.used_at === null ? null : Number(r.used_at),
});

const PURPOSES: readonly ChallengePurpose[] = ['sign-in', 'register', 'enroll'];

export const toChallenge = (r: Selectable<WebauthnChallengesTable>): WebAuthnChallenge => ({
  handleHash: r.handle_hash,
  challenge: r.challenge,
  // The column's CHECK allows only these; anything else would be a sign-in challenge, the least privileged.
  purpose: PURPOSES.find((p) => p === r.purpose) ?? 'sign-in',
  userId: r.user_id === null ? null : Number(r.user_id),
  expiresAt: Number(r.expires_at),
});

/** A table's columns renamed `<prefix><column>`, as a join selects them when two tables share column names. */
export type Prefixed<P extends string, Row> = { [K in keyof Row & string as `${P}${K}`]: Row[K] };

/** A device joined with its owner: `d_` and `u_` columns, since both tables have `id` and `created_at`. */
export type DeviceWithUserRow = Prefixed<'d_', Selectable<DevicesTable>> & Prefixed<'u_', Selectable<UsersTable>>;

/** The SELECT list that yields a `DeviceWithUserRow` from `devices d` joined with `users u`. */
export const DEVICE_WITH_USER_COLUMNS = `
  d.id AS d_id, d.user_id AS d_user_id, d.signature AS d_signature, d.device_type AS d_device_type,
  d.created_at AS d_created_at, d.last_seen_at AS d_last_seen_at, d.signed_in_with AS d_signed_in_with,
  d.signed_in_at AS d_signed_in_at,
  u.id AS u_id, u.email AS u_email, u.username AS u_username, u.role AS u_role,
  u.totp_secret_sealed AS u_totp_secret_sealed, u.last_totp_step AS u_last_totp_step, u.created_at AS u_created_at,
  u.passkey_only AS u_passkey_only`;

export const toDeviceWithUser = (r: DeviceWithUserRow): { device: Device; user: User } => ({
  device: toDevice({
    id: r.d_id,
    user_id: r.d_user_id,
    signature: r.d_signature,
    device_type: r.d_device_type,
    created_at: r.d_created_at,
    last_seen_at: r.d_last_seen_at,
    signed_in_with: r.d_signed_in_with,
    signed_in_at: r.d_signed_in_at,
  }),
  user: toUser({
    id: r.u_id,
    email: r.u_email,
    username: r.u_username,
    role: r.u_role,
    totp_secret_sealed: r.u_totp_secret_sealed,
    last_totp_step: r.u_last_totp_step,
    created_at: r.u_created_at,
    passkey_only: r.u_passkey_only,
  }),
});
