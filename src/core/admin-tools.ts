// What every entity's administration shares (admin-*.ts): its dependencies, the error an operator can fix, and
// the look-ups that fail with such an error.
import type { Clock } from './clock.js';
import type { KeyRing } from './crypto.js';
import type { Devices } from './devices.js';
import { canonicalEmail, isServiceName } from './identity.js';
import type { Invites } from './invites.js';
import type { Service, User } from './model.js';
import { ConflictError, type Store } from './ports.js';

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

/** The dependencies, with the look-ups every entity's administration uses. */
export interface AdminTools extends AdminDeps {
  readonly userByEmail: (input: string) => Promise<User>;
  readonly serviceByName: (name: string) => Promise<Service>;
  readonly checkServiceName: (name: string) => void;
  readonly conflictAsAdminError: <T>(what: string, op: () => Promise<T>) => Promise<T>;
}

export function adminTools(deps: AdminDeps): AdminTools {
  const { store } = deps;
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

  return { ...deps, userByEmail, serviceByName, checkServiceName, conflictAsAdminError };
}
