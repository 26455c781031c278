// Small cryptographic building blocks: random values, the device HMAC, token hashing and AES-256-GCM sealing.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const HEX32 = /^[0-9a-f]{32}$/;

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** A new opaque bearer token: 256 random bits, base64url. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The reference's device signature: HMAC-SHA256 keyed by the secret's bytes over the ASCII device id, hex. */
export function deviceSignature(deviceId: string, secretHex: string): string {
  return createHmac('sha256', Buffer.from(secretHex, 'hex')).update(deviceId, 'ascii').digest('hex');
}

/** Constant-time equality of two strings; unequal lengths still cost one comparison. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  if (x.length !== y.length) {
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}

/** A short public name for a device (for pages and logs): not the id, which is half of the credential. */
export function deviceRef(deviceId: string): string {
  return createHash('sha256').update(`device-ref:${deviceId}`).digest('base64url').slice(0, 12);
}

export type TokenAlg = 'sha256' | 'sha512-ref';

/**
 * Hash of a bearer token as stored: `sha256` is SHA-256(salt bytes ‖ token); `sha512-ref` is the reference
 * service's SHA-512(token ‖ salt text), kept so imported service tokens go on working until rotated.
 */
export function hashToken(token: string, salt: string, alg: TokenAlg = 'sha256'): string {
  if (alg === 'sha512-ref')
    return createHash('sha512')
      .update(token + salt, 'utf8')
      .digest('hex');
  return createHash('sha256').update(Buffer.from(salt, 'hex')).update(token, 'utf8').digest('hex');
}

export function newSaltedHash(token: string): { hash: string; salt: string; alg: TokenAlg } {
  const salt = randomHex(16);
  return { hash: hashToken(token, salt), salt, alg: 'sha256' };
}

export function tokenMatches(token: string, stored: { hash: string; salt: string; alg: TokenAlg }): boolean {
  return safeEqual(hashToken(token, stored.salt, stored.alg), stored.hash);
}

export interface EncryptionKey {
  readonly id: string;
  readonly key: Buffer;
}

const SEAL_VERSION = 'v1';

/** What a key id may be: it is written into every sealed value. */
export const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** The id of the key a sealed value (`v1.<key id>.<body>`) names, or `undefined` if it is not one. */
export function sealedKeyId(sealed: string): string | undefined {
  const [version, keyId, body, extra] = sealed.split('.');
  return version === SEAL_VERSION && keyId !== undefined && KEY_ID.test(keyId) && body !== undefined && extra === undefined
    ? keyId
    : undefined;
}

/**
 * AES-256-GCM with a random 96-bit nonce. The sealed form is `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`,
 * so keys can rotate: the first key seals, every key opens. `context` is authenticated associated data that binds
 * a ciphertext to its row and column, so a value copied into another row does not open.
 */
export class KeyRing {
  readonly #primary: EncryptionKey;
  readonly #byId: ReadonlyMap<string, Buffer>;

  constructor(keys: readonly EncryptionKey[]) {
    const [primary] = keys;
    if (!primary) throw new Error('KeyRing needs at least one key');
    for (const k of keys) {
      if (k.key.length !== 32) throw new Error(`encryption key ${k.id} must be 32 bytes`);
      if (!KEY_ID.test(k.id)) throw new Error(`encryption key id ${k.id} is not valid`);
    }
    this.#primary = primary;
    this.#byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** Whether a key with this id is configured (it may still be another key than the one a value was sealed with). */
  has(keyId: string): boolean {
    return this.#byId.has(keyId);
  }

  /** The id of the key that seals new values. */
  get primaryId(): string {
    return this.#primary.id;
  }

  seal(plaintext: string, context: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#primary.key, nonce);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([nonce, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${SEAL_VERSION}.${this.#primary.id}.${body.toString('base64url')}`;
  }

  /** The plaintext, or `null` for anything that does not open: unknown key, wrong context, tampering. */
  open(sealed: string, context: string): string | null {
    const parts = sealed.split('.');
    if (parts.length !== 3 || parts[0] !== SEAL_VERSION) return null;
    const key = this.#byId.get(parts[1] ?? '');
    if (!key) return null;
    const body = Buffer.from(parts[2] ?? '', 'base64url');
    if (body.length < 12 + 16) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, 12));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - 16));
      return Buffer.concat([decipher.update(body.subarray(12, body.length - 16)), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }

  /** Whether a sealed value was made with an older key (for re-encryption after a rotation). */
  isStale(sealed: string): boolean {
    return sealedKeyId(sealed) !== this.#primary.id;
  }
}

/** A stored secret does not open with the configured keys: the keys are wrong (a server error), not the request. */
export class UnreadableSecretError extends Error {
  override readonly name = 'UnreadableSecretError';
}

/** Associated-data strings, one per sealed column, so the binding is written in one place. */
export const sealContext = {
  totpSecret: (userId: number) => `users.totp_secret:${userId}`,
  grantToken: (userId: number, serviceId: number) => `grants.token:${userId}:${serviceId}`,
  pendingTotpSecret: (inviteTokenHash: string) => `invites.pending_totp:${inviteTokenHash}`,
  /** Never stored: the secret the account page offers, carried by its form until the first code confirms it. */
  offeredTotpSecret: (userId: number) => `account.offered_totp:${userId}`,
} as const;
