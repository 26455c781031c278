// The domain model: the entities the core works with (users, devices, services, grants, groups, rules, passkeys,
// invites, challenges) and an account's sign-in state. Stores (ports.ts) read and write these.
import type { TokenAlg } from './crypto.js';

export type Role = 'admin' | 'user';

export interface User {
  readonly id: number;
  /** Canonical form, see `canonicalEmail`. */
  readonly email: string;
  readonly username: string | null;
  readonly role: Role;
  /** Sealed with `sealContext.totpSecret(id)`; empty when the account has no TOTP secret (enrolled by passkey). */
  readonly totpSecretSealed: string;
  /** The last TOTP step that logged in; no code at or before it is accepted again. */
  readonly lastTotpStep: number | null;
  readonly createdAt: number;
  /** Codes are refused: the account signs in with a passkey only. */
  readonly passkeyOnly: boolean;
}

/** How a device last signed in: what `passkey` access rules ask about. */
export type SignInMethod = 'code' | 'passkey';

export interface Device {
  readonly id: string;
  readonly userId: number;
  /** HMAC-SHA256(secret, id) as 64 hex; the secret itself is never stored. */
  readonly signature: string;
  readonly deviceType: string;
  readonly createdAt: number;
  readonly lastSeenAt: number | null;
  /** How and when (ms) the device last signed in: at its creation, or a fresh sign-in since. */
  readonly signedInWith: SignInMethod;
  readonly signedInAt: number;
}

/** A device as a sign-in creates it; without a method and time it counts as signed in with a code at creation. */
export type NewDevice = Omit<Device, 'lastSeenAt' | 'signedInWith' | 'signedInAt'> &
  Partial<Pick<Device, 'signedInWith' | 'signedInAt'>> & {
    /**
     * The sign-in renews this existing device of the same user (a fresh sign-in that keeps its cookies): only its
     * sign-in method and time are written; rolled back as abandoned when it is gone or someone else's.
     */
    readonly renews?: boolean;
  };

export interface StoredTokenHash {
  readonly hash: string;
  readonly salt: string;
  readonly alg: TokenAlg;
}

export interface Service {
  readonly id: number;
  readonly name: string;
  readonly token: StoredTokenHash;
  readonly createdAt: number;
}

export interface Grant {
  readonly userId: number;
  readonly serviceId: number;
  /** Comma-separated scopes as in the reference, e.g. `read:email,read:username`. */
  readonly scope: string;
  /** The pseudonymous user-service token, sealed with `sealContext.grantToken(userId, serviceId)`. */
  readonly tokenSealed: string;
  readonly createdAt: number;
  /**
   * The row only holds the token of a user who uses the service through a group grant: it grants nothing by
   * itself. `false` when omitted on insert.
   */
  readonly viaGroup?: boolean;
}

/** A named set of users; a group may be granted a service like a user, and rules may name it. */
export interface Group {
  readonly id: number;
  /** See `isGroupName`. */
  readonly name: string;
  readonly createdAt: number;
}

export interface GroupGrant {
  readonly groupId: number;
  readonly serviceId: number;
  readonly scope: string;
  readonly createdAt: number;
}

/** One access rule as stored; `core/rules.ts` validates and compiles it. Empty lists match anything. */
export interface StoredRule {
  readonly id: number;
  readonly serviceId: number;
  /** The order within the service (then `id`): first match wins. */
  readonly position: number;
  readonly paths: readonly string[];
  readonly methods: readonly string[];
  readonly networks: readonly string[];
  /** Canonical emails. */
  readonly users: readonly string[];
  /** Group names. */
  readonly groups: readonly string[];
  /** `public`, `deny`, `signed-in`, `passkey` or `recent:<minutes>`. */
  readonly policy: string;
  readonly createdAt: number;
}

export type NewRule = Omit<StoredRule, 'id' | 'position'>;

export interface ProxyToken {
  readonly id: number;
  readonly name: string;
  readonly token: StoredTokenHash;
  readonly createdAt: number;
}

/** A WebAuthn credential. Its public key and counter are what a sign-in checks; nothing here is secret. */
export interface Passkey {
  readonly id: number;
  readonly userId: number;
  /** base64url, as the authenticator made it. */
  readonly credentialId: string;
  /** The COSE public key, base64url. */
  readonly publicKey: string;
  /** The authenticator's signature counter; 0 for authenticators that keep none. */
  readonly signCount: number;
  readonly transports: readonly string[];
  readonly name: string;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
}

export type NewPasskey = Omit<Passkey, 'id' | 'lastUsedAt'>;

/** A one-time enrolment link. Only a hash of its token is stored. */
export interface Invite {
  readonly id: number;
  readonly tokenHash: string;
  readonly userId: number;
  /** The TOTP secret the link offers, sealed with `sealContext.pendingTotpSecret(tokenHash)`; `null` if none. */
  readonly pendingTotpSealed: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly usedAt: number | null;
}

export type ChallengePurpose = 'sign-in' | 'register' | 'enroll';

/** A WebAuthn challenge in flight, bound to the browser that asked for it by a cookie handle (only its hash here). */
export interface WebAuthnChallenge {
  readonly handleHash: string;
  /** base64url, as sent to the browser. */
  readonly challenge: string;
  readonly purpose: ChallengePurpose;
  /** Whose credential is being created (`register`, `enroll`); `null` for a sign-in. */
  readonly userId: number | null;
  readonly expiresAt: number;
}

/** How an account signs in, as read inside the transaction that holds its lock (`UserStore.changeSignIn`). */
export interface SignInState {
  /** The account's passkeys, oldest first. */
  readonly passkeyIds: readonly number[];
  readonly passkeyOnly: boolean;
  /** An authenticator app is set up (a TOTP secret is stored). */
  readonly hasApp: boolean;
}

/** A change to how an account signs in, decided on its `SignInState`. */
export interface SignInChange {
  readonly removePasskey?: number;
  readonly passkeyOnly?: boolean;
}
