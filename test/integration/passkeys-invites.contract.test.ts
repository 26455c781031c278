// The contract of the passkey, invite and challenge stores, run against every database: what the core relies on
// for single use (invites, challenges), a counter that only moves forwards, and cascades must hold on each.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewPasskey } from '../../src/core/model.js';
import { decideRemoval, PasskeyAccount } from '../../src/core/passkey-account.js';
import { PASSKEY_BOUNDS } from '../../src/core/passkey-key.js';
import { ConflictError, type Store } from '../../src/core/ports.js';
import { DIALECTS, openMigratedStore, skipReason } from '../support/databases.js';

const hex = (c: string) => c.repeat(32);
let nextDevice = 0;
const device = (userId: number, createdAt = 10) => ({
  id: (++nextDevice).toString(16).padStart(32, '0'),
  userId,
  signature: 'f'.repeat(64),
  deviceType: 'Test',
  createdAt,
});

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect))(`passkey, invite and challenge stores on ${dialect}`, () => {
    let store: Store;
    let close: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      ({ store, close } = await openMigratedStore(dialect));
    });
    afterAll(async () => close?.());

    const addUser = (email: string) =>
      store.users.create({ email, username: null, role: 'user', createdAt: 1 }, (id) => `sealed-for-${id}`);
    const passkey = (userId: number, credentialId: string, signCount = 0): NewPasskey => ({
      userId,
      credentialId,
      publicKey: 'pQECAyYgASFYIA',
      signCount,
      transports: ['internal', 'hybrid'],
      name: 'Laptop',
      createdAt: 5,
    });

    it('stores passkeys, finds them by exact credential id, renames and removes only the owner’s', async () => {
      const u = await addUser('pk@example.com');
      const other = await addUser('pk-other@example.com');
      const p = await store.passkeys.create(passkey(u.id, 'Cred-AbC_1'));
      expect(await store.passkeys.findByCredentialId('Cred-AbC_1')).toEqual(p);
      expect(p.transports).toEqual(['internal', 'hybrid']);
      // base64url is case-sensitive: another case is another credential.
      expect(await store.passkeys.findByCredentialId('cred-abc_1')).toBeUndefined();
      expect(await store.passkeys.findByCredentialId('Cred-AbC_1 ')).toBeUndefined();
      await expect(store.passkeys.create(passkey(other.id, 'Cred-AbC_1'))).rejects.toBeInstanceOf(ConflictError);
      expect(await store.passkeys.rename(other.id, p.id, 'Stolen')).toBe(false);
      expect(await store.passkeys.rename(u.id, p.id, 'Phone')).toBe(true);
      expect(await store.passkeys.rename(u.id, p.id, 'Phone')).toBe(true);
      expect((await store.passkeys.list(u.id)).map((x) => x.name)).toEqual(['Phone']);
      expect(await store.passkeys.find(p.id)).toEqual({ ...p, name: 'Phone' });
      // Removed only as the owner's: another user's state never lists it.
      const remove = (userId: number) => store.users.changeSignIn(userId, (state) => decideRemoval(state, p.id, { lockOut: true }));
      expect(await remove(other.id)).toBe('none');
      expect(await remove(u.id)).toBe('removed');
      expect(await store.passkeys.findByCredentialId('Cred-AbC_1')).toBeUndefined();
      expect(await store.passkeys.find(p.id)).toBeUndefined();
    });

    // The bounds the core checks before storing (src/core/passkey-key.ts) fit the columns: nothing within them can
    // reach the database too long (MariaDB's ER_DATA_TOO_LONG, PostgreSQL's 22001).
    it('stores a passkey at every bound', async () => {
      const u = await addUser('bounds@example.com');
      const longest = {
        ...passkey(u.id, 'x'.repeat(PASSKEY_BOUNDS.credentialIdChars)),
        publicKey: 'k'.repeat(PASSKEY_BOUNDS.publicKeyChars),
        name: 'é'.repeat(PASSKEY_BOUNDS.nameChars),
        transports: ['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'],
      };
      const p = await store.passkeys.create(longest);
      expect(await store.passkeys.find(p.id)).toEqual({ ...longest, id: p.id, lastUsedAt: null });
    });

    it('signs in with a passkey only when its counter moves forwards, adding the device in the same transaction', async () => {
      const u = await addUser('counter@example.com');
      const p = await store.passkeys.create(passkey(u.id, 'counted', 5));
      const d1 = device(u.id, 100);
      expect(await store.passkeys.signIn(p.id, 6, d1, () => true)).toBe('created');
      expect((await store.devices.findWithUser(d1.id))?.user.id).toBe(u.id);
      const after = await store.passkeys.findByCredentialId('counted');
      expect(after?.signCount).toBe(6);
      expect(after?.lastUsedAt).toBe(100);
      // Equal or lower: refused, and no device.
      for (const count of [6, 3, 0]) {
        const d = device(u.id);
        expect(await store.passkeys.signIn(p.id, count, d, () => true)).toBe('refused');
        expect(await store.devices.findWithUser(d.id)).toBeUndefined();
      }
      // Of parallel sign-ins with one counter value exactly one wins.
      const raced = await Promise.all(Array.from({ length: 8 }, () => store.passkeys.signIn(p.id, 7, device(u.id), () => true)));
      expect(raced.filter((r) => r === 'created')).toHaveLength(1);
      // Abandoned: nothing committed, the counter stays.
      const late = device(u.id);
      expect(await store.passkeys.signIn(p.id, 9, late, () => false)).toBe('abandoned');
      expect(await store.devices.findWithUser(late.id)).toBeUndefined();
      expect((await store.passkeys.findByCredentialId('counted'))?.signCount).toBe(7);
      // Another user's device never rides on this passkey.
      const other = await addUser('counter-other@example.com');
      expect(await store.passkeys.signIn(p.id, 10, device(other.id), () => true)).toBe('refused');
    });

    it('lets an authenticator without a counter (always 0) sign in again and again', async () => {
      const u = await addUser('zero@example.com');
      const p = await store.passkeys.create(passkey(u.id, 'zero', 0));
      expect(await store.passkeys.signIn(p.id, 0, device(u.id), () => true)).toBe('created');
      expect(await store.passkeys.signIn(p.id, 0, device(u.id), () => true)).toBe('created');
      // Once it counts, it may not go back to 0.
      expect(await store.passkeys.signIn(p.id, 1, device(u.id), () => true)).toBe('created');
      expect(await store.passkeys.signIn(p.id, 0, device(u.id), () => true)).toBe('refused');
    });

    it('turns passkey-only on and off, and reports unknown users', async () => {
      const u = await addUser('only@example.com');
      const set = (userId: number, on: boolean) => store.users.changeSignIn(userId, () => ({ change: { passkeyOnly: on }, result: true }));
      expect((await store.users.findByEmail('only@example.com'))?.passkeyOnly).toBe(false);
      expect(await set(u.id, true)).toBe(true);
      expect(await set(u.id, true)).toBe(true);
      expect((await store.users.findByEmail('only@example.com'))?.passkeyOnly).toBe(true);
      // The device look-up (the /verify cold path) reads the same user.
      const d = device(u.id);
      await store.devices.create(d);
      expect((await store.devices.findWithUser(d.id))?.user.passkeyOnly).toBe(true);
      expect(await set(u.id, false)).toBe(true);
      expect((await store.users.findByEmail('only@example.com'))?.passkeyOnly).toBe(false);
      expect(await set(999_999, true)).toBeUndefined();
    });

    // Rule: no change leaves an account without a way in, however many arrive at once. Removals and passkey-only
    // run at the same moment, on separate connections; the account ends with a passkey, or with codes it can use.
    it('keeps every account a way in when removals and passkey-only race', async () => {
      const account = new PasskeyAccount({ store });
      const u = await addUser('race@example.com');
      for (let round = 0; round < 6; round++) {
        const a = await store.passkeys.create(passkey(u.id, `race-a-${round}`));
        const b = await store.passkeys.create(passkey(u.id, `race-b-${round}`));
        expect(await account.setPasskeyOnly(u.id, true)).toBe('done');
        const removed = await Promise.all([account.remove(u.id, a.id), account.remove(u.id, b.id)]);
        expect(removed.sort(), `round ${round}`).toEqual(['last', 'removed']);
        const left = await store.passkeys.list(u.id);
        expect(left).toHaveLength(1);
        // Passkey-only on and the last passkey's removal at once: one of them is refused.
        expect(await account.setPasskeyOnly(u.id, false)).toBe('done');
        const raced = await Promise.all([account.setPasskeyOnly(u.id, true), account.remove(u.id, left[0]?.id ?? 0)]);
        expect([
          ['done', 'last'],
          ['no-passkey', 'removed'],
        ]).toContainEqual(raced);
        const user = await store.users.findById(u.id);
        const passkeys = await store.passkeys.list(u.id);
        expect(user?.passkeyOnly && passkeys.length === 0, `round ${round}: passkey-only without a passkey`).toBe(false);
        await account.setPasskeyOnly(u.id, false);
        for (const p of passkeys) expect(await account.remove(u.id, p.id)).toBe('removed');
      }
      // Removing the app and removing the last passkey at once: one of them is refused.
      for (let round = 0; round < 6; round++) {
        const app = await store.users.create(
          { email: `race-app-${round}@example.com`, username: null, role: 'user', createdAt: 1 },
          () => 'sealed',
        );
        const p = await store.passkeys.create(passkey(app.id, `race-app-${round}`));
        await Promise.all([store.users.removeTotpSecret(app.id), account.remove(app.id, p.id)]);
        const [user, left] = [await store.users.findById(app.id), await store.passkeys.list(app.id)];
        expect(user?.totpSecretSealed !== '' || left.length > 0, `round ${round}: neither an app nor a passkey`).toBe(true);
      }
      // Without an app, the last passkey stays whatever passkey-only says.
      const noApp = await store.users.create({ email: 'race-no-app@example.com', username: null, role: 'user', createdAt: 1 }, () => '');
      const only = await store.passkeys.create(passkey(noApp.id, 'race-no-app'));
      expect(await account.remove(noApp.id, only.id)).toBe('last');
      expect(await store.users.changeSignIn(noApp.id, (s) => decideRemoval(s, only.id, { passkeyOnlyOff: true }))).toBe('last');
    });

    const invite = (userId: number, tokenHash: string, expiresAt = 1_000) => ({
      tokenHash,
      userId,
      pendingTotpSealed: `pending-${tokenHash}`,
      createdAt: 1,
      expiresAt,
    });

    it('keeps one invite per user: a newer one voids the older', async () => {
      const u = await addUser('invited@example.com');
      const first = await store.invites.create(invite(u.id, hex('1')));
      expect(await store.invites.findByTokenHash(hex('1'))).toEqual(first);
      await store.invites.create(invite(u.id, hex('2')));
      expect(await store.invites.findByTokenHash(hex('1'))).toBeUndefined();
      expect((await store.invites.findByTokenHash(hex('2')))?.userId).toBe(u.id);
      expect((await store.invites.listPending(500)).filter((i) => i.userId === u.id).map((i) => i.tokenHash)).toEqual([hex('2')]);
      expect((await store.invites.listPending(1_000)).filter((i) => i.userId === u.id)).toEqual([]);
      await expect(store.invites.create(invite((await addUser('dup@example.com')).id, hex('2')))).rejects.toBeInstanceOf(ConflictError);
    });

    it('redeems an invite once, before it expires, replacing the TOTP secret and adding the device together', async () => {
      const u = await addUser('redeem@example.com');
      await store.invites.create(invite(u.id, hex('3'), 1_000));
      const d = device(u.id);
      const redeem = (now: number, dev = device(u.id), stillWanted = () => true) =>
        store.invites.redeem({ tokenHash: hex('3'), now, device: dev, totp: { sealed: 'new-sealed', step: 42 }, stillWanted });
      expect(await redeem(1_000)).toBe('refused'); // expired at 1000
      expect(await redeem(500, d, () => false)).toBe('abandoned');
      expect((await store.users.findByEmail('redeem@example.com'))?.totpSecretSealed).toBe(`sealed-for-${u.id}`);
      const raced = await Promise.all(Array.from({ length: 6 }, () => redeem(500)));
      expect(raced.filter((r) => r === 'created')).toHaveLength(1);
      const user = await store.users.findByEmail('redeem@example.com');
      expect(user?.totpSecretSealed).toBe('new-sealed');
      expect(user?.lastTotpStep).toBe(42);
      expect((await store.invites.findByTokenHash(hex('3')))?.usedAt).toBe(500);
      expect(await redeem(501)).toBe('refused');
      expect(await store.devices.list(u.id)).toHaveLength(1);
    });

    it('redeems an invite with a passkey, and never for another user', async () => {
      const u = await addUser('redeem-pk@example.com');
      const other = await addUser('redeem-pk-other@example.com');
      await store.invites.create(invite(u.id, hex('4')));
      const tokenHash = hex('4');
      expect(await store.invites.redeem({ tokenHash, now: 2, device: device(other.id), stillWanted: () => true })).toBe('refused');
      const p = passkey(u.id, 'from-invite');
      expect(await store.invites.redeem({ tokenHash, now: 2, device: device(u.id), passkey: p, stillWanted: () => true })).toBe('created');
      expect((await store.passkeys.findByCredentialId('from-invite'))?.userId).toBe(u.id);
      expect((await store.users.findByEmail('redeem-pk@example.com'))?.totpSecretSealed).toBe(`sealed-for-${u.id}`);
    });

    it('hands a challenge out once: of parallel takers exactly one gets it', async () => {
      const u = await addUser('challenge@example.com');
      const c = { handleHash: hex('c'), challenge: 'q'.repeat(43), purpose: 'register' as const, userId: u.id, expiresAt: 300 };
      await store.challenges.create(c);
      const taken = await Promise.all(Array.from({ length: 6 }, () => store.challenges.take(hex('c'))));
      expect(taken.filter((t) => t !== undefined)).toEqual([c]);
      expect(await store.challenges.take(hex('c'))).toBeUndefined();
      await store.challenges.create({ ...c, handleHash: hex('d'), purpose: 'sign-in', userId: null, expiresAt: 100 });
      await store.challenges.create({ ...c, handleHash: hex('e'), expiresAt: 400 });
      expect(await store.challenges.prune(200)).toBe(1);
      expect(await store.challenges.take(hex('d'))).toBeUndefined();
      expect((await store.challenges.take(hex('e')))?.purpose).toBe('register');
    });

    it('leaves accounts without a TOTP secret out of the key check (nothing sealed to open)', async () => {
      const before = await store.sealedValues.groupByKeyId(1000);
      const u = await store.users.create({ email: 'no-secret@example.com', username: null, role: 'user', createdAt: 1 }, () => '');
      const after = await store.sealedValues.groupByKeyId(1000);
      const total = (groups: typeof before) => groups.reduce((n, g) => n + g.count, 0);
      expect(total(after)).toBe(total(before));
      expect(after.flatMap((g) => g.samples).some((v) => v.column === 'users.totp_secret' && v.userId === u.id)).toBe(false);
    });

    it('deleting a user removes their passkeys, invites and challenges', async () => {
      const u = await addUser('gone@example.com');
      await store.passkeys.create(passkey(u.id, 'gone-cred'));
      await store.invites.create(invite(u.id, hex('5')));
      await store.challenges.create({ handleHash: hex('f'), challenge: 'x', purpose: 'enroll', userId: u.id, expiresAt: 300 });
      expect(await store.users.deleteByEmail('gone@example.com')).toBe(true);
      expect(await store.passkeys.findByCredentialId('gone-cred')).toBeUndefined();
      expect(await store.invites.findByTokenHash(hex('5'))).toBeUndefined();
      expect(await store.challenges.take(hex('f'))).toBeUndefined();
    });
  });
}
