// Rules: after `import-reference --apply`, every browser logged in at the reference stays logged in (its old
// cookies pass /verify), every service's old token still works and services see the same UserServiceToken as
// before, and authenticator apps set up at the reference still log in. A dry run writes nothing; a row that
// does not decrypt is reported and not imported; running the import again changes nothing.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminError } from '../../src/core/admin-tools.js';
import { sealContext } from '../../src/core/crypto.js';
import { importReferenceCommand } from '../../src/import/command.js';
import { type FernetKey, parseFernetKey } from '../../src/import/fernet.js';
import { importReference } from '../../src/import/mapping.js';
import { openReferenceReader, type ReferenceReader } from '../../src/import/reader.js';
import type { ReferenceSnapshot, ReferenceSource, ReferenceUser } from '../../src/import/reference.js';
import type { ImportReport } from '../../src/import/report.js';
import { createTestApp, readJson, START, type TestApp } from '../support/app.js';
import { DIALECTS, skipReason } from '../support/databases.js';
import { createReferenceDatabase, type ReferenceDatabase, tamper } from '../support/reference-db.js';
import { fernetEncrypt, newFernetKey } from '../support/reference-fernet.js';

const fernet = (text: string): FernetKey => {
  const key = parseFernetKey(text);
  if (!key) throw new Error('test key must parse');
  return key;
};

const run = (t: TestApp, source: ReferenceSource, fernetKey: FernetKey, apply: boolean): Promise<ImportReport> =>
  importReference({ source, store: t.runtime.store, keys: t.runtime.keys, clock: t.clock }, { fernetKey, apply });

/** What /verify/<service> answers for these cookies and this Bearer token. */
async function verify(t: TestApp, service: string, token: string, cookie: string) {
  const res = await t.request(`/verify/${service}`, { headers: { Authorization: `Bearer ${token}`, Cookie: cookie } });
  return { status: res.status, body: await readJson(res) };
}

/** Everything in our store, for "nothing changed" comparisons. */
async function contents(t: TestApp) {
  const { store } = t.runtime;
  return {
    users: await store.users.list(),
    services: await store.services.list(),
    devices: await store.devices.list(),
    grants: await store.grants.list(),
  };
}

describe.skipIf(skipReason('mysql'))('import-reference from a reference MySQL database', () => {
  let ref: ReferenceDatabase;
  let reader: ReferenceReader;
  let key: FernetKey;
  /** The reference deployment as its users, services and browsers know it. */
  const known = {} as {
    alice: { id: number; secret: string };
    bob: { id: number; secret: string };
    mallory: { id: number; secret: string };
    whoami: { id: number; token: string };
    grafana: { id: number; token: string };
    aliceLaptop: { deviceId: string; cookie: string };
    alicePhone: { deviceId: string; cookie: string };
    bobLaptop: { deviceId: string; cookie: string };
    malloryLaptop: { deviceId: string; cookie: string };
    aliceWhoami: { token: string };
    aliceGrafana: { token: string };
    bobWhoami: { token: string };
  };

  beforeAll(async () => {
    ref = await createReferenceDatabase();
    key = fernet(ref.fernetKey);
    reader = openReferenceReader(ref.target);
    known.alice = await ref.addUser({ email: 'Alice@Example.COM', username: 'alice', role: 'admin', createdAt: '2024-01-15 10:20:30' });
    known.bob = await ref.addUser({ email: 'bob@example.com', username: 'bob' });
    known.mallory = await ref.addUser({ email: 'mallory@example.com', username: 'mallory' });
    // Mallory's secret was altered in the database: it must be reported, and neither she nor her rows imported.
    await ref.conn.execute('UPDATE `User` SET TOTPSecretEncrypted = ? WHERE UserID = ?', [
      tamper(fernetEncrypt(ref.fernetKey, known.mallory.secret)),
      known.mallory.id,
    ]);
    known.whoami = await ref.addService('whoami');
    known.grafana = await ref.addService('grafana');
    known.aliceLaptop = await ref.addDevice(known.alice.id, 'Linux Firefox', '2026-10-01 08:30:00');
    known.alicePhone = await ref.addDevice(known.alice.id, 'iPhone ✓ Safari', null);
    known.bobLaptop = await ref.addDevice(known.bob.id, 'Windows Edge', '2026-09-30 23:59:59');
    known.malloryLaptop = await ref.addDevice(known.mallory.id, 'Linux Chrome');
    known.aliceWhoami = await ref.addGrant(known.alice.id, known.whoami.id, 'read:email,read:username,', '2026-10-01 08:31:00');
    known.aliceGrafana = await ref.addGrant(known.alice.id, known.grafana.id, '');
    known.bobWhoami = await ref.addGrant(known.bob.id, known.whoami.id, 'read:user-role,');
    await ref.addGrant(known.mallory.id, known.whoami.id, 'read:email,');
    // Bob's Grafana token was altered: reported, not imported; Bob is then refused by Grafana.
    await ref.addGrant(known.bob.id, known.grafana.id, 'read:email,');
    await ref.conn.execute('UPDATE `UserService` SET UserServiceTokenEncrypted = ? WHERE UserID = ? AND ServiceID = ?', [
      tamper(fernetEncrypt(ref.fernetKey, 'c4e4d0a2-0000-4000-8000-000000000000')),
      known.bob.id,
      known.grafana.id,
    ]);
  });
  afterAll(async () => {
    await reader?.close();
    await ref?.drop();
  });

  it('reads the reference tables as they are, times as UTC', async () => {
    const snapshot = await reader.snapshot();
    expect(snapshot.users.map((u) => [u.email, u.role])).toEqual([
      ['Alice@Example.COM', 'admin'],
      ['bob@example.com', 'user'],
      ['mallory@example.com', 'user'],
    ]);
    expect(snapshot.users[0]?.createdAt).toBe(Date.UTC(2024, 0, 15, 10, 20, 30));
    expect(snapshot.services.map((s) => s.name)).toEqual(['whoami', 'grafana']);
    expect(snapshot.devices.find((d) => d.id === known.aliceLaptop.deviceId)?.lastLoginAt).toBe(Date.UTC(2026, 9, 1, 8, 30));
    expect(snapshot.grants).toHaveLength(5);
    expect(snapshot.grants[0]?.scope).toBe('read:email,read:username,');
  });

  for (const dialect of DIALECTS) {
    describe.skipIf(skipReason(dialect))(`into ${dialect}`, () => {
      let t: TestApp;
      beforeAll(async () => {
        t = await createTestApp(dialect);
      });
      afterAll(async () => {
        await t?.close();
      });

      const expectedProblems = () =>
        expect.arrayContaining([
          {
            table: 'User',
            row: `UserID ${known.mallory.id} (mallory@example.com)`,
            message: expect.stringContaining('does not decrypt'),
          },
          { table: 'Device', row: `DeviceID ${known.malloryLaptop.deviceId}`, message: expect.stringContaining('not imported') },
          {
            table: 'UserService',
            row: `UserID ${known.mallory.id}, ServiceID ${known.whoami.id}`,
            message: expect.stringContaining('not imported'),
          },
          {
            table: 'UserService',
            row: `UserID ${known.bob.id}, ServiceID ${known.grafana.id}`,
            message: expect.stringContaining('does not decrypt'),
          },
        ]);

      it('a dry run reports what it would do and writes nothing', async () => {
        const before = await contents(t);
        const report = await run(t, reader, key, false);
        expect(report).toMatchObject({
          applied: false,
          users: { create: 2, existing: 0, refused: 1 },
          services: { create: 2, existing: 0, refused: 0 },
          devices: { create: 3, existing: 0, refused: 1 },
          grants: { create: 3, existing: 0, refused: 2 },
        });
        expect(report.problems).toHaveLength(4);
        expect(report.problems).toEqual(expectedProblems());
        expect(await contents(t)).toEqual(before);
      });

      it('--apply copies users, services, devices and grants', async () => {
        const report = await run(t, reader, key, true);
        expect(report).toMatchObject({
          applied: true,
          users: { create: 2, existing: 0, refused: 1 },
          services: { create: 2, existing: 0, refused: 0 },
          devices: { create: 3, existing: 0, refused: 1 },
          grants: { create: 3, existing: 0, refused: 2 },
          notes: [],
        });
        expect(report.problems).toEqual(expectedProblems());

        const { users, services, devices, grants } = await contents(t);
        expect(users.map((u) => [u.email, u.username, u.role])).toEqual([
          ['alice@example.com', 'alice', 'admin'],
          ['bob@example.com', 'bob', 'user'],
        ]);
        expect(users[0]?.createdAt).toBe(Date.UTC(2024, 0, 15, 10, 20, 30));
        expect(services.map((s) => [s.name, s.token.alg])).toEqual([
          ['grafana', 'sha512-ref'],
          ['whoami', 'sha512-ref'],
        ]);
        const laptop = devices.find((d) => d.id === known.aliceLaptop.deviceId);
        expect(laptop).toMatchObject({ deviceType: 'Linux Firefox', lastSeenAt: Date.UTC(2026, 9, 1, 8, 30) });
        const phone = devices.find((d) => d.id === known.alicePhone.deviceId);
        // Our device labels are printable ASCII; no LastLogin stays "never seen", added at the import.
        expect(phone).toMatchObject({ deviceType: 'iPhone  Safari', lastSeenAt: null, createdAt: START });
        expect(devices.some((d) => d.id === known.malloryLaptop.deviceId)).toBe(false);
        expect(grants).toHaveLength(3);
        // Sealed with OUR key and bound to OUR row ids.
        const alice = users[0];
        const whoami = services.find((s) => s.name === 'whoami');
        const grant = grants.find((g) => g.userId === alice?.id && g.serviceId === whoami?.id);
        expect(grant?.tokenSealed).toMatch(/^v1\.test1\./);
        expect(t.runtime.keys.open(grant?.tokenSealed ?? '', sealContext.grantToken(alice?.id ?? 0, whoami?.id ?? 0))).toBe(
          known.aliceWhoami.token,
        );
        expect(t.runtime.keys.open(alice?.totpSecretSealed ?? '', sealContext.totpSecret(alice?.id ?? 0))).toBe(known.alice.secret);
      });

      it('a browser logged in at the reference stays logged in, and services see the same UserServiceToken', async () => {
        expect(await verify(t, 'whoami', known.whoami.token, known.aliceLaptop.cookie)).toEqual({
          status: 200,
          body: {
            'status code': 200,
            status: 'ok',
            data: { UserServiceToken: known.aliceWhoami.token, Email: 'alice@example.com', Username: 'alice' },
          },
        });
        // Another device of the same user: the same pseudonymous token.
        expect((await verify(t, 'whoami', known.whoami.token, known.alicePhone.cookie)).body.data).toEqual({
          UserServiceToken: known.aliceWhoami.token,
          Email: 'alice@example.com',
          Username: 'alice',
        });
        expect(await verify(t, 'grafana', known.grafana.token, known.aliceLaptop.cookie)).toMatchObject({
          status: 200,
          body: { data: { UserServiceToken: known.aliceGrafana.token } },
        });
        expect(await verify(t, 'whoami', known.whoami.token, known.bobLaptop.cookie)).toMatchObject({
          status: 200,
          body: { data: { UserServiceToken: known.bobWhoami.token, UserRole: 'user' } },
        });
      });

      it("the reference's service tokens keep working, and only for their own service", async () => {
        expect((await verify(t, 'whoami', known.grafana.token, known.aliceLaptop.cookie)).status).toBe(401);
        expect((await verify(t, 'whoami', `${known.whoami.token}x`, known.aliceLaptop.cookie)).body).toEqual({
          'status code': 401,
          error: 'Could not verify service',
        });
      });

      it('rows that did not decrypt are not there: their cookies and grants do not work', async () => {
        expect(await verify(t, 'whoami', known.whoami.token, known.malloryLaptop.cookie)).toEqual({
          status: 404,
          body: { 'status code': 404, error: 'Not Found' },
        });
        expect(await verify(t, 'grafana', known.grafana.token, known.bobLaptop.cookie)).toEqual({
          status: 401,
          body: { 'status code': 401, error: 'User does not have access to this service' },
        });
      });

      it('the authenticator app set up at the reference logs in here', async () => {
        const cookie = await t.login('alice@example.com', known.alice.secret);
        expect((await verify(t, 'whoami', known.whoami.token, cookie)).body.data.UserServiceToken).toBe(known.aliceWhoami.token);
        // The email as it was typed at the reference works too: emails are compared in canonical form.
        await t.login('Alice@Example.COM', known.alice.secret);
      });

      it('running --apply again changes nothing and reports the same problems', async () => {
        const before = await contents(t);
        const report = await run(t, reader, key, true);
        expect(report).toMatchObject({
          users: { create: 0, existing: 2, refused: 1 },
          services: { create: 0, existing: 2, refused: 0 },
          devices: { create: 0, existing: 3, refused: 1 },
          grants: { create: 0, existing: 3, refused: 2 },
          notes: [],
        });
        expect(report.problems).toEqual(expectedProblems());
        expect(await contents(t)).toEqual(before);
        // And a dry run now has nothing to do.
        expect((await run(t, reader, key, false)).users).toEqual({ create: 0, existing: 2, refused: 1 });
      });

      it('a wrong key is an error before anything is written', async () => {
        const before = await contents(t);
        await expect(run(t, reader, fernet(newFernetKey()), true)).rejects.toThrow(AdminError);
        await expect(run(t, reader, fernet(newFernetKey()), true)).rejects.toThrow(/decrypts none of the 8 encrypted values/);
        expect(await contents(t)).toEqual(before);
      });
    });
  }

  describe('the command', () => {
    let t: TestApp;
    let dir: string;
    beforeAll(async () => {
      t = await createTestApp('sqlite');
      dir = mkdtempSync(join(tmpdir(), 'pa-import-'));
    });
    afterAll(async () => {
      await t?.close();
    });

    const command = async (values: Parameters<typeof importReferenceCommand>[1], json = false) => {
      const printed: { value: unknown; text: string[] }[] = [];
      await importReferenceCommand(t.runtime, values, {
        json,
        result: (value, text) => printed.push({ value, text: Array.isArray(text) ? text : [text] }),
      });
      return printed;
    };

    it('refuses missing or wrong options with a message the operator can act on', async () => {
      const fails = (values: Parameters<typeof importReferenceCommand>[1]) => expect(command(values)).rejects.toThrow(AdminError);
      await fails({ 'fernet-key': ref.fernetKey });
      await fails({ from: ref.url });
      await expect(command({ from: 'sqlite:./x.db', 'fernet-key': ref.fernetKey })).rejects.toThrow(/--from must be the reference's MySQL/);
      await expect(command({ from: ref.url, 'fernet-key': 'not-a-key' })).rejects.toThrow(/TOTP_ENCRYPTION_KEY/);
      await expect(command({ from: ref.url, 'fernet-key': `@${join(dir, 'missing')}` })).rejects.toThrow(/cannot read .*ENOENT/);
      // A database without the reference's tables: said so, with a hint.
      const empty = `${ref.target.database}_empty`;
      await ref.conn.query(`CREATE DATABASE \`${empty}\``);
      try {
        const err = await command({ from: ref.url.replace(/\/[^/]+$/, `/${empty}`), 'fernet-key': ref.fernetKey }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(AdminError);
        expect((err as Error).message).toMatch(
          /^cannot read the reference database at .*_empty: .*User.* \(is this the reference's Auth_service database\?\)$/,
        );
      } finally {
        await ref.conn.query(`DROP DATABASE \`${empty}\``);
      }
    });

    it('prints a dry run for people, reading the key from a file', async () => {
      const keyFile = join(dir, 'fernet.key');
      writeFileSync(keyFile, `${ref.fernetKey}\n`, { mode: 0o600 });
      const [printed] = await command({ from: ref.url, 'fernet-key': `@${keyFile}` });
      const text = printed?.text.join('\n') ?? '';
      expect(text).toContain('Dry run: nothing was written');
      expect(text).toMatch(/users\s+2\s+0\s+1/);
      expect(text).toContain('Not imported (4):');
      expect(text).toContain('does not decrypt');
      expect(text).not.toContain(known.alice.secret);
      expect(await t.runtime.store.users.list()).toEqual([]);
    });

    it('applies and answers --json with the report', async () => {
      const [printed] = await command({ from: ref.url, 'fernet-key': ref.fernetKey, apply: true }, true);
      expect(printed?.value).toMatchObject({ applied: true, users: { create: 2 }, devices: { create: 3 } });
      expect(await t.runtime.store.users.list()).toHaveLength(2);
    });
  });
});

/** The import rules that need no reference database: a hand-written snapshot into SQLite. */
describe('import rules', () => {
  const keyText = newFernetKey();
  const key = fernet(keyText);
  const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
  const hexId = (c: string) => c.repeat(32);
  const signature = 'ab'.repeat(32);
  const user = (id: number, email: string | null, extra: Partial<ReferenceUser> = {}): ReferenceUser => ({
    id,
    username: `u${id}`,
    email,
    role: 'user',
    totpSecretEncrypted: fernetEncrypt(keyText, secret),
    createdAt: 1000,
    ...extra,
  });
  const service = (id: number, name: string, salt = '0123456789abcdef0123456789abcdef') => ({
    id,
    name,
    tokenHash: 'F'.repeat(128),
    salt,
    createdAt: null,
  });
  const source = (snapshot: Partial<ReferenceSnapshot>): ReferenceSource => ({
    snapshot: async () => ({ users: [], devices: [], services: [], grants: [], ...snapshot }),
  });

  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('sqlite');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses rows that cannot work here, imports the rest, and says why', async () => {
    const report = await run(
      t,
      source({
        users: [
          user(1, ' Zoë@Example.com '),
          user(2, 'zoë@example.com'),
          user(3, 'not an email'),
          user(4, 'weird-role@example.com', { role: 'Admin' }),
          user(5, 'no-secret@example.com', { totpSecretEncrypted: null }),
          user(6, 'not-base32@example.com', { totpSecretEncrypted: fernetEncrypt(keyText, 'secret with spaces') }),
        ],
        services: [service(1, 'Mail'), service(2, 'Mail'), service(3, 'has space'), { ...service(4, 'short-hash'), tokenHash: 'ab' }],
        devices: [
          { id: hexId('a'), userId: 1, signature: signature.toUpperCase(), deviceType: null, lastLoginAt: null },
          { id: hexId('A'), userId: 1, signature, deviceType: 'x', lastLoginAt: null },
          { id: hexId('b'), userId: 1, signature: 'abc', deviceType: 'x', lastLoginAt: null },
          { id: hexId('c'), userId: 99, signature, deviceType: 'x', lastLoginAt: null },
          { id: hexId('d'), userId: 2, signature, deviceType: 'x', lastLoginAt: null },
        ],
        grants: [
          {
            userId: 1,
            serviceId: 1,
            scope: 'read:email,réad:x,read:username',
            tokenEncrypted: fernetEncrypt(keyText, 'tok-1'),
            lastLoginAt: null,
          },
          { userId: 1, serviceId: 2, scope: '', tokenEncrypted: fernetEncrypt(keyText, 'tok-2'), lastLoginAt: null },
          { userId: 4, serviceId: 1, scope: '', tokenEncrypted: fernetEncrypt(keyText, 'has a space'), lastLoginAt: null },
          { userId: 4, serviceId: 7, scope: '', tokenEncrypted: fernetEncrypt(keyText, 'tok-3'), lastLoginAt: null },
        ],
      }),
      key,
      true,
    );
    const messages = report.problems.map((p) => `${p.table} ${p.row}: ${p.message}`);
    expect(messages).toEqual([
      'User UserID 2 (zoë@example.com): same email as UserID 1 once canonical (zoë@example.com); only UserID 1 can be imported',
      'User UserID 3 (not an email): Email is not an email address',
      'User UserID 5 (no-secret@example.com): no TOTPSecretEncrypted',
      'User UserID 6 (not-base32@example.com): the decrypted TOTP secret is not a base32 secret',
      'Service ServiceID 2 (Mail): same ServiceName as ServiceID 1; only ServiceID 1 can be imported',
      expect.stringMatching(/^Service ServiceID 3 \(has space\): ServiceName is not usable/),
      'Service ServiceID 4 (short-hash): ServiceTokenHash is not a SHA-512 hex digest',
      `Device DeviceID ${hexId('A')}: DeviceID is not 32 lowercase hex characters, so no browser can present it here`,
      `Device DeviceID ${hexId('b')}: DeviceHMACSignature is not 64 hex characters`,
      `Device DeviceID ${hexId('c')}: no User row with UserID 99`,
      `Device DeviceID ${hexId('d')}: its user (UserID 2) is not imported`,
      'UserService UserID 1, ServiceID 2: its service (ServiceID 2) is not imported',
      'UserService UserID 4, ServiceID 1: the decrypted user-service token is not 1-128 printable ASCII characters',
      'UserService UserID 4, ServiceID 7: no Service row with ServiceID 7',
    ]);
    expect(report.notes.map((n) => `${n.table} ${n.row}: ${n.message}`)).toEqual([
      'User UserID 4 (weird-role@example.com): Role "Admin" is neither admin nor user; imported as user',
      'UserService UserID 1, ServiceID 1: Scope has characters other than printable ASCII; imported as "read:email,read:username"',
    ]);
    const { users, services, devices, grants } = await contents(t);
    expect(users.map((u) => [u.email, u.role])).toEqual([
      ['zoë@example.com', 'user'],
      ['weird-role@example.com', 'user'],
    ]);
    expect(services.map((s) => s.token)).toEqual([{ hash: 'f'.repeat(128), salt: '0123456789abcdef0123456789abcdef', alg: 'sha512-ref' }]);
    // Upper-case hex signatures are the same signature; they are stored as our lower-case form.
    expect(devices).toEqual([
      {
        id: hexId('a'),
        userId: users[0]?.id,
        signature,
        deviceType: 'unknown',
        createdAt: START,
        lastSeenAt: null,
        signedInWith: 'code',
        signedInAt: START,
      },
    ]);
    expect(grants.map((g) => g.scope)).toEqual(['read:email,read:username']);
  });

  it('keeps rows that already exist here as they are, and notes where they differ from the reference', async () => {
    const { store, admin } = t.runtime;
    // Changed here after an earlier import: another TOTP secret and role, a rotated token, another grant token.
    await admin.addUser({ email: 'kept@example.com', username: 'kept', admin: true });
    const kept = await admin.addService('Kept');
    await admin.grant({ email: 'kept@example.com', service: 'Kept', scope: 'read:email' });
    const keptUser = await store.users.findByEmail('kept@example.com');
    await store.devices.create({ id: hexId('e'), userId: keptUser?.id ?? 0, signature, deviceType: 'here', createdAt: 1 });
    const before = await contents(t);
    const report = await run(
      t,
      source({
        users: [user(10, 'kept@example.com'), user(11, 'other@example.com')],
        services: [service(10, 'Kept')],
        devices: [
          { id: hexId('e'), userId: 11, signature, deviceType: 'there', lastLoginAt: null },
          { id: hexId('f'), userId: 10, signature, deviceType: 'there', lastLoginAt: 5000 },
        ],
        grants: [{ userId: 10, serviceId: 10, scope: '', tokenEncrypted: fernetEncrypt(keyText, 'tok-kept'), lastLoginAt: null }],
      }),
      key,
      true,
    );
    expect(report).toMatchObject({
      users: { create: 1, existing: 1, refused: 0 },
      services: { create: 0, existing: 1, refused: 0 },
      devices: { create: 1, existing: 0, refused: 1 },
      grants: { create: 0, existing: 1, refused: 0 },
    });
    expect(report.notes.map((n) => `${n.table} ${n.row}: ${n.message}`)).toEqual([
      `User UserID 10 (kept@example.com): already here (id ${keptUser?.id}) with another TOTP secret, role, username; kept as it is here`,
      expect.stringMatching(/^Service ServiceID 10 \(Kept\): already here .* with another token; kept/),
      'UserService UserID 10, ServiceID 10: already here with another user-service token and scope; kept as it is here',
    ]);
    expect(report.problems.map((p) => p.message)).toEqual([
      'a device with this id is already here for another user or with another signature; kept as it is here',
    ]);
    const after = await contents(t);
    expect(after.users.find((u) => u.email === 'kept@example.com')).toEqual(before.users.find((u) => u.email === 'kept@example.com'));
    expect(after.services.find((s) => s.name === 'Kept')?.token).toEqual(kept.service.token);
    expect(after.devices.find((d) => d.id === hexId('e'))?.deviceType).toBe('here');
    // A new reference device joins the user who was already here.
    expect(after.devices.find((d) => d.id === hexId('f'))).toMatchObject({ userId: keptUser?.id, createdAt: 5000, lastSeenAt: 5000 });
  });

  it('a reference with no rows imports nothing and needs no key check', async () => {
    const report = await run(t, source({}), fernet(newFernetKey()), false);
    expect(report.users).toEqual({ create: 0, existing: 0, refused: 0 });
    expect(report.problems).toEqual([]);
  });
});
