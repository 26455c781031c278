// Rule: a code login whose caller stopped waiting (its deadline passed) ends as `abandoned`, also when the database
// fails after that and before anything was committed (a connection opened too late, a query cut): nothing is
// written, the code stays unused, and the audit log learns how the attempt ended. Before the deadline, a database
// failure is still an error (the request fails closed with its "try again" page).
import { generate } from 'otplib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAdmin } from '../../src/core/admin.js';
import { fixedClock } from '../../src/core/clock.js';
import { KeyRing } from '../../src/core/crypto.js';
import { Devices } from '../../src/core/devices.js';
import { Invites } from '../../src/core/invites.js';
import type { Store } from '../../src/core/ports.js';
import { SignIn } from '../../src/core/sign-in.js';
import { DEFAULT_CACHE_OPTIONS, VerifyCache } from '../../src/core/verify-cache.js';
import { START } from '../support/app.js';
import { openMigratedStore, TEST_KEYS } from '../support/databases.js';

const EMAIL = 'late@example.com';

describe('a code login after its deadline', () => {
  let store: Store;
  let close: () => Promise<void>;
  let totpSecret: string;
  const clock = fixedClock(START);
  const keys = new KeyRing(TEST_KEYS);

  beforeEach(async () => {
    ({ store, close } = await openMigratedStore('sqlite'));
    const devices = new Devices({ store, cache: new VerifyCache(DEFAULT_CACHE_OPTIONS, clock) });
    const invites = new Invites({ store, keys, clock, lifetimeInMs: 3_600_000, issuer: 't' });
    ({ totpSecret } = await createAdmin({ store, keys, clock, issuer: 't', invites, devices }).addUser({ email: EMAIL }));
  });
  afterEach(async () => {
    await close?.();
  });

  /** The store, with the user look-up failing as a slow database does: the deadline passes, then the query fails. */
  const failingLookUp = (deadline: AbortController | undefined): Store => ({
    ...store,
    users: {
      ...store.users,
      findByEmail: async () => {
        deadline?.abort();
        throw new Error('connect ETIMEDOUT');
      },
    },
  });
  const attempt = async (s: Store, signal?: AbortSignal) =>
    new SignIn({ store: s, keys, clock }).login(
      { email: EMAIL, code: await generate({ secret: totpSecret, epoch: START / 1000 }), deviceType: 't', client: '127.0.0.1' },
      signal,
    );

  it('ends as abandoned when the database fails after the deadline: no device, the code unused', async () => {
    const deadline = new AbortController();
    const result = await attempt(failingLookUp(deadline), deadline.signal);
    expect(result).toEqual({ ok: false, reason: 'abandoned', email: EMAIL });
    const user = await store.users.findByEmail(EMAIL);
    expect(user?.lastTotpStep).toBeNull();
    expect(await store.devices.list(user?.id ?? -1)).toEqual([]);
    // The code is still unused: the same code signs in once the database answers.
    expect((await attempt(store)).ok).toBe(true);
  });

  it('still fails with the error when the database fails before the deadline', async () => {
    const deadline = new AbortController();
    await expect(attempt(failingLookUp(undefined), deadline.signal)).rejects.toThrow('connect ETIMEDOUT');
  });
});
