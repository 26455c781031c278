// What a signed-in user does with their own passkeys on the account page: list, rename, remove, and turning code
// sign-in off (passkey-only) or on again. Each acts only on the user's own passkeys, and no change leaves an account
// without a way in: the rule is checked on the state read under the account's lock, in the transaction that changes
// it (`UserStore.changeSignIn`), so two requests at the same moment cannot both pass it.
import type { Passkey, SignInChange, SignInState } from './model.js';
import type { Store } from './ports.js';

/** Whether an account in this state can sign in: with a passkey, or with codes from its authenticator app. */
export const hasWayIn = (s: SignInState): boolean => s.passkeyIds.length > 0 || (s.hasApp && !s.passkeyOnly);

/** Why a removal is refused: the passkey is the account's last way in (`last`). */
export type PasskeyRemoval = 'removed' | 'none' | 'last';

/**
 * Decides a passkey's removal on the account's locked state. `passkeyOnlyOff` turns codes on in the same change;
 * `lockOut` removes even the last way in (an administrator who says so).
 */
export function decideRemoval(
  state: SignInState,
  passkeyId: number,
  options: { readonly passkeyOnlyOff?: boolean; readonly lockOut?: boolean } = {},
): { change?: SignInChange; result: PasskeyRemoval } {
  if (!state.passkeyIds.includes(passkeyId)) return { result: 'none' };
  const change: SignInChange = { removePasskey: passkeyId, ...(options.passkeyOnlyOff && state.passkeyOnly ? { passkeyOnly: false } : {}) };
  const after: SignInState = {
    passkeyIds: state.passkeyIds.filter((id) => id !== passkeyId),
    passkeyOnly: change.passkeyOnly ?? state.passkeyOnly,
    hasApp: state.hasApp,
  };
  if (!hasWayIn(after) && !options.lockOut) return { result: 'last' };
  return { change, result: 'removed' };
}

/** Decides turning codes off (only with a passkey to sign in with) or on again. */
export function decidePasskeyOnly(state: SignInState, passkeyOnly: boolean): { change?: SignInChange; result: 'done' | 'no-passkey' } {
  if (passkeyOnly && state.passkeyIds.length === 0) return { result: 'no-passkey' };
  return { change: { passkeyOnly }, result: 'done' };
}

export class PasskeyAccount {
  readonly #store: Store;

  constructor(deps: { readonly store: Store }) {
    this.#store = deps.store;
  }

  /**
   * The user's passkeys, whether the account has an authenticator app (a TOTP secret) and whether codes are off,
   * read fresh (the signed-in user may come from a cache).
   */
  async state(userId: number): Promise<{ passkeys: Passkey[]; passkeyOnly: boolean; hasTotp: boolean }> {
    const [passkeys, user] = await Promise.all([this.#store.passkeys.list(userId), this.#store.users.findById(userId)]);
    return { passkeys, passkeyOnly: user?.passkeyOnly ?? false, hasTotp: user !== undefined && user.totpSecretSealed !== '' };
  }

  rename(userId: number, passkeyId: number, name: string): Promise<boolean> {
    return this.#store.passkeys.rename(userId, passkeyId, name);
  }

  /**
   * Removes one of the user's passkeys; from then on it signs nobody in. The account's last way in stays (`last`):
   * its only passkey while codes are off, or while it has no authenticator app.
   */
  async remove(userId: number, passkeyId: number): Promise<PasskeyRemoval> {
    return (await this.#store.users.changeSignIn(userId, (state) => decideRemoval(state, passkeyId))) ?? 'none';
  }

  /** Turns codes off (only with a passkey to sign in with) or on again. */
  async setPasskeyOnly(userId: number, passkeyOnly: boolean): Promise<'done' | 'no-passkey'> {
    return (await this.#store.users.changeSignIn(userId, (state) => decidePasskeyOnly(state, passkeyOnly))) ?? 'no-passkey';
  }
}
