// Administration of users: add, invite, list with how they sign in, passkey-only, unlock, delete.
import { AdminError, type AdminTools } from './admin-tools.js';
import { sealContext } from './crypto.js';
import { canonicalEmail } from './identity.js';
import type { User } from './model.js';
import { decidePasskeyOnly } from './passkey-account.js';
import { accountSubject } from './throttle.js';
import { newTotpSecret, totpUri } from './totp.js';

/** How a user can sign in, for `user list`. */
export interface SignInMethods {
  /** A TOTP secret is set and codes are not turned off. */
  readonly code: boolean;
  readonly passkeys: number;
  readonly passkeyOnly: boolean;
  /** When the user's unused invite expires, if they have one. */
  readonly inviteExpiresAt: number | null;
}

export function userAdmin({ store, keys, clock, issuer, invites, userByEmail, conflictAsAdminError }: AdminTools) {
  return {
    async addUser(input: { email: string; username?: string | undefined; admin?: boolean | undefined }) {
      const email = canonicalEmail(input.email);
      if (!email) throw new AdminError(`not an email address: ${input.email}`);
      const secret = newTotpSecret();
      const user = await conflictAsAdminError(`a user with email ${email}`, () =>
        store.users.create(
          { email, username: input.username ?? null, role: input.admin ? 'admin' : 'user', createdAt: clock.now() },
          (id) => keys.seal(secret, sealContext.totpSecret(id)),
        ),
      );
      return { user, totpSecret: secret, otpauthUri: totpUri(secret, email, issuer) };
    },

    listUsers: (): Promise<User[]> => store.users.list(),

    /** Every user with how they can sign in. */
    async listUsersWithMethods(): Promise<Array<User & { methods: SignInMethods }>> {
      const [users, passkeys, pending] = await Promise.all([
        store.users.list(),
        store.passkeys.list(),
        store.invites.listPending(clock.now()),
      ]);
      return users.map((u) => ({
        ...u,
        methods: {
          code: u.totpSecretSealed !== '' && !u.passkeyOnly,
          passkeys: passkeys.filter((p) => p.userId === u.id).length,
          passkeyOnly: u.passkeyOnly,
          inviteExpiresAt: pending.find((i) => i.userId === u.id)?.expiresAt ?? null,
        },
      }));
    },

    /**
     * A one-time invite link's token for the user, voiding their older invites. `create`: the user is added
     * (without a TOTP secret: they set up their own through the link); `if-missing` adds them only when absent,
     * else invites the existing user (a lost phone: their secret is replaced only once the new one is confirmed).
     */
    async inviteUser(input: {
      email: string;
      username?: string | undefined;
      admin?: boolean | undefined;
      create: 'always' | 'if-missing';
    }): Promise<{ user: User; created: boolean; token: string; expiresAt: number }> {
      const email = canonicalEmail(input.email);
      if (!email) throw new AdminError(`not an email address: ${input.email}`);
      let user = input.create === 'if-missing' ? await store.users.findByEmail(email) : undefined;
      const created = user === undefined;
      user ??= await conflictAsAdminError(`a user with email ${email}`, () =>
        store.users.create(
          { email, username: input.username ?? null, role: input.admin ? 'admin' : 'user', createdAt: clock.now() },
          () => '',
        ),
      );
      const { token, expiresAt } = await invites.create(user.id);
      return { user, created, token, expiresAt };
    },

    /** Turns code sign-in off (only for a user with a passkey) or on again. */
    async setPasskeyOnly(input: string, passkeyOnly: boolean): Promise<User> {
      const user = await userByEmail(input);
      const done = await store.users.changeSignIn(user.id, (state) => decidePasskeyOnly(state, passkeyOnly));
      if (done === undefined) throw new AdminError(`no user with email ${user.email}`);
      if (done === 'no-passkey') throw new AdminError(`${user.email} has no passkey yet; passkey-only would lock them out`);
      return { ...user, passkeyOnly };
    },

    /** Clears the failed-code count of an account, so a real user locked out by guessing can sign in again. */
    async unlockUser(input: string): Promise<{ cleared: number }> {
      const email = canonicalEmail(input);
      if (!email) throw new AdminError(`not an email address: ${input}`);
      return { cleared: await store.loginFailures.clear(accountSubject(email)) };
    },

    async deleteUser(input: string): Promise<void> {
      const user = await userByEmail(input);
      await store.users.deleteByEmail(user.email);
    },
  };
}
