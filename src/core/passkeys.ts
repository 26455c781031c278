// Passkeys (WebAuthn) with @simplewebauthn/server: creating one (account page, invite link) and signing in with
// one (discoverable credentials, user verification required). Challenges are single-use, live 5 minutes and are
// bound to the browser that asked for them through a handle only it holds (a cookie; only its hash is stored).
import { createHash, randomBytes } from 'node:crypto';
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import { abandonedWhenLate, type Progress } from './abandonment.js';
import { countAttempt } from './attempts.js';
import type { Clock } from './clock.js';
import { newDevice } from './devices.js';
import type { ChallengePurpose, NewPasskey, Passkey, User } from './model.js';
import { isUsablePasskey } from './passkey-key.js';
import { ConflictError, type Store } from './ports.js';
import type { RelyingParty } from './relying-party.js';
import type { NewDevice } from './sign-in.js';
import { addressSubject, type Limit, LOGIN_LIMITS } from './throttle.js';

export const CHALLENGE_LIFETIME_IN_MS = 5 * 60_000;
/** The cookie handle's shape: 256 random bits, base64url. */
export const CHALLENGE_HANDLE = /^[A-Za-z0-9_-]{43}$/;
/** Ceremonies a client may start per address: generous for people, a ceiling for a flood of stored challenges. */
/**
 * Ceremonies one address may start (each stores a challenge). Generous: every view of /login starts one for the
 * email field's autofill, and one address may be a whole office behind NAT; the bound only stops a flood.
 */
export const CEREMONY_LIMITS: readonly Limit[] = [{ windowInMs: 15 * 60_000, max: 300 }];
/** COSE algorithms offered when creating a passkey: Ed25519, ES256 (P-256), RS256; every Node version verifies them. */
const SUPPORTED_ALGORITHMS = [-8, -7, -257];
const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

const handleHash = (handle: string) => createHash('sha256').update(`webauthn-challenge:${handle}`).digest('hex');
/** The WebAuthn user handle: stable per account, and not the email. */
const userHandle = (userId: number) => createHash('sha256').update(`passwordless-auth user:${userId}`).digest().subarray(0, 32);

type PasskeyFailure =
  | 'throttled'
  | 'challenge' // missing, expired, used, of another purpose or user: the browser must start again
  | 'origin'
  | 'unknown-credential'
  | 'verification'
  | 'counter' // the counter went backwards: a cloned authenticator
  | 'duplicate'
  | 'unusable' // a credential id or public key that could never sign in (see passkey-key.ts)
  | 'refused'
  | 'abandoned';

export interface PasskeySignInInput {
  readonly handle: unknown;
  readonly response: AuthenticationResponseJSON;
  readonly deviceType: unknown;
  readonly client: string;
  /** A step-up on a device already signed in (proven by the caller): renewed with its cookies, same user only. */
  readonly renew?: { deviceId: string; secret: string; userId: number } | undefined;
}

export type PasskeySignInResult =
  | { readonly ok: true; readonly device: NewDevice; readonly email: string; readonly deviceType: string; readonly passkeyId: number }
  | { readonly ok: false; readonly reason: PasskeyFailure; readonly email?: string; readonly passkeyId?: number };

export type PasskeyRegistration =
  | { readonly ok: true; readonly passkey: NewPasskey }
  | { readonly ok: false; readonly reason: PasskeyFailure };

export interface Ceremony<Options> {
  /** Goes to the browser as an HttpOnly cookie; the options go as JSON. */
  readonly handle: string;
  readonly options: Options;
}

export class Passkeys {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #rp: RelyingParty;

  constructor(deps: { readonly store: Store; readonly clock: Clock; readonly relyingParty: RelyingParty }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#rp = deps.relyingParty;
  }

  get relyingPartyId(): string {
    return this.#rp.id;
  }

  /** Options for a sign-in with any of this site's passkeys; `undefined` over the per-address budget. */
  async startSignIn(client: string): Promise<Ceremony<PublicKeyCredentialRequestOptionsJSON> | undefined> {
    return this.#ceremony(client, 'sign-in', null, (challenge) =>
      generateAuthenticationOptions({ rpID: this.#rp.id, challenge, userVerification: 'required', timeout: CHALLENGE_LIFETIME_IN_MS }),
    );
  }

  /** Options for creating a passkey for `user` (`register`: signed in; `enroll`: through their invite link). */
  async startRegistration(
    user: User,
    purpose: 'register' | 'enroll',
    client: string,
  ): Promise<Ceremony<PublicKeyCredentialCreationOptionsJSON> | undefined> {
    const existing = await this.#store.passkeys.list(user.id);
    return this.#ceremony(client, purpose, user.id, (challenge) =>
      generateRegistrationOptions({
        rpName: this.#rp.name,
        rpID: this.#rp.id,
        userName: user.email,
        userDisplayName: user.username ?? user.email,
        userID: userHandle(user.id),
        challenge,
        timeout: CHALLENGE_LIFETIME_IN_MS,
        attestationType: 'none',
        excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: [...p.transports] })),
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
        // Named, not the library's default: on Node 24 that default puts ML-DSA-44 first (Node 20 cannot verify it),
        // so a passkey made under one Node version would stop working on another.
        supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
      }),
    );
  }

  /**
   * Checks a new passkey against the challenge this browser was given for `user`. Nothing is stored here: the
   * caller stores it (`add`) or redeems an invite with it.
   */
  async finishRegistration(input: {
    handle: unknown;
    response: RegistrationResponseJSON;
    user: User;
    purpose: 'register' | 'enroll';
    name: string;
    client: string;
  }): Promise<PasskeyRegistration> {
    const now = this.#clock.now();
    const attempt = await countAttempt(this.#store.loginFailures, now, [
      { subject: addressSubject(input.client), limits: LOGIN_LIMITS.address },
    ]);
    const challenge = await this.#take(input.handle, input.purpose, input.user.id, now);
    if (!attempt.withinBudget) {
      await this.#store.loginFailures.forget(attempt.id);
      return { ok: false, reason: 'throttled' };
    }
    if (!challenge) return { ok: false, reason: 'challenge' };
    const origin = clientOrigin(input.response.response.clientDataJSON);
    if (origin === undefined || !this.#rp.isAllowedOrigin(origin)) return { ok: false, reason: 'origin' };
    let info: Awaited<ReturnType<typeof verifyRegistrationResponse>>['registrationInfo'];
    try {
      const verified = await verifyRegistrationResponse({
        response: input.response,
        expectedChallenge: challenge,
        expectedOrigin: origin,
        expectedRPID: this.#rp.id,
        requireUserVerification: true,
        supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
      });
      info = verified.verified ? verified.registrationInfo : undefined;
    } catch {
      // The library's messages quote the challenge; none of it goes anywhere.
      info = undefined;
    }
    if (!info) return { ok: false, reason: 'verification' };
    const { credential } = info;
    // The id the browser reported is the one in the authenticator data, and the key imports: else it could never
    // sign in. Refused before anything is stored (or an invite spent).
    if (credential.id !== input.response.id || !isUsablePasskey(credential.id, credential.publicKey))
      return { ok: false, reason: 'unusable' };
    await this.#store.loginFailures.forget(attempt.id);
    return {
      ok: true,
      passkey: {
        userId: input.user.id,
        credentialId: credential.id,
        publicKey: Buffer.from(credential.publicKey).toString('base64url'),
        signCount: credential.counter,
        transports: [...new Set((input.response.response.transports ?? []).filter((t) => TRANSPORTS.has(t)))],
        name: input.name,
        createdAt: now,
      },
    };
  }

  /** Stores a passkey made on the account page. */
  async add(passkey: NewPasskey): Promise<{ ok: true; passkey: Passkey } | { ok: false; reason: 'duplicate' }> {
    try {
      return { ok: true, passkey: await this.#store.passkeys.create(passkey) };
    } catch (err) {
      if (err instanceof ConflictError) return { ok: false, reason: 'duplicate' };
      throw err;
    }
  }

  /**
   * A sign-in with a passkey: the assertion is checked against this browser's challenge, the allowed origins, the
   * RP ID, the stored public key and counter, and user verification; then the browser becomes a new device,
   * exactly as with a code. Within the per-address budget. Abandoned, as a code sign-in is, once `signal` aborts
   * before the commit (see `abandonedWhenLate`).
   */
  finishSignIn(input: PasskeySignInInput, signal?: AbortSignal): Promise<PasskeySignInResult> {
    return abandonedWhenLate(
      signal,
      (progress) => this.#signIn(input, signal, progress),
      ({ email }) => ({ ok: false, reason: 'abandoned', ...(email !== undefined ? { email } : {}) }),
    );
  }

  async #signIn(input: PasskeySignInInput, signal: AbortSignal | undefined, progress: Progress): Promise<PasskeySignInResult> {
    const now = this.#clock.now();
    const failures = this.#store.loginFailures;
    const attempt = await countAttempt(failures, now, [{ subject: addressSubject(input.client), limits: LOGIN_LIMITS.address }]);
    const challenge = await this.#take(input.handle, 'sign-in', null, now);
    if (!attempt.withinBudget) {
      await failures.forget(attempt.id);
      return { ok: false, reason: 'throttled' };
    }
    if (!challenge) return { ok: false, reason: 'challenge' };
    const origin = clientOrigin(input.response.response.clientDataJSON);
    if (origin === undefined || !this.#rp.isAllowedOrigin(origin)) return { ok: false, reason: 'origin' };
    const passkey = await this.#store.passkeys.findByCredentialId(input.response.id);
    const user = passkey ? await this.#store.users.findById(passkey.userId) : undefined;
    if (!passkey || !user) return { ok: false, reason: 'unknown-credential' };
    progress.email = user.email;
    const fail = (reason: PasskeyFailure) => ({ ok: false as const, reason, email: user.email, passkeyId: passkey.id });
    const handle = input.response.response.userHandle;
    if (handle !== undefined && handle !== userHandle(user.id).toString('base64url')) return fail('verification');
    let newCounter: number;
    try {
      const verified = await verifyAuthenticationResponse({
        response: input.response,
        expectedChallenge: challenge,
        expectedOrigin: origin,
        expectedRPID: this.#rp.id,
        // The counter rule is applied below, so that a counter going backwards is told apart (and logged).
        credential: { id: passkey.credentialId, publicKey: Buffer.from(passkey.publicKey, 'base64url'), counter: 0 },
        requireUserVerification: true,
      });
      if (!verified.verified) return fail('verification');
      newCounter = verified.authenticationInfo.newCounter;
    } catch {
      return fail('verification');
    }
    if ((newCounter > 0 || passkey.signCount > 0) && newCounter <= passkey.signCount) return fail('counter');
    // Another account's passkey on a signed-in device: refused (sign out first to switch accounts).
    if (input.renew !== undefined && input.renew.userId !== user.id) return fail('verification');
    const device = newDevice(user.id, input.deviceType, now, 'passkey', input.renew);
    const written = await this.#store.passkeys.signIn(passkey.id, newCounter, device.row, () => signal?.aborted !== true);
    progress.committed = written === 'created';
    // Refused here: the passkey was removed, or another sign-in moved the counter, since it was read.
    if (written === 'refused') return fail('refused');
    await failures.forget(attempt.id);
    if (written === 'abandoned') return fail('abandoned');
    return { ok: true, device: device.credential, email: user.email, deviceType: device.deviceType, passkeyId: passkey.id };
  }

  /** New options around a fresh challenge, stored under a new handle; `undefined` over the ceremony budget. */
  async #ceremony<Options extends { challenge: string }>(
    client: string,
    purpose: ChallengePurpose,
    userId: number | null,
    optionsFor: (challenge: Uint8Array<ArrayBuffer>) => Promise<Options>,
  ): Promise<Ceremony<Options> | undefined> {
    const now = this.#clock.now();
    const attempt = await countAttempt(this.#store.loginFailures, now, [{ subject: `ceremony:${client}`, limits: CEREMONY_LIMITS }]);
    if (!attempt.withinBudget) {
      await this.#store.loginFailures.forget(attempt.id);
      return undefined;
    }
    const handle = randomBytes(32).toString('base64url');
    // Given bytes, the library sends them base64url-encoded: that text is what the browser signs and is stored.
    const options = await optionsFor(new Uint8Array(randomBytes(32)));
    await this.#store.challenges.create({
      handleHash: handleHash(handle),
      challenge: options.challenge,
      purpose,
      userId,
      expiresAt: now + CHALLENGE_LIFETIME_IN_MS,
    });
    return { handle, options };
  }

  /** The challenge behind this browser's handle, taken out for good; `undefined` unless it fits and is fresh. */
  async #take(handle: unknown, purpose: ChallengePurpose, userId: number | null, now: number): Promise<string | undefined> {
    if (typeof handle !== 'string' || !CHALLENGE_HANDLE.test(handle)) return undefined;
    const c = await this.#store.challenges.take(handleHash(handle));
    if (!c || c.purpose !== purpose || c.userId !== userId || c.expiresAt <= now) return undefined;
    return c.challenge;
  }
}

/** The origin the browser put in clientDataJSON, or `undefined` if it does not read as one. */
function clientOrigin(clientDataJSON: string): string | undefined {
  try {
    const data: unknown = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8'));
    const origin = (data as { origin?: unknown })?.origin;
    return typeof origin === 'string' ? origin : undefined;
  } catch {
    return undefined;
  }
}
