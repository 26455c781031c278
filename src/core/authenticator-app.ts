// A signed-in user's authenticator app (TOTP): set one up from the account page (a new secret, confirmed by its
// first code) when the account has none, or remove it while a passkey remains. The offered secret is stored
// nowhere: the page's form carries it sealed to the user, so a half-finished setup leaves nothing behind.
import type { Clock } from './clock.js';
import { type KeyRing, sealContext } from './crypto.js';
import type { User } from './model.js';
import type { Store } from './ports.js';
import { matchTotp, newTotpSecret, totpUri } from './totp.js';

export interface OfferedTotp {
  readonly secret: string;
  /** The otpauth:// URI that QR codes and phone links carry. */
  readonly uri: string;
  /** The secret sealed to this user, for the form to send back with the first code. */
  readonly sealed: string;
}

export class AuthenticatorApp {
  readonly #store: Store;
  readonly #keys: KeyRing;
  readonly #clock: Clock;
  readonly #issuer: string;

  constructor(deps: { readonly store: Store; readonly keys: KeyRing; readonly clock: Clock; readonly issuer: string }) {
    this.#store = deps.store;
    this.#keys = deps.keys;
    this.#clock = deps.clock;
    this.#issuer = deps.issuer;
  }

  /** A new secret to offer `user`. */
  offer(user: Pick<User, 'id' | 'email'>): OfferedTotp {
    const secret = newTotpSecret();
    return {
      secret,
      uri: totpUri(secret, user.email, this.#issuer),
      sealed: this.#keys.seal(secret, sealContext.offeredTotpSecret(user.id)),
    };
  }

  /** The offer a form sent back, if it was made for this user (anything else, forged or another's, is `undefined`). */
  reopen(user: Pick<User, 'id' | 'email'>, sealed: unknown): OfferedTotp | undefined {
    if (typeof sealed !== 'string' || sealed.length > 512) return undefined;
    const secret = this.#keys.open(sealed, sealContext.offeredTotpSecret(user.id));
    return secret === null ? undefined : { secret, uri: totpUri(secret, user.email, this.#issuer), sealed };
  }

  /**
   * Confirms the offer with the app's first code and gives the account the secret. `exists` when the account got
   * one meanwhile (another tab); `wrong-code` when the code does not match the offered secret.
   */
  async confirm(user: Pick<User, 'id' | 'email'>, offer: OfferedTotp, code: unknown): Promise<'added' | 'wrong-code' | 'exists'> {
    const step = await matchTotp(offer.secret, typeof code === 'string' ? code : '', this.#clock.now(), null);
    if (step === null) return 'wrong-code';
    const added = await this.#store.users.addTotpSecret(user.id, this.#keys.seal(offer.secret, sealContext.totpSecret(user.id)), step);
    return added ? 'added' : 'exists';
  }

  /** Removes the account's secret; only while a passkey remains to sign in with (`no-passkey` otherwise). */
  async remove(userId: number): Promise<'removed' | 'none' | 'no-passkey'> {
    if (await this.#store.users.removeTotpSecret(userId)) return 'removed';
    const user = await this.#store.users.findById(userId);
    return user === undefined || user.totpSecretSealed === '' ? 'none' : 'no-passkey';
  }
}
