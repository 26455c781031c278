// Signing in with an email and a TOTP code: the guess budget, the replay guard, and a new device. Free of HTTP
// and SQL: it speaks to storage only through `Store`.
import { abandonedWhenLate, type Progress } from './abandonment.js';
import type { Clock } from './clock.js';
import type { DeviceCredential } from './cookies.js';
import { type KeyRing, randomHex, sealContext, UnreadableSecretError } from './crypto.js';
import { newDevice } from './devices.js';
import { canonicalEmail } from './identity.js';
import type { Store } from './ports.js';
import { accountSubject, addressSubject, exceededWindowInMs, LOGIN_LIMITS, withinLimits } from './throttle.js';
import { isWellFormedCode, matchTotp, newTotpSecret } from './totp.js';

export interface LoginInput {
  readonly email: unknown;
  readonly code: unknown;
  readonly deviceType: unknown;
  /** The client's address key (see `clientKey`), for the per-address budget. */
  readonly client: string;
  /**
   * A fresh sign-in on a device already signed in (proven by the caller): the code must be this device's user's,
   * and the device is renewed (it keeps its cookies) instead of a new one being made.
   */
  readonly renew?: NewDevice | undefined;
}

export interface NewDevice extends DeviceCredential {
  readonly userId: number;
}

/**
 * `reason` is for the audit log, never for the client. `abandoned`: the caller stopped waiting (its deadline
 * passed) before the sign-in was committed, so nothing was: no device, and the code is still unused.
 */
export type LoginResult =
  | { readonly ok: true; readonly device: NewDevice; readonly email: string; readonly deviceType: string }
  | {
      readonly ok: false;
      readonly reason: 'invalid' | 'passkey-only' | 'replayed' | 'throttled' | 'abandoned';
      readonly email: string | undefined;
      /**
       * Throttled because this client's address spent its budget: at most how long until it may try again. Only
       * for the address budget, which says nothing about the account; a spent account budget leaves it out.
       */
      readonly addressRetryInMs?: number;
    };

export interface SignInDeps {
  readonly store: Store;
  readonly keys: KeyRing;
  readonly clock: Clock;
}

export class SignIn {
  readonly #store: Store;
  readonly #keys: KeyRing;
  readonly #clock: Clock;
  /** Opened for unknown emails, so that path does the same decryption and TOTP work as a known one. */
  readonly #decoy: { sealed: string; context: string };

  constructor(deps: SignInDeps) {
    this.#store = deps.store;
    this.#keys = deps.keys;
    this.#clock = deps.clock;
    const context = sealContext.totpSecret(0);
    this.#decoy = { sealed: deps.keys.seal(newTotpSecret(), context), context };
  }

  /**
   * Registers a new device on a correct, unused code, within the guess budget. Every failure does the same work
   * (one budget check, one user lookup, one decryption, one TOTP check). Once `signal` aborts, the attempt is
   * abandoned as a whole: the code is consumed and the device added in one transaction that commits only while
   * the signal has not aborted. A stored secret that does not decrypt throws `UnreadableSecretError`: that is the
   * server's fault, so it is no guess and is not counted. A database failure after the signal aborted, before
   * anything was committed, ends the attempt as abandoned too (see `abandonedWhenLate`).
   */
  login(input: LoginInput, signal?: AbortSignal): Promise<LoginResult> {
    return abandonedWhenLate(
      signal,
      (progress) => this.#attempt(input, signal, progress),
      () => ({ ok: false, reason: 'abandoned', email: canonicalEmail(input.email) }),
    );
  }

  async #attempt(input: LoginInput, signal: AbortSignal | undefined, progress: Progress): Promise<LoginResult> {
    const email = canonicalEmail(input.email);
    const codeOk = isWellFormedCode(input.code);
    const now = this.#clock.now();
    const failures = this.#store.loginFailures;
    const account = accountSubject(email);
    const address = addressSubject(input.client);
    // Count this attempt in first, then look at what came before it: of many parallel guesses exactly the first
    // ones within the budget are evaluated.
    const attemptId = randomHex(8);
    await failures.record(attemptId, [account, address], now);
    const windows = [...LOGIN_LIMITS.account, ...LOGIN_LIMITS.address].map((l) => now - l.windowInMs);
    const counts = await failures.counts(attemptId, [account, address], windows);
    const nAccount = LOGIN_LIMITS.account.length;
    const addressCounts = counts.get(address)?.slice(nAccount) ?? [];
    const addressRetryInMs = exceededWindowInMs(addressCounts, LOGIN_LIMITS.address);
    const withinBudget =
      withinLimits(counts.get(account)?.slice(0, nAccount) ?? [], LOGIN_LIMITS.account) &&
      withinLimits(addressCounts, LOGIN_LIMITS.address);

    const user = await this.#store.users.findByEmail(email ?? '');
    // An account without a TOTP secret (enrolled with a passkey) opens the decoy, as an unknown email does.
    const hasSecret = user !== undefined && user.totpSecretSealed !== '';
    const secret = hasSecret
      ? this.#keys.open(user.totpSecretSealed, sealContext.totpSecret(user.id))
      : this.#keys.open(this.#decoy.sealed, this.#decoy.context);
    if (hasSecret && secret === null) {
      await failures.forget(attemptId);
      throw new UnreadableSecretError(`the TOTP secret of user ${user.id} does not decrypt with the configured keys`);
    }
    // A passkey-only account refuses codes like a wrong code: same answer, same work, counted as a guess.
    const codesAllowed = hasSecret && !user.passkeyOnly;
    // Over the budget the code is not evaluated at all: the same TOTP work runs on an empty code.
    const code = withinBudget && codeOk && codesAllowed ? (input.code as string) : '';
    const step = await matchTotp(secret ?? '', code, now, user?.lastTotpStep ?? null);
    if (!withinBudget) {
      // Refused unevaluated, so it is no guess: take it back, and the budget refills as old failures age out.
      await failures.forget(attemptId);
      return { ok: false, reason: 'throttled', email, ...(addressRetryInMs === undefined ? {} : { addressRetryInMs }) };
    }
    if (!user || !email || step === null) return { ok: false, reason: user?.passkeyOnly ? 'passkey-only' : 'invalid', email };
    // Another account's code on a signed-in device: refused like a wrong one (sign out first to switch accounts).
    if (input.renew !== undefined && input.renew.userId !== user.id) return { ok: false, reason: 'invalid', email };
    const stillWanted = () => signal?.aborted !== true;
    if (!stillWanted()) {
      await failures.forget(attemptId);
      return { ok: false, reason: 'abandoned', email };
    }
    const device = newDevice(user.id, input.deviceType, now, 'code', input.renew);
    // The replay guard is a conditional UPDATE in the same transaction as the new device, so of many parallel
    // logins with one code exactly one wins, and an abandoned one leaves the code unused.
    const result = await this.#store.devices.addWithCodeStep(device.row, step, stillWanted);
    progress.committed = result === 'created';
    // A replayed code stays counted as a failure; a right code, used or abandoned, is no guess.
    if (result === 'replayed') return { ok: false, reason: 'replayed', email };
    await failures.forget(attemptId);
    if (result === 'abandoned') return { ok: false, reason: 'abandoned', email };
    return { ok: true, device: device.credential, email, deviceType: device.deviceType };
  }
}
