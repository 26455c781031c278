// One contract for the Store, run against every database: what the core relies on must hold on each.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, type Store } from '../../src/core/ports.js';
import type { OpenDatabase } from '../../src/store/database.js';
import { DIALECTS, openMigratedStore, skipReason } from '../support/databases.js';

const token = { hash: 'h'.repeat(64), salt: 's'.repeat(32), alg: 'sha256' as const };
const hex = (c: string) => c.repeat(32);

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect))(`Store contract on ${dialect}`, () => {
    let store: Store;
    let raw: OpenDatabase;
    let close: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      ({ store, database: raw, close } = await openMigratedStore(dialect));
    });
    afterAll(async () => close?.());

    const addUser = (email: string, role: 'admin' | 'user' = 'user') =>
      store.users.create({ email, username: email.split('@')[0] ?? null, role, createdAt: 1000 }, (id) => `sealed-for-${id}`);

    it('creates users with the sealed secret bound to the new id, and finds them by exact email', async () => {
      const u = await addUser('carol@example.com');
      expect(u.totpSecretSealed).toBe(`sealed-for-${u.id}`);
      expect(await store.users.findByEmail('carol@example.com')).toEqual(u);
      // Binary collation: a differently cased email is another email (the core canonicalises before lookups).
      expect(await store.users.findByEmail('Carol@example.com')).toBeUndefined();
      await expect(addUser('carol@example.com')).rejects.toBeInstanceOf(ConflictError);
    });

    it('advances the TOTP replay guard only forwards, atomically under concurrency', async () => {
      const u = await addUser('replay@example.com');
      const results = await Promise.all(Array.from({ length: 20 }, () => store.users.advanceTotpStep(u.id, 100)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.users.advanceTotpStep(u.id, 99)).toBe(false);
      expect(await store.users.advanceTotpStep(u.id, 101)).toBe(true);
      expect((await store.users.findByEmail('replay@example.com'))?.lastTotpStep).toBe(101);
    });

    it('stores devices and finds device and owner in one call', async () => {
      const u = await addUser('dave@example.com', 'admin');
      await store.devices.create({ id: hex('a'), userId: u.id, signature: 'f'.repeat(64), deviceType: 'Linux Firefox', createdAt: 5 });
      const found = await store.devices.findWithUser(hex('a'));
      expect(found?.device).toEqual({
        id: hex('a'),
        userId: u.id,
        signature: 'f'.repeat(64),
        deviceType: 'Linux Firefox',
        createdAt: 5,
        lastSeenAt: null,
        signedInWith: 'code',
        signedInAt: 5,
      });
      expect(found?.user).toEqual(u);
      expect(await store.devices.findWithUser(hex('b'))).toBeUndefined();
      expect(await store.devices.findWithUser(hex('A'))).toBeUndefined();
      await store.devices.touch([hex('a')], 77);
      expect((await store.devices.list(u.id))[0]?.lastSeenAt).toBe(77);
      // A name of the owner's choosing, up to 64 characters of any script; nobody else's.
      const name = `Läptop ${'x'.repeat(57)}`;
      expect(await store.devices.rename(hex('a'), u.id, name)).toBe(true);
      expect(await store.devices.rename(hex('a'), u.id + 1, 'Mine')).toBe(false);
      expect((await store.devices.list(u.id))[0]?.deviceType).toBe(name);
      expect(await store.devices.delete(hex('a'))).toBe(true);
      expect(await store.devices.delete(hex('a'))).toBe(false);
    });

    it('matches service names exactly and case-sensitively', async () => {
      const s = await store.services.create({ name: 'EmailService', token, createdAt: 1 });
      expect(await store.services.findByName('EmailService')).toEqual(s);
      expect(await store.services.findByName('emailservice')).toBeUndefined();
      expect(await store.services.findByName('EmailService ')).toBeUndefined();
      // Another case is another service.
      await store.services.create({ name: 'emailservice', token, createdAt: 1 });
      await expect(store.services.create({ name: 'EmailService', token, createdAt: 1 })).rejects.toBeInstanceOf(ConflictError);
      const rotated = { hash: 'x'.repeat(64), salt: 'y'.repeat(32), alg: 'sha256' as const };
      expect(await store.services.setToken('EmailService', rotated)).toBe(true);
      expect((await store.services.findByName('EmailService'))?.token).toEqual(rotated);
      expect(await store.services.setToken('Nope', rotated)).toBe(false);
    });

    it('keeps one grant per (user, service); the first insert wins', async () => {
      const u = await addUser('erin@example.com');
      const s = await store.services.create({ name: 'grants-svc', token, createdAt: 1 });
      const g = { userId: u.id, serviceId: s.id, scope: 'read:email', tokenSealed: 'first', createdAt: 3 };
      const raced = await Promise.all([
        store.grants.insertIfAbsent(g),
        store.grants.insertIfAbsent({ ...g, tokenSealed: 'second' }),
        store.grants.insertIfAbsent({ ...g, tokenSealed: 'third' }),
      ]);
      expect(raced.filter(Boolean)).toHaveLength(1);
      const stored = await store.grants.find(u.id, s.id);
      expect(['first', 'second', 'third']).toContain(stored?.tokenSealed);
      expect(await store.grants.setScope(u.id, s.id, 'read:email,read:username')).toBe(true);
      expect(await store.grants.setScope(u.id, s.id, 'read:email,read:username')).toBe(true);
      expect((await store.grants.find(u.id, s.id))?.scope).toBe('read:email,read:username');
      expect(await store.grants.setScope(u.id, 999_999, 'x')).toBe(false);
      expect(await store.grants.delete(u.id, s.id)).toBe(true);
      expect(await store.grants.find(u.id, s.id)).toBeUndefined();
    });

    it('deleting a user removes their devices and grants; deleting a service removes its grants', async () => {
      const u = await addUser('frank@example.com');
      const s = await store.services.create({ name: 'cascade-svc', token, createdAt: 1 });
      await store.devices.create({ id: hex('c'), userId: u.id, signature: 'e'.repeat(64), deviceType: 'x', createdAt: 1 });
      await store.grants.insertIfAbsent({ userId: u.id, serviceId: s.id, scope: '', tokenSealed: 't', createdAt: 1 });
      expect(await store.users.deleteByEmail('frank@example.com')).toBe(true);
      expect(await store.devices.findWithUser(hex('c'))).toBeUndefined();
      expect(await store.grants.find(u.id, s.id)).toBeUndefined();

      const u2 = await addUser('gina@example.com');
      await store.grants.insertIfAbsent({ userId: u2.id, serviceId: s.id, scope: '', tokenSealed: 't', createdAt: 1 });
      expect(await store.services.deleteByName('cascade-svc')).toBe(true);
      expect(await store.grants.find(u2.id, s.id)).toBeUndefined();
    });

    it('stores proxy tokens with unique names', async () => {
      const p = await store.proxyTokens.create({ name: 'edge', token, createdAt: 9 });
      expect(await store.proxyTokens.list()).toEqual([p]);
      await expect(store.proxyTokens.create({ name: 'edge', token, createdAt: 9 })).rejects.toBeInstanceOf(ConflictError);
      expect(await store.proxyTokens.deleteByName('edge')).toBe(true);
      expect(await store.proxyTokens.deleteByName('edge')).toBe(false);
    });

    it('finds device, user, service and grant for /verify in one call, each part independently', async () => {
      const u = await addUser('lookup@example.com');
      const s = await store.services.create({ name: 'lookup-svc', token, createdAt: 1 });
      await store.devices.create({ id: hex('d'), userId: u.id, signature: 'a'.repeat(64), deviceType: 'x', createdAt: 2 });
      expect(await store.lookupForVerify(hex('d'), 'lookup-svc')).toEqual({
        found: { device: expect.objectContaining({ id: hex('d'), userId: u.id }), user: u },
        service: s,
        ruleCount: 0,
        groups: [],
        groupScopes: [],
      });
      await store.grants.insertIfAbsent({ userId: u.id, serviceId: s.id, scope: 'read:email', tokenSealed: 'sealed', createdAt: 3 });
      const all = await store.lookupForVerify(hex('d'), 'lookup-svc');
      expect(all.grant).toEqual({
        userId: u.id,
        serviceId: s.id,
        scope: 'read:email',
        tokenSealed: 'sealed',
        createdAt: 3,
        viaGroup: false,
      });
      expect(await store.lookupForVerify(hex('e'), 'lookup-svc')).toEqual({ service: s, ruleCount: 0 });
      expect(await store.lookupForVerify(hex('d'), 'Lookup-svc')).toEqual({ found: expect.any(Object) });
      expect(await store.lookupForVerify(undefined, undefined)).toEqual({});
      // A grant for another device's user is not this one's.
      const other = await addUser('lookup2@example.com');
      await store.devices.create({ id: hex('f'), userId: other.id, signature: 'b'.repeat(64), deviceType: 'x', createdAt: 2 });
      expect((await store.lookupForVerify(hex('f'), 'lookup-svc')).grant).toBeUndefined();
    });

    it('answers many concurrent look-ups correctly, each with its own device', async () => {
      const s = await store.services.create({ name: 'burst-svc', token, createdAt: 1 });
      const users = await Promise.all(['b1', 'b2', 'b3'].map((n) => addUser(`${n}@example.com`)));
      for (const [i, u] of users.entries()) {
        await store.devices.create({ id: hex(String(i + 1)), userId: u.id, signature: 'c'.repeat(64), deviceType: 'x', createdAt: 2 });
      }
      await store.grants.insertIfAbsent({
        userId: users[1]?.id as number,
        serviceId: s.id,
        scope: 'read:email',
        tokenSealed: 'only-b2',
        createdAt: 3,
      });
      const ids = [hex('1'), hex('2'), hex('3'), hex('9'), hex('2')];
      const answers = await Promise.all(ids.map((id) => store.lookupForVerify(id, 'burst-svc')));
      expect(answers.map((a) => a.found?.user.email ?? null)).toEqual([
        'b1@example.com',
        'b2@example.com',
        'b3@example.com',
        null,
        'b2@example.com',
      ]);
      expect(answers.map((a) => a.grant?.tokenSealed ?? null)).toEqual([null, 'only-b2', null, null, 'only-b2']);
      expect(answers.every((a) => a.service?.id === s.id)).toBe(true);
      const unknown = await Promise.all([store.lookupForVerify(hex('1'), 'no-such-svc'), store.lookupForVerify(hex('9'), 'no-such-svc')]);
      expect(unknown.map((a) => [a.found?.user.email ?? null, a.service ?? null])).toEqual([
        ['b1@example.com', null],
        [null, null],
      ]);
    });

    it('touches grants in a batch', async () => {
      const u = await addUser('touch@example.com');
      const s1 = await store.services.create({ name: 'touch-1', token, createdAt: 1 });
      const s2 = await store.services.create({ name: 'touch-2', token, createdAt: 1 });
      for (const s of [s1, s2])
        await store.grants.insertIfAbsent({ userId: u.id, serviceId: s.id, scope: '', tokenSealed: 't', createdAt: 1 });
      await store.grants.touch(
        [
          { userId: u.id, serviceId: s1.id },
          { userId: u.id, serviceId: s2.id },
        ],
        4242,
      );
      await expect(store.grants.touch([], 1)).resolves.toBeUndefined();
      const rows = await raw.db
        .selectFrom('grants')
        .select(['service_id', 'last_seen_at'])
        .where('user_id', '=', u.id)
        .orderBy('service_id')
        .execute();
      expect(rows.map((r) => Number(r.last_seen_at))).toEqual([4242, 4242]);
    });

    it('counts login failures per subject and window, in insertion order, and forgets, clears and prunes', async () => {
      const f = store.loginFailures;
      await f.record('attempt00000001', ['acct:a', 'addr:1'], 1000);
      await f.record('attempt00000002', ['acct:a', 'addr:2'], 2000);
      await f.record('attempt00000003', ['acct:a', 'addr:1'], 3000);
      // Counted up to and including attempt 2, newer than 500 and than 1500.
      const at2 = await f.counts('attempt00000002', ['acct:a', 'addr:2', 'addr:1'], [500, 1500]);
      expect(at2.get('acct:a')).toEqual([2, 1]);
      expect(at2.get('addr:2')).toEqual([1, 1]);
      expect(at2.get('addr:1')).toEqual([0, 0]); // attempt 2 has no row for addr:1
      expect((await f.counts('attempt00000003', ['acct:a'], [0])).get('acct:a')).toEqual([3]);
      await f.forget('attempt00000002');
      expect((await f.counts('attempt00000003', ['acct:a'], [0])).get('acct:a')).toEqual([2]);
      expect(await f.prune(1500)).toBe(2); // attempt 1's two rows
      expect(await f.clear('acct:a')).toBe(1);
      expect((await f.counts('attempt00000003', ['acct:a', 'addr:1'], [0])).get('addr:1')).toEqual([1]);
    });

    it('groups the stored sealed values by the key id they name, with the oldest rows as samples', async () => {
      const sealedUser = (email: string, keyId: string) =>
        store.users.create({ email, username: null, role: 'user', createdAt: 1 }, (id) => `v1.${keyId}.body-${id}`);
      const [u1, u2, u3, u4] = [
        await sealedUser('k1@example.com', 'kx'),
        await sealedUser('k2@example.com', 'kx'),
        await sealedUser('k3@example.com', 'kx'),
        await sealedUser('k4@example.com', 'KX'),
      ];
      const s = await store.services.create({ name: 'sealed-svc', token, createdAt: 1 });
      await store.grants.insertIfAbsent({ userId: u4.id, serviceId: s.id, scope: '', tokenSealed: 'v1.ky.grant', createdAt: 1 });
      const groups = (await store.sealedValues.groupByKeyId(2)).filter((g) => ['kx', 'KX', 'ky'].includes(g.keyId));
      expect(groups.sort((a, b) => (a.keyId < b.keyId ? -1 : 1))).toEqual([
        { keyId: 'KX', count: 1, samples: [{ column: 'users.totp_secret', userId: u4.id, sealed: u4.totpSecretSealed }] },
        {
          keyId: 'kx',
          count: 3,
          samples: [
            { column: 'users.totp_secret', userId: u1.id, sealed: u1.totpSecretSealed },
            { column: 'users.totp_secret', userId: u2.id, sealed: u2.totpSecretSealed },
          ],
        },
        { keyId: 'ky', count: 1, samples: [{ column: 'grants.token', userId: u4.id, serviceId: s.id, sealed: 'v1.ky.grant' }] },
      ]);
      expect(u3.id).toBeGreaterThan(u2.id);
    });

    it('answers a ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
