// The admin command line and the newcomer's path, as processes: the built CLI and server (npm test builds first).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { createSqlStore } from '../../src/store/sql-store.js';
import { freePort } from '../e2e/support/processes.js';
import { readJson, TEST_KEY } from '../support/app.js';
import { createTestDatabase, DIALECTS, skipReason, type TestDatabase } from '../support/databases.js';

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;
const MAIN = new URL('../../dist/main.js', import.meta.url).pathname;

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect))(`CLI and server on ${dialect}`, () => {
    let tdb: TestDatabase;
    let env: Record<string, string>;
    let server: ChildProcess | undefined;

    beforeAll(async () => {
      if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it first)`);
      tdb = await createTestDatabase(dialect);
      env = { ...process.env, DATABASE_URL: tdb.url, ENCRYPTION_KEYS: TEST_KEY, LOG_LEVEL: 'warn' } as Record<string, string>;
    });
    afterAll(async () => {
      server?.kill('SIGTERM');
      await tdb?.drop();
    });

    const cli = (...args: string[]) => {
      const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
      return { code: r.status, out: r.stdout, err: r.stderr, json: () => JSON.parse(r.stdout) };
    };

    it('adds a user and prints the secret, the otpauth URI and a QR code once', () => {
      const text = cli('user', 'add', '--email', 'Ann@Example.com', '--username', 'ann');
      expect(text.code).toBe(0);
      expect(text.out).toMatch(/secret: [A-Z2-7]{32}/);
      expect(text.out).toContain('otpauth://totp/');
      expect(text.out).toContain('▄'); // the terminal QR code
      const list = cli('user', 'list', '--json');
      expect(list.json()).toEqual([expect.objectContaining({ email: 'ann@example.com', username: 'ann', role: 'user' })]);
      expect(list.out).not.toMatch(/[A-Z2-7]{32}/);
    });

    it('refuses duplicates and bad input with a clear message, a non-zero exit and no stack trace', () => {
      for (const [args, code, message] of [
        [['user', 'add', '--email', 'ann@example.com'], 1, 'already exists'],
        [['user', 'add', '--email', 'not-an-email'], 1, 'not an email address'],
        [['user', 'add'], 2, '--email is required'],
        [['service', 'add', 'bad name'], 1, 'invalid name'],
        [['grant', '--email', 'ann@example.com', '--service', 'Missing'], 1, 'no service named Missing'],
        [['grant', '--email', 'ann@example.com', '--service', 'x', '--scope', 'write:all'], 1, 'unknown scope write:all'],
        [['frobnicate'], 2, 'unknown command'],
        [['user', 'add', '--bogus'], 2, "Unknown option '--bogus'"],
        [['device', 'revoke', 'nope', '--yes'], 1, 'no device with id nope'],
        [['user', 'delete', '--email', 'ann@example.com'], 2, 'needs --yes when there is no terminal'],
      ] as const) {
        const r = cli(...args);
        expect.soft(r.code, args.join(' ')).toBe(code);
        expect.soft(r.err, args.join(' ')).toContain(message);
        expect.soft(r.err, args.join(' ')).not.toMatch(/\n\s+at /);
      }
      const json = cli('user', 'add', '--email', 'ann@example.com', '--json');
      expect(json.code).toBe(1);
      expect(json.json()).toEqual({ error: 'a user with email ann@example.com already exists' });
    });

    it('walks the newcomer path: user, service, grant, log in with a code, /verify answers 200', async () => {
      const user = cli('user', 'add', '--email', 'newcomer@example.com', '--username', 'newbie', '--json').json();
      const service = cli('service', 'add', 'whoami', '--json').json();
      expect(service.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(cli('grant', '--email', 'newcomer@example.com', '--service', 'whoami', '--scope', 'read:email,read:username').code).toBe(0);
      expect(cli('grant', 'list', '--json').json()).toEqual([
        expect.objectContaining({ email: 'newcomer@example.com', service: 'whoami', scope: 'read:email,read:username' }),
      ]);

      const port = await freePort();
      // The CLI is another process, like another instance: the server sees its changes within the cache TTL.
      server = spawn(process.execPath, [MAIN], {
        env: { ...env, PORT: String(port), HOST: '127.0.0.1', VERIFY_CACHE_TTL_SECONDS: '1' },
        stdio: 'ignore',
      });
      const base = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 100; i++) {
        if (
          await fetch(`${base}/healthz`).then(
            (r) => r.ok,
            () => false,
          )
        )
          break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((await fetch(`${base}/login`)).status).toBe(200);
      const login = await fetch(`${base}/device/add`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          email: 'newcomer@example.com',
          device_registration_code: await generate({ secret: user.totpSecret }),
          device_type: 'Test',
        }),
      });
      expect(login.status).toBe(200);
      const cookie = login.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      const verify = await fetch(`${base}/verify/whoami`, { headers: { Cookie: cookie, Authorization: `Bearer ${service.token}` } });
      expect(verify.status).toBe(200);
      expect((await readJson(verify)).data).toEqual({
        UserServiceToken: expect.any(String),
        Email: 'newcomer@example.com',
        Username: 'newbie',
      });

      // Through the real Node adapter, every answer is whole, whatever came before it on the same process.
      for (let i = 0; i < 2; i++) {
        const bad = await fetch(`${base}/verify/whoami`, { headers: { Cookie: cookie, Authorization: 'Bearer wrong-wrong-wrong-wrong' } });
        expect(await bad.json()).toEqual({ 'status code': 401, error: 'Could not verify service' });
        const anon = await fetch(`${base}/verify/whoami`, { headers: { Authorization: `Bearer ${service.token}` } });
        expect(await anon.json()).toEqual({ 'status code': 404, error: 'Not Found' });
      }

      // Devices show up in the CLI and can be revoked there; the server then refuses them.
      const devices = cli('device', 'list', '--email', 'newcomer@example.com', '--json').json();
      expect(devices).toHaveLength(1);
      expect(cli('device', 'revoke', devices[0].id, '--yes').code).toBe(0);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await fetch(`${base}/verify/whoami`, { headers: { Cookie: cookie, Authorization: `Bearer ${service.token}` } })).status).toBe(
        404,
      );
    });

    it('manages proxy tokens, service tokens, grants and users', () => {
      const p = cli('proxy-token', 'add', 'edge', '--json').json();
      expect(p.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(cli('proxy-token', 'list', '--json').json()).toEqual([expect.objectContaining({ name: 'edge' })]);
      expect(cli('proxy-token', 'list').out).not.toContain(p.token);
      expect(cli('proxy-token', 'delete', 'edge').code).toBe(2); // no terminal to ask, no --yes
      expect(cli('proxy-token', 'delete', 'edge', '--yes').code).toBe(0);
      expect(cli('proxy-token', 'list', '--json').json()).toEqual([]);
      const rotated = cli('service', 'rotate-token', 'whoami', '--json', '--yes').json();
      expect(rotated).toEqual({ name: 'whoami', token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
      expect(cli('revoke', '--email', 'newcomer@example.com', '--service', 'whoami', '-y').code).toBe(0);
      expect(cli('revoke', '--email', 'newcomer@example.com', '--service', 'whoami', '-y').code).toBe(1);
      expect(cli('service', 'delete', 'whoami', '--yes').code).toBe(0);
      expect(cli('service', 'list', '--json').json()).toEqual([]);
      expect(cli('user', 'delete', '--email', 'newcomer@example.com', '--yes').code).toBe(0);
      const doctor = cli('doctor', '--json');
      expect(doctor.code).toBe(0);
      expect(doctor.json()).toMatchObject({
        ok: true,
        checks: expect.arrayContaining([
          expect.objectContaining({ name: 'database', status: 'ok' }),
          expect.objectContaining({ name: 'migrations', status: 'ok' }),
        ]),
      });
      expect(cli('user', 'add', '--help').out).toContain('--admin may use every service');
      expect(cli('migrate', '--json').json()).toEqual({
        applied: [],
        alreadyApplied: ['001_init', '002_login_failures', '003_passkeys_invites', '004_access_rules'],
      });
    });

    it('invites users with a one-time link, and manages passkeys and passkey-only', async () => {
      // At LOG_LEVEL=info, so the audit line is written.
      const run = spawnSync(process.execPath, [CLI, 'user', 'invite', '--email', 'Ivy@Example.com', '--username', 'ivy', '--json'], {
        env: { ...env, LOG_LEVEL: 'info' },
        encoding: 'utf8',
      });
      const invited = { code: run.status, err: run.stderr, json: () => JSON.parse(run.stdout) };
      expect(invited.code).toBe(0);
      const { url, expiresAt } = invited.json();
      expect(url).toMatch(/^http:\/\/localhost:8080\/login\/enroll\/[A-Za-z0-9_-]{43}$/);
      expect(Math.abs(Date.parse(expiresAt) - Date.now() - 72 * 3_600_000)).toBeLessThan(60_000);
      const token = url.split('/').at(-1);
      expect(invited.err).toContain('admin.user.invited');
      expect(invited.err).not.toContain(token);
      // user add --invite prints a link instead of the secret; plain user add still prints the secret.
      const added = cli('user', 'add', '--email', 'ivo@example.com', '--invite');
      expect(added.code).toBe(0);
      expect(added.out).toMatch(/Added user ivo@example\.com .* invited them/);
      expect(added.out).toMatch(/http:\/\/localhost:8080\/login\/enroll\/[A-Za-z0-9_-]{43}/);
      expect(added.out).not.toMatch(/secret:|otpauth:/);
      expect(cli('user', 'add', '--email', 'ivo@example.com', '--invite').code).toBe(1);
      // Inviting again (a lost phone) works for an existing user.
      expect(cli('user', 'invite', '--email', 'ivo@example.com', '--json').json()).toMatchObject({ created: false });

      const ivy = () =>
        (cli('user', 'list', '--json').json() as Array<{ email: string; signIn: unknown }>).find((u) => u.email === 'ivy@example.com');
      expect(ivy()?.signIn).toEqual({ code: false, passkeys: 0, passkeyOnly: false, inviteExpiresAt: expiresAt });
      const refused = cli('user', 'set', '--email', 'ivy@example.com', '--passkey-only', 'true');
      expect(refused.code).toBe(1);
      expect(refused.err).toContain('has no passkey yet');

      const database = openDatabase(tdb.target);
      const store = createSqlStore(database);
      try {
        const user = await store.users.findByEmail('ivy@example.com');
        await store.passkeys.create({
          userId: user?.id ?? 0,
          credentialId: 'cli-test-credential',
          publicKey: 'pQECAyYgASFYIA',
          signCount: 0,
          transports: ['internal'],
          name: 'Phone',
          createdAt: Date.now(),
        });
      } finally {
        await store.close();
      }
      const [key] = cli('passkey', 'list', '--email', 'ivy@example.com', '--json').json();
      expect(key).toEqual({
        id: expect.any(Number),
        email: 'ivy@example.com',
        name: 'Phone',
        createdAt: expect.any(String),
        lastUsedAt: '-',
      });
      expect(cli('passkey', 'list').out).toMatch(/Phone/);
      expect(cli('user', 'set', '--email', 'ivy@example.com', '--passkey-only', 'true', '--json').json()).toEqual({
        email: 'ivy@example.com',
        passkeyOnly: true,
      });
      expect(cli('user', 'list').out).toMatch(/ivy@example\.com .*1 passkey \(only\), invite pending/);
      expect(cli('user', 'set', '--email', 'ivy@example.com', '--passkey-only', 'maybe').code).toBe(2);
      expect(cli('passkey', 'remove', '--id', String(key.id)).code).toBe(2); // no terminal to ask, no --yes
      expect(cli('passkey', 'remove', '--id', 'abc', '--yes').code).toBe(2);
      expect(cli('passkey', 'remove', '--id', String(key.id), '--yes', '--json').json()).toEqual({ removed: key.id });
      const again = cli('passkey', 'remove', '--id', String(key.id), '--yes');
      expect(again.code).toBe(1);
      expect(again.err).toContain(`no passkey with id ${key.id}`);
      expect(cli('passkey', 'list', '--json').json()).toEqual([]);
      expect(cli('user', 'invite', '--help').out).toContain('PUBLIC_URL/login/enroll/<token>');
    });
  });
}

describe('doctor', () => {
  it('says what to fix when the database is unreachable or a key is missing, and exits 1', async () => {
    const run = (env: Record<string, string>) =>
      spawnSync(process.execPath, [CLI, 'doctor'], { env: { ...process.env, ...env }, encoding: 'utf8' });
    const down = run({ DATABASE_URL: 'mysql://root@127.0.0.1:1/nothing', ENCRYPTION_KEYS: TEST_KEY });
    expect(down.status).toBe(1);
    expect(down.stdout).toMatch(/FAIL {2}database: not reachable: .*Check DATABASE_URL/);

    const tdb = await createTestDatabase('sqlite');
    try {
      const env = { DATABASE_URL: tdb.url, ENCRYPTION_KEYS: TEST_KEY };
      expect(
        spawnSync(process.execPath, [CLI, 'user', 'add', '--email', 'k@example.com'], { env: { ...process.env, ...env } }).status,
      ).toBe(0);
      const otherKey = `k2:${Buffer.alloc(32, 3).toString('base64')}`;
      const missing = run({ ...env, ENCRYPTION_KEYS: otherKey });
      expect(missing.status).toBe(1);
      expect(missing.stdout).toContain('do not decrypt with the configured keys');
      const rotated = run({ ...env, ENCRYPTION_KEYS: `${otherKey},${TEST_KEY}` });
      expect(rotated.status).toBe(0);
      expect(rotated.stdout).toContain('sealed with an older key');
    } finally {
      await tdb.drop();
    }
  });
});

describe('CLI audit lines and help', () => {
  it('writes the audit line of an admin change at LOG_LEVEL: none at warn, one at info', async () => {
    const tdb = await createTestDatabase('sqlite');
    try {
      const run = (logLevel: string, name: string) =>
        spawnSync(process.execPath, [CLI, 'service', 'add', name], {
          env: { ...process.env, DATABASE_URL: tdb.url, ENCRYPTION_KEYS: TEST_KEY, LOG_LEVEL: logLevel },
          encoding: 'utf8',
        });
      const quiet = run('warn', 'quiet');
      expect(quiet.status).toBe(0);
      expect(quiet.stdout).toContain('Added service quiet.');
      expect(quiet.stderr).not.toContain('admin.service.added');
      const told = run('info', 'told');
      expect(told.status).toBe(0);
      const lines = told.stderr.split('\n').filter((l) => l.includes('admin.service.added'));
      expect(lines.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ event: 'admin.service.added', name: 'told', by: 'cli' })]);
    } finally {
      await tdb.drop();
    }
  });

  it('answers `serve --help` with the help and exits, without starting the server', async () => {
    const port = await freePort();
    const r = spawnSync(process.execPath, [CLI, 'serve', '--help'], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: 'sqlite::memory:', ENCRYPTION_KEYS: TEST_KEY },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: passwordless-auth serve');
    expect(r.stdout).not.toContain('listening');
  });
});
