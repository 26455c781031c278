// Invite links: a one-time link with which a user sets up their own sign-in (an authenticator app or a passkey),
// so no one else ever sees the secret. Only a hash of the link's token is stored; a newer invite voids older ones.
import { createHash, randomBytes } from 'node:crypto';
import { abandonedWhenLate, type Progress } from './abandonment.js';
import { countAttempt } from './attempts.js';
import type { Clock } from './clock.js';
import { type KeyRing, sealContext } from './crypto.js';
import { newDevice } from './devices.js';
import type { Invite, NewPasskey, User } from './model.js';
import { ConflictError, type SignInWrite, type Store } from './ports.js';
import type { NewDevice } from './sign-in.js';
import { addressSubject, LOGIN_LIMITS } from './throttle.js';
import { matchTotp, newTotpSecret, totpUri } from './totp.js';

/** 256 random bits, base64url: the only shape a token can have. */
const INVITE_TOKEN = /^[A-Za-z0-9_-]{43}$/;

const inviteTokenHash = (token: string) => createHash('sha256').update(`invite:${token}`).digest('hex');

/** An invite that can still be used, with the authenticator-app secret it offers. */
export interface OpenInvite {
  readonly invite: Invite;
  readonly user: User;
  readonly totp: { readonly secret: string; readonly uri: string } | undefined;
}

export type RedeemResult =
  | {
      readonly ok: true;
      readonly device: NewDevice;
      readonly email: string;
      readonly deviceType: string;
      /** The account signed in with passkeys only, and its new app turned codes on again. */
      readonly passkeyOnlyTurnedOff?: boolean;
    }
  | {
      readonly ok: false;
      readonly reason: 'invalid' | 'wrong-code' | 'duplicate' | 'throttled' | 'abandoned';
      readonly email: string | undefined;
    };

export interface RedeemWithCodeInput {
  readonly token: unknown;
  readonly code: unknown;
  readonly deviceType: unknown;
  readonly client: string;
}

/** A redemption whose caller stopped waiting before the commit: the invite stays unused (see `abandonedWhenLate`). */
const abandonedRedemption = ({ email }: Progress): RedeemResult => ({ ok: false, reason: 'abandoned', email });

export interface InvitesDeps {
  readonly store: Store;
  readonly keys: KeyRing;
  readonly clock: Clock;
  readonly lifetimeInMs: number;
  /** Shown in authenticator apps next to the account. */
  readonly issuer: string;
}

export class Invites {
  readonly #store: Store;
  readonly #keys: KeyRing;
  readonly #clock: Clock;
  readonly #lifetimeInMs: number;
  readonly #issuer: string;
  /** Opened for links that lead nowhere, so they cost the same decryption and TOTP work as a real one. */
  readonly #decoy: { sealed: string; context: string };

  constructor(deps: InvitesDeps) {
    this.#store = deps.store;
    this.#keys = deps.keys;
    this.#clock = deps.clock;
    this.#lifetimeInMs = deps.lifetimeInMs;
    this.#issuer = deps.issuer;
    const context = sealContext.pendingTotpSecret('decoy');
    this.#decoy = { sealed: deps.keys.seal(newTotpSecret(), context), context };
  }

  /** A new invite for the user (voiding their older ones): the token, to be shown once, and when it expires. */
  async create(userId: number): Promise<{ token: string; expiresAt: number }> {
    const token = randomBytes(32).toString('base64url');
    const tokenHash = inviteTokenHash(token);
    const now = this.#clock.now();
    const expiresAt = now + this.#lifetimeInMs;
    const pendingTotpSealed = this.#keys.seal(newTotpSecret(), sealContext.pendingTotpSecret(tokenHash));
    await this.#store.invites.create({ tokenHash, userId, pendingTotpSealed, createdAt: now, expiresAt });
    return { token, expiresAt };
  }

  /** The invite behind a token if it can still be used; `undefined` for every other token, whatever the reason. */
  async open(token: unknown): Promise<OpenInvite | undefined> {
    if (typeof token !== 'string' || !INVITE_TOKEN.test(token)) return undefined;
    const invite = await this.#store.invites.findByTokenHash(inviteTokenHash(token));
    if (!invite || invite.usedAt !== null || invite.expiresAt <= this.#clock.now()) return undefined;
    const user = await this.#store.users.findById(invite.userId);
    if (!user) return undefined;
    const secret =
      invite.pendingTotpSealed === null ? null : this.#keys.open(invite.pendingTotpSealed, sealContext.pendingTotpSecret(invite.tokenHash));
    return { invite, user, totp: secret === null ? undefined : { secret, uri: totpUri(secret, user.email, this.#issuer) } };
  }

  /**
   * Redeems the invite with the first code of the authenticator app it offered: that confirms the new secret,
   * which then replaces the user's old one, and the browser becomes a new device. Within the per-address budget
   * and a budget per invite; a link that leads nowhere does the same work as a wrong code.
   */
  redeemWithCode(input: RedeemWithCodeInput, signal?: AbortSignal): Promise<RedeemResult> {
    return abandonedWhenLate(signal, (progress) => this.#redeemWithCode(input, signal, progress), abandonedRedemption);
  }

  async #redeemWithCode(input: RedeemWithCodeInput, signal: AbortSignal | undefined, progress: Progress): Promise<RedeemResult> {
    const now = this.#clock.now();
    // Every token counts under its own hash, well-formed or not (its length is bounded by the URL's): a malformed one is
    // one more unknown token, never a budget shared by all of them that anyone could spend for everyone.
    const token = typeof input.token === 'string' ? input.token : '';
    const tokenHash = inviteTokenHash(token);
    const attempt = await countAttempt(this.#store.loginFailures, now, [
      { subject: addressSubject(input.client), limits: LOGIN_LIMITS.address },
      { subject: `invite:${tokenHash.slice(0, 32)}`, limits: LOGIN_LIMITS.account },
    ]);
    const found = await this.open(token);
    const secret = found?.totp?.secret ?? this.#keys.open(this.#decoy.sealed, this.#decoy.context) ?? '';
    const code = attempt.withinBudget && typeof input.code === 'string' ? input.code : '';
    const step = await matchTotp(secret, code, now, null);
    const email = found?.user.email;
    progress.email = email;
    if (!attempt.withinBudget) {
      await this.#store.loginFailures.forget(attempt.id);
      return { ok: false, reason: 'throttled', email };
    }
    if (!found?.totp) return { ok: false, reason: 'invalid', email };
    if (step === null) return { ok: false, reason: 'wrong-code', email };
    const device = newDevice(found.user.id, input.deviceType, now);
    const result = await this.#store.invites.redeem({
      tokenHash,
      now,
      device: device.row,
      totp: { sealed: this.#keys.seal(found.totp.secret, sealContext.totpSecret(found.user.id)), step },
      stillWanted: () => signal?.aborted !== true,
    });
    progress.committed = result === 'created';
    if (result === 'refused') return { ok: false, reason: 'invalid', email };
    await this.#store.loginFailures.forget(attempt.id);
    if (result === 'abandoned') return { ok: false, reason: 'abandoned', email };
    return {
      ok: true,
      device: device.credential,
      email: found.user.email,
      deviceType: device.deviceType,
      passkeyOnlyTurnedOff: found.user.passkeyOnly,
    };
  }

  /** Redeems the invite with a passkey already verified against it (see `Passkeys.verifyRegistration`). */
  redeemWithPasskey(input: { token: string; passkey: NewPasskey; deviceType: unknown }, signal?: AbortSignal): Promise<RedeemResult> {
    return abandonedWhenLate(signal, (progress) => this.#redeemWithPasskey(input, signal, progress), abandonedRedemption);
  }

  async #redeemWithPasskey(
    input: { token: string; passkey: NewPasskey; deviceType: unknown },
    signal: AbortSignal | undefined,
    progress: Progress,
  ): Promise<RedeemResult> {
    const now = this.#clock.now();
    const found = await this.open(input.token);
    if (!found || found.user.id !== input.passkey.userId) return { ok: false, reason: 'invalid', email: undefined };
    progress.email = found.user.email;
    const device = newDevice(found.user.id, input.deviceType, now, 'passkey');
    let result: SignInWrite;
    try {
      result = await this.#store.invites.redeem({
        tokenHash: inviteTokenHash(input.token),
        now,
        device: device.row,
        passkey: input.passkey,
        stillWanted: () => signal?.aborted !== true,
      });
      progress.committed = result === 'created';
    } catch (err) {
      // The credential is registered already; the invite stays unused.
      if (err instanceof ConflictError) return { ok: false, reason: 'duplicate', email: found.user.email };
      throw err;
    }
    if (result !== 'created') return { ok: false, reason: result === 'refused' ? 'invalid' : 'abandoned', email: found.user.email };
    return { ok: true, device: device.credential, email: found.user.email, deviceType: device.deviceType };
  }
}
