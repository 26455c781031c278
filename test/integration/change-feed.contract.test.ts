// Rule: every store mutation that can alter a /verify answer appends a change in its own transaction (a change
// and its record commit or roll back together), the feed reads them back in order with one query, a starting
// instance begins at "now", old rows are pruned, and on PostgreSQL a NOTIFY arrives with the commit. On every
// database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Change, decodeChange } from '../../src/core/changes.js';
import type { Store } from '../../src/core/ports.js';
import { openDatabase } from '../../src/store/database.js';
import { migrate } from '../../src/store/migrate.js';
import { createSqlStore } from '../../src/store/sql-store.js';
import { createTestDatabase, DIALECTS, skipReason, type TestDatabase } from '../support/databases.js';

const token = { hash: 'h'.repeat(64), salt: 's'.repeat(32), alg: 'sha256' as const };
const hex = (c: string) => c.repeat(32);

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect))(`Change feed store on ${dialect}`, () => {
    let tdb: TestDatabase;
    let store: Store;
    /** A second instance on the same database: it hears of changes only through the table. */
    let other: Store;
    const heard: Change[] = [];

    beforeAll(async () => {
      tdb = await createTestDatabase(dialect);
      const database = openDatabase(tdb.target);
      await migrate(database);
      store = createSqlStore(database);
      other = createSqlStore(openDatabase(tdb.target));
      store.changes.onCommitted((c) => {
        heard.push(c);
      });
    });
    afterAll(async () => {
      await store?.close();
      await other?.close();
      await tdb?.drop();
    });

    /** What the rows after `from` name, decoded, in order. */
    const read = async (s: Store, from: number) => (await s.changes.since(from, 1000)).map((r) => decodeChange(r.row));

    it('records every mutation that can alter a /verify answer, and only those that changed something', async () => {
      const start = await other.changes.latestId();
      heard.length = 0;
      const user = await store.users.create({ email: 'a@example.com', username: null, role: 'user', createdAt: 1 }, () => 's');
      const service = await store.services.create({ name: 'svc', token, createdAt: 1 });
      await store.proxyTokens.create({ name: 'proxy', token, createdAt: 1 });
      await store.devices.create({ id: hex('a'), userId: user.id, signature: hex('b') + hex('b'), deviceType: 't', createdAt: 1 });
      const grant = { userId: user.id, serviceId: service.id, scope: '', tokenSealed: 'x', createdAt: 1 };
      expect(await store.grants.insertIfAbsent(grant)).toBe(true);
      expect(await store.grants.insertIfAbsent(grant)).toBe(false); // nothing changed, nothing recorded
      await store.grants.setScope(user.id, service.id, 'read:email');
      await store.services.setToken('svc', token);
      expect(await store.devices.delete(hex('a'))).toBe(true);
      expect(await store.devices.delete(hex('a'))).toBe(false);
      await store.users.changeSignIn(user.id, () => ({ change: { passkeyOnly: false }, result: true }));
      expect(await store.grants.delete(user.id, service.id)).toBe(true);
      expect(await store.proxyTokens.deleteByName('proxy')).toBe(true);
      expect(await store.services.deleteByName('svc')).toBe(true);
      expect(await store.users.deleteByEmail('a@example.com')).toBe(true);
      expect(await store.users.deleteByEmail('a@example.com')).toBe(false);
      const expected: Change[] = [
        { kind: 'services' },
        { kind: 'grant', userId: user.id, serviceId: service.id },
        { kind: 'grant', userId: user.id, serviceId: service.id },
        { kind: 'services' },
        { kind: 'device', deviceId: hex('a') },
        { kind: 'user', userId: user.id },
        { kind: 'grant', userId: user.id, serviceId: service.id },
        { kind: 'proxy-tokens' },
        { kind: 'services' },
        { kind: 'user', userId: user.id },
      ];
      // Another instance reads them from the table; this one heard them as each committed.
      expect(await read(other, start)).toEqual(expected);
      expect(heard).toEqual(expected);
    });

    it('records the access rules changes (groups, members, group grants, rules, a policy) and a renewed sign-in', async () => {
      const start = await other.changes.latestId();
      heard.length = 0;
      const user = await store.users.create({ email: 'g@example.com', username: null, role: 'user', createdAt: 1 }, () => 's');
      const service = await store.services.create({ name: 'ruled', token, createdAt: 1 });
      const group = await store.groups.create('ops', 1);
      expect(await store.groups.addMember(group.id, user.id, 1)).toBe(true);
      expect(await store.groups.addMember(group.id, user.id, 1)).toBe(false); // already a member: nothing recorded
      await store.groups.grant(group.id, service.id, 'read:email', 1);
      const rule = await store.rules.add({
        serviceId: service.id,
        paths: ['/admin/**'],
        methods: [],
        networks: [],
        users: [],
        groups: ['ops'],
        policy: 'passkey',
        createdAt: 1,
      });
      expect(await store.rules.delete(rule?.id ?? 0)).toBe(true);
      expect(await store.groups.revoke(group.id, service.id)).toBe(true);
      expect(await store.groups.removeMember(group.id, user.id)).toBe(true);
      expect(await store.groups.delete(group.id)).toBe(true);
      await store.policy.apply({ now: 2, groups: [], services: [] });
      // A fresh sign-in on a device that keeps its cookies: how and when it signed in is cached with it.
      await store.devices.create({ id: hex('c'), userId: user.id, signature: hex('d') + hex('d'), deviceType: 't', createdAt: 1 });
      const renewed = await store.devices.addWithCodeStep(
        { id: hex('c'), userId: user.id, signature: hex('d') + hex('d'), deviceType: 't', createdAt: 3, signedInAt: 3, renews: true },
        7,
        () => true,
      );
      expect(renewed).toBe('created');
      const expected: Change[] = [
        { kind: 'services' },
        { kind: 'user', userId: user.id },
        { kind: 'groups' },
        { kind: 'rules' },
        { kind: 'rules' },
        { kind: 'groups' },
        { kind: 'user', userId: user.id },
        { kind: 'groups' },
        { kind: 'groups' },
        { kind: 'decisions' },
        { kind: 'rules' },
        { kind: 'device', deviceId: hex('c') },
      ];
      expect(await read(other, start)).toEqual(expected);
      expect(heard).toEqual(expected);
      await store.services.deleteByName('ruled');
      await store.users.deleteByEmail('g@example.com');
    });

    it('records nothing when the mutation fails (the record is in the same transaction)', async () => {
      const start = await store.changes.latestId();
      await store.services.create({ name: 'dup', token, createdAt: 1 });
      await expect(store.services.create({ name: 'dup', token, createdAt: 1 })).rejects.toThrow(/already exists/);
      expect(await read(other, start)).toEqual([{ kind: 'services' }]);
    });

    it('reads in pages by id, starts from the newest id, and prunes by age', async () => {
      const before = await store.changes.latestId();
      for (let i = 0; i < 5; i++) await store.services.setToken('dup', token);
      const page = await other.changes.since(before, 3);
      expect(page).toHaveLength(3);
      expect(page.map((r) => r.id)).toEqual([...page.map((r) => r.id)].sort((a, b) => a - b));
      const rest = await other.changes.since((page.at(-1) as { id: number }).id, 3);
      expect(rest).toHaveLength(2);
      expect(await other.changes.latestId()).toBe((rest.at(-1) as { id: number }).id);
      expect(await other.changes.prune(Date.now() + 1000)).toBeGreaterThanOrEqual(5);
      expect(await other.changes.since(0, 10)).toEqual([]);
    });

    // Only PostgreSQL has NOTIFY: registered there alone, so that no run reports a skipped test.
    if (dialect === 'postgres')
      it('sends a NOTIFY with the commit, which a listening instance hears', async () => {
        const listen = other.changes.listen;
        expect(listen).toBeDefined();
        let notified = 0;
        let arrived: () => void = () => {};
        const heardOne = new Promise<void>((resolve) => {
          arrived = resolve;
        });
        const stop = await (listen as NonNullable<typeof listen>)(
          () => {
            notified++;
            arrived();
          },
          () => {},
        );
        await store.services.setToken('dup', token);
        await heardOne;
        expect(notified).toBeGreaterThanOrEqual(1);
        await stop();
      });
  });
}
