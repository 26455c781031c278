// Rules of the verify caches (issue 4): a warm hit does no database work; a junk pair is rejected from memory
// and cannot lock a real device out or evict it; changes made through this instance apply at once; database
// errors are never cached; "last seen" writes are throttled and batched.
import { generate } from 'otplib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Access } from '../../src/core/access.js';
import { createAdmin } from '../../src/core/admin.js';
import { fixedClock } from '../../src/core/clock.js';
import type { DeviceCredential } from '../../src/core/cookies.js';
import { KeyRing, randomHex } from '../../src/core/crypto.js';
import { Devices } from '../../src/core/devices.js';
import { Invites } from '../../src/core/invites.js';
import { LastSeen } from '../../src/core/last-seen.js';
import type { Store } from '../../src/core/ports.js';
import { SignIn } from '../../src/core/sign-in.js';
import { type CacheOptions, DEFAULT_CACHE_OPTIONS, VerifyCache } from '../../src/core/verify-cache.js';
import { openDatabase } from '../../src/store/database.js';
import { migrate } from '../../src/store/migrate.js';
import { createSqlStore } from '../../src/store/sql-store.js';
import { START } from '../support/app.js';
import { createTestDatabase, TEST_KEYS, type TestDatabase } from '../support/databases.js';

class CountingKeyRing extends KeyRing {
  opened = 0;
  override open(sealed: string, context: string) {
    this.opened++;
    return super.open(sealed, context);
  }
}

/** The real store, with every call counted and an on/off switch that makes every call fail. */
function instrument(store: Store) {
  const state = { calls: 0, broken: false };
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(t, prop, receiver) {
        const value = Reflect.get(t, prop, receiver);
        if (typeof value === 'function') {
          return (...args: unknown[]) => {
            state.calls++;
            if (state.broken) return Promise.reject(new Error('database is down'));
            return value.apply(t, args);
          };
        }
        return typeof value === 'object' && value !== null ? wrap(value) : value;
      },
    });
  return { store: wrap(store), state };
}

describe('verify caches', () => {
  let tdb: TestDatabase;
  let raw: Store;
  let counted: ReturnType<typeof instrument>;
  let clock: ReturnType<typeof fixedClock>;
  let keys: CountingKeyRing;
  let cache: VerifyCache;
  let access: Access;
  let devices: Devices;
  let admin: ReturnType<typeof createAdmin>;
  let lastSeen: LastSeen;
  let serviceToken: string;
  let device: DeviceCredential;

  async function setup(options: CacheOptions = DEFAULT_CACHE_OPTIONS) {
    tdb = await createTestDatabase('sqlite');
    const database = openDatabase(tdb.target);
    await migrate(database);
    raw = createSqlStore(database);
    counted = instrument(raw);
    clock = fixedClock(START);
    keys = new CountingKeyRing(TEST_KEYS);
    lastSeen = new LastSeen(counted.store, clock, 60_000);
    cache = new VerifyCache(options, clock);
    raw.changes.onCommitted((change) => cache.forget(change));
    devices = new Devices({ store: counted.store, cache, clock });
    access = new Access({ store: counted.store, keys, clock, cache, devices, lastSeen });
    admin = createAdmin({
      store: counted.store,
      keys,
      clock,
      issuer: 't',
      invites: new Invites({ store: counted.store, keys, clock, lifetimeInMs: 3_600_000, issuer: 't' }),
      devices,
    });
    const { totpSecret } = await admin.addUser({ email: 'a@example.com' });
    serviceToken = (await admin.addService('svc')).token;
    await admin.grant({ email: 'a@example.com', service: 'svc', scope: 'read:email' });
    const d = await new SignIn({ store: counted.store, keys, clock }).login({
      email: 'a@example.com',
      code: await generate({ secret: totpSecret, epoch: START / 1000 }),
      deviceType: 't',
      client: '127.0.0.1',
    });
    if (!d.ok) throw new Error('login failed');
    device = d.device;
  }

  afterEach(async () => {
    await raw?.close();
    await tdb?.drop();
  });

  const junk = (): DeviceCredential => ({ deviceId: randomHex(16), secret: randomHex(16) });
  const verify = (d: DeviceCredential | undefined = device, service = 'svc', token = serviceToken) => access.verify(service, token, d);

  describe('with the defaults', () => {
    beforeEach(() => setup());

    it('a warm hit makes no query and no decryption', async () => {
      expect((await verify()).kind).toBe('allow');
      const calls = counted.state.calls;
      const opened = keys.opened;
      for (let i = 0; i < 5; i++) expect(await verify()).toMatchObject({ kind: 'allow', identity: { email: 'a@example.com' } });
      expect(counted.state.calls).toBe(calls);
      expect(keys.opened).toBe(opened);
      expect(cache.stats.positiveHits).toBe(5);
    });

    it('a cold verify needs one round trip with a service token', async () => {
      const calls = counted.state.calls;
      await verify();
      expect(counted.state.calls - calls).toBe(1);
    });

    it('rejects a known-bad pair from memory, keyed on the whole pair', async () => {
      await verify(); // caller credential now known good
      const bad = { deviceId: device.deviceId, secret: randomHex(16) };
      expect((await verify(bad)).kind).toBe('unauthenticated');
      const calls = counted.state.calls;
      expect((await verify(bad)).kind).toBe('unauthenticated');
      expect(counted.state.calls).toBe(calls);
      expect(cache.stats.negativeHits).toBe(1);
      // The real device, with the same id, is not locked out.
      cache.forget({ kind: 'device', deviceId: device.deviceId });
      expect((await verify()).kind).toBe('allow');
    });

    it('applies changes made through this instance at once', async () => {
      await verify();
      await admin.grant({ email: 'a@example.com', service: 'svc', scope: '' });
      const narrowed = await verify();
      expect(narrowed.kind).toBe('allow');
      expect(narrowed.kind === 'allow' && narrowed.identity.email).toBe(undefined);
      await admin.revoke({ email: 'a@example.com', service: 'svc' });
      expect((await verify()).kind).toBe('forbidden');
      await admin.grant({ email: 'a@example.com', service: 'svc' });
      expect((await verify()).kind).toBe('allow');
      await admin.revokeDevice(device.deviceId);
      expect((await verify()).kind).toBe('unauthenticated');
    });

    it('forgets a deleted user, a rotated service token and a logged-out device at once', async () => {
      await verify();
      const { token } = await admin.rotateServiceToken('svc');
      expect((await verify()).kind).toBe('bad-credential');
      serviceToken = token;
      expect((await verify()).kind).toBe('allow');
      await devices.logout(device);
      expect((await verify()).kind).toBe('unauthenticated');
    });

    it('forgets a deleted user at once', async () => {
      await verify();
      await admin.deleteUser('a@example.com');
      expect((await verify()).kind).toBe('unauthenticated');
    });

    it('never caches a database error', async () => {
      counted.state.broken = true;
      await expect(verify()).rejects.toThrow('database is down');
      const j = junk();
      await expect(verify(j)).rejects.toThrow('database is down');
      counted.state.broken = false;
      expect((await verify()).kind).toBe('allow');
      // The junk pair was not remembered as bad while the database was down: it costs a query now.
      const calls = counted.state.calls;
      expect((await verify(j)).kind).toBe('unauthenticated');
      expect(counted.state.calls).toBeGreaterThan(calls);
      expect(cache.stats.negativeHits).toBe(0);
    });

    it('expires entries after the TTL (the bound for changes made on other instances)', async () => {
      await verify();
      const other = createSqlStore(openDatabase(tdb.target)); // another instance, whose changes reach this one only by the feed
      await other.devices.delete(device.deviceId);
      await other.close();
      expect((await verify()).kind).toBe('allow');
      clock.advance(DEFAULT_CACHE_OPTIONS.positiveTtlInMs + 1);
      expect((await verify()).kind).toBe('unauthenticated');
    });

    it('writes "last seen" at most once per interval, off the request path, in a batch', async () => {
      for (let i = 0; i < 10; i++) await verify();
      expect(lastSeen.pending).toBe(2); // one device, one grant
      expect((await raw.devices.list())[0]?.lastSeenAt).toBeNull();
      await lastSeen.flush();
      expect((await raw.devices.list())[0]?.lastSeenAt).toBe(START);
      for (let i = 0; i < 10; i++) await verify();
      expect(lastSeen.pending).toBe(0);
      clock.advance(60_000);
      await verify(); // cache expired too; the write is queued again after the interval
      expect(lastSeen.pending).toBe(2);
    });

    it('keeps pending "last seen" writes when a flush fails, and writes them later', async () => {
      await verify();
      counted.state.broken = true;
      await expect(lastSeen.flush()).rejects.toThrow();
      counted.state.broken = false;
      expect(lastSeen.pending).toBe(2);
      await lastSeen.flush();
      expect(lastSeen.pending).toBe(0);
      expect((await raw.devices.list())[0]?.lastSeenAt).toBe(START);
    });
  });

  it('a flood of distinct junk pairs stays bounded and never evicts a verified device', async () => {
    await setup({ ...DEFAULT_CACHE_OPTIONS, negativeMaxEntries: 50 });
    await verify();
    for (let i = 0; i < 500; i++) await verify(junk());
    expect(cache.negativeSize).toBe(50);
    const calls = counted.state.calls;
    expect((await verify()).kind).toBe('allow');
    expect(counted.state.calls).toBe(calls);
  });

  it('with caching off, every verify goes to the database', async () => {
    await setup({ positiveTtlInMs: 0, fallbackTtlInMs: 0, positiveMaxEntries: 0, negativeTtlInMs: 0, negativeMaxEntries: 0 });
    await verify();
    const calls = counted.state.calls;
    await verify();
    await verify(junk());
    await verify(junk());
    expect(counted.state.calls - calls).toBe(3);
    expect(cache.stats.positiveHits).toBe(0);
  });
});
