// Administration of passkeys: list them, remove one (refusing an owner's last way in unless told otherwise).
import { AdminError, type AdminTools } from './admin-tools.js';
import type { Passkey, SignInState } from './model.js';
import { decideRemoval, hasWayIn } from './passkey-account.js';

export function passkeyAdmin({ store, userByEmail }: AdminTools) {
  return {
    async listPasskeys(email?: string): Promise<Array<Passkey & { email: string }>> {
      const users = email === undefined ? await store.users.list() : [await userByEmail(email)];
      const emails = new Map(users.map((u) => [u.id, u.email]));
      const passkeys = email === undefined ? await store.passkeys.list() : await store.passkeys.list(users[0]?.id);
      return passkeys.map((p) => ({ ...p, email: emails.get(p.userId) ?? '?' }));
    },

    /**
     * Removes a passkey; it cannot sign in from that moment. The owner's last way in (their only passkey while
     * codes are off, or while they have no authenticator app) is refused unless `passkeyOnlyOff` turns codes on in
     * the same change (for an owner with an app) or `lockOut` says to remove it anyway.
     */
    async removePasskey(
      id: number,
      options: { readonly passkeyOnlyOff?: boolean; readonly lockOut?: boolean } = {},
    ): Promise<{ email: string; passkeyOnlyTurnedOff: boolean; lockedOut: boolean }> {
      const passkey = Number.isSafeInteger(id) && id >= 1 ? await store.passkeys.find(id) : undefined;
      const owner = passkey && (await store.users.findById(passkey.userId));
      let before: SignInState | undefined;
      const result =
        owner &&
        (await store.users.changeSignIn(owner.id, (state) => {
          before = state;
          return decideRemoval(state, id, options);
        }));
      if (!owner || !before || result === undefined || result === 'none') throw new AdminError(`no passkey with id ${id}`);
      if (result === 'last') {
        const invite = `send them a new invite (user invite --email ${owner.email})`;
        throw new AdminError(
          before.hasApp
            ? `passkey ${id} is the last passkey of ${owner.email}, who signs in with passkeys only: removing it would lock them out. ` +
                `Add --passkey-only false to allow their authenticator app's codes again, or --lock-out to remove it anyway and ${invite}.`
            : `passkey ${id} is the only way ${owner.email} signs in (they have no authenticator app): removing it would lock them out. ` +
                `Add --lock-out to remove it anyway, and ${invite}.`,
        );
      }
      const passkeyOnlyTurnedOff = before.passkeyOnly && options.passkeyOnlyOff === true;
      const after = {
        ...before,
        passkeyIds: before.passkeyIds.filter((p) => p !== id),
        passkeyOnly: before.passkeyOnly && !passkeyOnlyTurnedOff,
      };
      return { email: owner.email, passkeyOnlyTurnedOff, lockedOut: !hasWayIn(after) };
    },
  };
}
