// The stores behind access rules (groups, members, group grants, rules, and how a device signed in), run against
// every database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewRule } from '../../src/core/model.js';
import { ConflictError, type Store } from '../../src/core/ports.js';
import { DIALECTS, openMigratedStore, skipReason } from '../support/databases.js';

const token = { hash: 'h'.repeat(64), salt: 's'.repeat(32), alg: 'sha256' as const };

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect))(`Access-rule stores on ${dialect}`, () => {
    let store: Store;
    let close: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      ({ store, close } = await openMigratedStore(dialect));
    });
    afterAll(async () => close?.());

    const addUser = (email: string) => store.users.create({ email, username: null, role: 'user', createdAt: 1 }, () => 'sealed');

    it('keeps groups by exact name, members once, and removes both with the group', async () => {
      const ops = await store.groups.create('ops', 10);
      expect(ops).toEqual({ id: ops.id, name: 'ops', createdAt: 10 });
      await expect(store.groups.create('ops', 11)).rejects.toBeInstanceOf(ConflictError);
      expect(await store.groups.findByName('ops')).toEqual(ops);
      expect(await store.groups.findByName('Ops')).toBeUndefined();
      expect(await store.groups.findByName('ops ')).toBeUndefined();
      const ann = await addUser('ann@example.com');
      expect(await store.groups.addMember(ops.id, ann.id, 12)).toBe(true);
      expect(await store.groups.addMember(ops.id, ann.id, 13)).toBe(false);
      expect(await store.groups.members()).toEqual([{ groupId: ops.id, userId: ann.id }]);
      expect(await store.groups.removeMember(ops.id, ann.id)).toBe(true);
      expect(await store.groups.removeMember(ops.id, ann.id)).toBe(false);
      await store.groups.addMember(ops.id, ann.id, 14);
      expect(await store.groups.delete(ops.id)).toBe(true);
      expect(await store.groups.members()).toEqual([]);
      expect(await store.groups.list()).toEqual([]);
    });

    it('answers a user’s groups and their grants of one service in one call', async () => {
      const app = await store.services.create({ name: 'ga-app', token, createdAt: 1 });
      const other = await store.services.create({ name: 'ga-other', token, createdAt: 1 });
      const a = await store.groups.create('ga-a', 1);
      const b = await store.groups.create('ga-b', 1);
      const bob = await addUser('bob@example.com');
      expect(await store.groups.accessOf(bob.id, app.id)).toEqual({ groups: [], scopes: [] });
      await store.groups.addMember(a.id, bob.id, 1);
      await store.groups.addMember(b.id, bob.id, 1);
      expect(await store.groups.accessOf(bob.id, app.id)).toEqual({ groups: ['ga-a', 'ga-b'], scopes: [] });
      await store.groups.grant(a.id, app.id, 'read:email', 2);
      await store.groups.grant(a.id, app.id, 'read:email', 2); // the same again: still one grant
      await store.groups.grant(b.id, other.id, '', 2);
      expect(await store.groups.accessOf(bob.id, app.id)).toEqual({ groups: ['ga-a', 'ga-b'], scopes: ['read:email'] });
      await store.groups.grant(a.id, app.id, 'read:username', 3);
      expect((await store.groups.grants()).filter((g) => g.serviceId === app.id)).toEqual([
        { groupId: a.id, serviceId: app.id, scope: 'read:username', createdAt: 2 },
      ]);
      expect(await store.groups.revoke(a.id, app.id)).toBe(true);
      expect(await store.groups.revoke(a.id, app.id)).toBe(false);
      expect(await store.groups.accessOf(bob.id, app.id)).toEqual({ groups: ['ga-a', 'ga-b'], scopes: [] });
      expect((await store.groups.accessOf(bob.id, other.id)).scopes).toEqual(['']);
    });

    it('keeps rules in order, inserts before a given rule of the same service only, and round-trips every list', async () => {
      const svc = await store.services.create({ name: 'rules-app', token, createdAt: 1 });
      const elsewhere = await store.services.create({ name: 'rules-other', token, createdAt: 1 });
      const rule = (policy: string, paths: string[] = []): NewRule => ({
        serviceId: svc.id,
        paths,
        methods: [],
        networks: [],
        users: [],
        groups: [],
        policy,
        createdAt: 5,
      });
      const first = await store.rules.add({
        ...rule('passkey', ['/admin/**', '/api/*/hooks']),
        methods: ['GET', 'POST'],
        networks: ['10.0.0.0/8', '2001:db8::/32'],
        users: ['ann@example.com'],
        groups: ['ops'],
      });
      expect(first).toMatchObject({ position: 1, paths: ['/admin/**', '/api/*/hooks'], groups: ['ops'] });
      const last = await store.rules.add(rule('deny', ['/**']));
      const middle = await store.rules.add(rule('public', ['/health']), last?.id);
      const other = await store.rules.add({ ...rule('deny'), serviceId: elsewhere.id });
      // Not a rule of this service: nothing is written.
      expect(await store.rules.add(rule('public'), other?.id)).toBeUndefined();
      expect(await store.rules.add(rule('public'), 999_999)).toBeUndefined();
      const listed = await store.rules.list(svc.id);
      expect(listed.map((r) => r.id)).toEqual([first?.id, middle?.id, last?.id]);
      expect(listed[0]).toEqual(first);
      expect(listed[0]).toEqual({
        id: first?.id,
        serviceId: svc.id,
        position: 1,
        paths: ['/admin/**', '/api/*/hooks'],
        methods: ['GET', 'POST'],
        networks: ['10.0.0.0/8', '2001:db8::/32'],
        users: ['ann@example.com'],
        groups: ['ops'],
        policy: 'passkey',
        createdAt: 5,
      });
      expect(listed[2]?.paths).toEqual(['/**']);
      expect(listed[1]?.methods).toEqual([]);
      expect(await store.rules.delete(middle?.id ?? 0)).toBe(true);
      expect(await store.rules.delete(middle?.id ?? 0)).toBe(false);
      expect((await store.rules.list(svc.id)).map((r) => r.policy)).toEqual(['passkey', 'deny']);
      // A service's rules go with it.
      await store.services.deleteByName('rules-other');
      expect((await store.rules.list()).some((r) => r.serviceId === elsewhere.id)).toBe(false);
    });

    it('records how and when a device signed in, and marks a group member’s token row as no grant of its own', async () => {
      const carl = await addUser('carl@example.com');
      const svc = await store.services.create({ name: 'dev-app', token, createdAt: 1 });
      await store.devices.create({ id: 'c'.repeat(32), userId: carl.id, signature: 'f'.repeat(64), deviceType: 'x', createdAt: 7 });
      await store.devices.create({
        id: 'd'.repeat(32),
        userId: carl.id,
        signature: 'f'.repeat(64),
        deviceType: 'x',
        createdAt: 7,
        signedInWith: 'passkey',
        signedInAt: 9,
      });
      expect((await store.devices.findWithUser('c'.repeat(32)))?.device).toMatchObject({ signedInWith: 'code', signedInAt: 7 });
      expect((await store.devices.findWithUser('d'.repeat(32)))?.device).toMatchObject({ signedInWith: 'passkey', signedInAt: 9 });
      const looked = await store.lookupForVerify('d'.repeat(32), 'dev-app');
      expect(looked.found?.device).toMatchObject({ signedInWith: 'passkey', signedInAt: 9 });
      await store.grants.insertIfAbsent({ userId: carl.id, serviceId: svc.id, scope: '', tokenSealed: 't', createdAt: 1, viaGroup: true });
      expect((await store.lookupForVerify('d'.repeat(32), 'dev-app')).grant?.viaGroup).toBe(true);
      // Granting the user directly makes it a grant of its own.
      expect(await store.grants.setScope(carl.id, svc.id, 'read:email')).toBe(true);
      expect((await store.grants.find(carl.id, svc.id))?.viaGroup).toBe(false);
    });

    it('answers the user’s groups, their groups’ scopes and the service’s rule count with the /verify look-up', async () => {
      const dana = await addUser('dana@example.com');
      const svc = await store.services.create({ name: 'look-app', token, createdAt: 1 });
      await store.devices.create({ id: 'e'.repeat(32), userId: dana.id, signature: 'f'.repeat(64), deviceType: 'x', createdAt: 7 });
      const a = await store.groups.create('look-a', 1);
      const b = await store.groups.create('look-b', 1);
      await store.groups.addMember(a.id, dana.id, 1);
      await store.groups.addMember(b.id, dana.id, 1);
      let looked = await store.lookupForVerify('e'.repeat(32), 'look-app');
      expect([...(looked.groups ?? [])].sort()).toEqual(['look-a', 'look-b']);
      expect(looked.groupScopes).toEqual([]);
      expect(looked.ruleCount).toBe(0);
      await store.groups.grant(a.id, svc.id, 'read:email', 1);
      await store.groups.grant(b.id, svc.id, '', 1);
      await store.rules.add({
        serviceId: svc.id,
        paths: ['/x'],
        methods: [],
        networks: [],
        users: [],
        groups: [],
        policy: 'deny',
        createdAt: 1,
      });
      looked = await store.lookupForVerify('e'.repeat(32), 'look-app');
      // Both grants count; their scopes joined (an empty one adds none).
      expect(looked.groupScopes).toHaveLength(1);
      expect((looked.groupScopes?.[0] ?? '').split(',').filter((x) => x !== '')).toEqual(['read:email']);
      expect(looked.ruleCount).toBe(1);
    });

    it('applies a whole policy in one transaction: groups, members, group grants, user grants and rules', async () => {
      const eve = await addUser('eve@example.com');
      const fay = await addUser('fay@example.com');
      const svc = await store.services.create({ name: 'pol-app', token, createdAt: 1 });
      const old = await store.groups.create('pol-old', 1);
      await store.groups.addMember(old.id, eve.id, 1);
      await store.grants.insertIfAbsent({ userId: fay.id, serviceId: svc.id, scope: '', tokenSealed: 'keep', createdAt: 1 });
      await store.rules.add({
        serviceId: svc.id,
        paths: ['/old'],
        methods: [],
        networks: [],
        users: [],
        groups: [],
        policy: 'deny',
        createdAt: 1,
      });
      const rule = (policy: string, paths: string[], groups: string[] = []) => ({
        serviceId: svc.id,
        paths,
        methods: [],
        networks: [],
        users: [],
        groups,
        policy,
        createdAt: 9,
      });
      await store.policy.apply({
        now: 9,
        groups: [{ name: 'pol-new', memberIds: [eve.id, fay.id], grants: [{ serviceId: svc.id, scope: 'read:email' }] }],
        services: [
          {
            serviceId: svc.id,
            grants: [
              { userId: eve.id, serviceId: svc.id, scope: 'read:username', tokenSealed: 'new', createdAt: 9 },
              { userId: fay.id, serviceId: svc.id, scope: 'read:email', tokenSealed: 'ignored', createdAt: 9 },
            ],
            rules: [rule('public', ['/health']), rule('passkey', ['/admin/**'], ['pol-new'])],
          },
        ],
      });
      expect((await store.groups.list()).map((g) => g.name)).not.toContain('pol-old');
      const made = await store.groups.findByName('pol-new');
      expect(
        (await store.groups.members())
          .filter((m) => m.groupId === made?.id)
          .map((m) => m.userId)
          .sort(),
      ).toEqual([eve.id, fay.id].sort());
      expect((await store.groups.accessOf(eve.id, svc.id)).scopes).toEqual(['read:email']);
      expect(await store.grants.find(eve.id, svc.id)).toMatchObject({ scope: 'read:username', tokenSealed: 'new' });
      // An existing grant keeps its token.
      expect(await store.grants.find(fay.id, svc.id)).toMatchObject({ scope: 'read:email', tokenSealed: 'keep' });
      expect((await store.rules.list(svc.id)).map((r) => [r.position, r.policy, r.groups])).toEqual([
        [1, 'public', []],
        [2, 'passkey', ['pol-new']],
      ]);
      // A failure part-way writes nothing: a member that is no user breaks the transaction.
      await expect(
        store.policy.apply({ now: 10, groups: [{ name: 'pol-broken', memberIds: [999_999], grants: [] }], services: [] }),
      ).rejects.toThrow();
      expect(await store.groups.findByName('pol-broken')).toBeUndefined();
      expect(await store.groups.findByName('pol-new')).toBeDefined();
    });
  });
}
