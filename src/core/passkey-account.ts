// What a signed-in user does with their own passkeys on the account page: list, rename, remove, and turning code
// sign-in off (passkey-only) or on again. Each acts only on the user's own passkeys.
import type { Passkey, Store } from './ports.js';

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
   * Removes one of the user's passkeys; from then on it signs nobody in. The last passkey of an account that
   * cannot sign in with codes (passkey-only, or no authenticator app) stays (`last`): removing it would lock the
   * user out.
   */
  async remove(userId: number, passkeyId: number): Promise<'removed' | 'none' | 'last'> {
    const { passkeys, passkeyOnly, hasTotp } = await this.state(userId);
    if (!passkeys.some((p) => p.id === passkeyId)) return 'none';
    if ((passkeyOnly || !hasTotp) && passkeys.length === 1) return 'last';
    return (await this.#store.passkeys.delete(passkeyId, userId)) ? 'removed' : 'none';
  }

  /** Turns codes off (only with a passkey to sign in with) or on again. */
  async setPasskeyOnly(userId: number, passkeyOnly: boolean): Promise<'done' | 'no-passkey'> {
    if (passkeyOnly && (await this.#store.passkeys.list(userId)).length === 0) return 'no-passkey';
    await this.#store.users.setPasskeyOnly(userId, passkeyOnly);
    return 'done';
  }
}
