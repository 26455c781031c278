// Administration: what the command line does, as plain functions over the store. No printing, no process.
import { createAccessAdmin } from './access-admin.js';
import type { Clock } from './clock.js';
import { HEX32, type KeyRing, newSaltedHash, newToken, sealContext } from './crypto.js';
import type { Devices } from './devices.js';
import { newGrant } from './grants.js';
import { canonicalEmail, isServiceName, normaliseScope } from './identity.js';
import type { Invites } from './invites.js';
import { decidePasskeyOnly, decideRemoval, hasWayIn } from './passkey-account.js';
import {
  ConflictError,
  type Device,
  type Grant,
  type Passkey,
  type ProxyToken,
  type Service,
  type SignInState,
  type Store,
  type User,
} from './ports.js';
import { accountSubject } from './throttle.js';
import { newTotpSecret, totpUri } from './totp.js';

/** A mistake the operator can fix: a message worth printing as it is. */
export class AdminError extends Error {
  override readonly name = 'AdminError';
}

export interface AdminDeps {
  readonly store: Store;
  readonly keys: KeyRing;
  readonly clock: Clock;
  /** Shown in authenticator apps next to the account. */
  readonly issuer: string;
  readonly invites: Invites;
  /** Devices are listed and revoked through their lifecycle module, as everywhere else. */
  readonly devices: Devices;
}

/** How a user can sign in, for `user list`. */
export interface SignInMethods {
  /** A TOTP secret is set and codes are not turned off. */
  readonly code: boolean;
  readonly passkeys: number;
  readonly passkeyOnly: boolean;
  /** When the user's unused invite expires, if they have one. */
  readonly inviteExpiresAt: number | null;
}

export function createAdmin({ store, keys, clock, issuer, invites, devices }: AdminDeps) {
  async function userByEmail(input: string): Promise<User> {
    const email = canonicalEmail(input);
    if (!email) throw new AdminError(`not an email address: ${input}`);
    const user = await store.users.findByEmail(email);
    if (!user) throw new AdminError(`no user with email ${email}`);
    return user;
  }

  async function serviceByName(name: string): Promise<Service> {
    const service = isServiceName(name) ? await store.services.findByName(name) : undefined;
    if (!service) throw new AdminError(`no service named ${name}`);
    return service;
  }

  function checkServiceName(name: string): void {
    if (!isServiceName(name)) {
      throw new AdminError(`invalid name ${JSON.stringify(name)}: use 1-63 of A-Z a-z 0-9 . _ -, starting with a letter or digit`);
    }
  }

  async function conflictAsAdminError<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (err instanceof ConflictError) throw new AdminError(`${what} already exists`);
      throw err;
    }
  }

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

    async addService(name: string): Promise<{ service: Service; token: string }> {
      checkServiceName(name);
      const token = newToken();
      const service = await conflictAsAdminError(`a service named ${name}`, () =>
        store.services.create({ name, token: newSaltedHash(token), createdAt: clock.now() }),
      );
      return { service, token };
    },

    listServices: (): Promise<Service[]> => store.services.list(),

    async deleteService(name: string): Promise<void> {
      const service = await serviceByName(name);
      await store.services.deleteByName(service.name);
    },

    async rotateServiceToken(name: string): Promise<{ token: string }> {
      const service = await serviceByName(name);
      const token = newToken();
      await store.services.setToken(service.name, newSaltedHash(token));
      return { token };
    },

    /** Creates the grant, or changes the scope of an existing one (its pseudonymous token stays). */
    async grant(input: { email: string; service: string; scope?: string | undefined }): Promise<{ grant: Grant; created: boolean }> {
      const scoped = normaliseScope(input.scope ?? '');
      if ('unknown' in scoped)
        throw new AdminError(`unknown scope ${scoped.unknown.join(', ')}; known: read:email, read:username, read:user-role`);
      const user = await userByEmail(input.email);
      const service = await serviceByName(input.service);
      const created = await store.grants.insertIfAbsent(newGrant(keys, clock.now(), user.id, service.id, scoped.scope));
      if (!created) await store.grants.setScope(user.id, service.id, scoped.scope);
      const grant = await store.grants.find(user.id, service.id);
      if (!grant) throw new Error('grant vanished while it was written');
      return { grant, created };
    },

    async revoke(input: { email: string; service: string }): Promise<void> {
      const user = await userByEmail(input.email);
      const service = await serviceByName(input.service);
      const deleted = await store.grants.delete(user.id, service.id);
      if (!deleted) throw new AdminError(`${user.email} has no grant for ${service.name}`);
    },

    async listGrants(): Promise<Array<Grant & { email: string; service: string }>> {
      const [grants, users, services] = await Promise.all([store.grants.list(), store.users.list(), store.services.list()]);
      const emails = new Map(users.map((u) => [u.id, u.email]));
      const names = new Map(services.map((s) => [s.id, s.name]));
      // A group member's token row is no grant of its own: their group's grant is listed with the group.
      return grants
        .filter((g) => g.viaGroup !== true)
        .map((g) => ({ ...g, email: emails.get(g.userId) ?? '?', service: names.get(g.serviceId) ?? '?' }));
    },

    async listDevices(email?: string): Promise<Device[]> {
      if (email === undefined) return devices.list();
      const user = await userByEmail(email);
      return devices.list(user.id);
    },

    async revokeDevice(id: string): Promise<void> {
      if (!HEX32.test(id)) throw new AdminError(`no device with id ${id}`);
      if (!(await devices.revoke(id))) throw new AdminError(`no device with id ${id}`);
    },

    async addProxyToken(name: string): Promise<{ proxyToken: ProxyToken; token: string }> {
      checkServiceName(name);
      const token = newToken();
      const proxyToken = await conflictAsAdminError(`a proxy token named ${name}`, () =>
        store.proxyTokens.create({ name, token: newSaltedHash(token), createdAt: clock.now() }),
      );
      return { proxyToken, token };
    },

    listProxyTokens: (): Promise<ProxyToken[]> => store.proxyTokens.list(),

    async deleteProxyToken(name: string): Promise<void> {
      const deleted = await store.proxyTokens.deleteByName(name);
      if (!deleted) throw new AdminError(`no proxy token named ${name}`);
    },

    ...createAccessAdmin({ store, keys, clock, fail: (message) => new AdminError(message), userByEmail, serviceByName }),
  };
}
