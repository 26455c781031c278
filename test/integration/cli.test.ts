// The admin command line and the newcomer's path. The commands run in this process (the same table and wiring as
// the installed command, with the environment given); what is about the process itself (exit status, stderr, no
// stack trace) and the server run as the built dist/cli.js and dist/main.js (npm test builds first).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { createSqlStore } from '../../src/store/sql-store.js';
import { freePort } from '../e2e/support/processes.js';
import { readJson, TEST_KEY } from '../support/app.js';
import { runCliInProcess } from '../support/cli.js';
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

    const cli = (...args: string[]) => runCliInProcess(args, env);

    it('adds a user and prints the secret, the otpauth URI and a QR code once', async () => {
      const text = await cli('user', 'add', '--email', 'Ann@Example.com', '--username', 'ann');
      expect(text.code).toBe(0);
      expect(text.out).toMatch(/secret: [A-Z2-7]{32}/);
      expect(text.out).toContain('otpauth://totp/');
      expect(text.out).toContain('▄'); // the terminal QR code
      const list = await cli('user', 'list', '--json');
      expect(list.json()).toEqual([expect.objectContaining({ email: 'ann@example.com', username: 'ann', role: 'user' })]);
      expect(list.out).not.toMatch(/[A-Z2-7]{32}/);
    });

    it('refuses duplicates and bad input with a clear message, a non-zero exit and no stack trace', async () => {
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
        const r = await cli(...args);
        expect.soft(r.code, args.join(' ')).toBe(code);
        expect.soft(r.err, args.join(' ')).toContain(message);
        expect.soft(r.err, args.join(' ')).not.toMatch(/\n\s+at /);
      }
      // A usage error shows the synopsis of that one command, not the whole help.
      const usage = await cli('user', 'add', '--bogus');
      expect(usage.err).toContain('Usage: passwordless-auth user add --email E [--username U] [--admin] [--invite]');
      expect(usage.err).toContain('passwordless-auth user add --help');
      expect(usage.err).not.toContain('service add');
      expect((await cli('user', 'add')).err).not.toContain('grant list');
      const group = await cli('proxy-token');
      expect(group.err).toContain('Usage: passwordless-auth proxy-token add NAME');
      expect(group.err).not.toContain('user add');
      const unknown = await cli('frobnicate');
      expect(unknown.err).toContain('passwordless-auth --help');
      expect(unknown.err).not.toContain('user add');
      const json = await cli('user', 'add', '--email', 'ann@example.com', '--json');
      expect(json.code).toBe(1);
      expect(json.json()).toEqual({ error: 'a user with email ann@example.com already exists' });
    });

    it('walks the newcomer path: user, service, grant, log in with a code, /verify answers 200', async () => {
      const user = (await cli('user', 'add', '--email', 'newcomer@example.com', '--username', 'newbie', '--json')).json();
      const service = (await cli('service', 'add', 'whoami', '--json')).json();
      expect(service.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(
        (await cli('grant', '--email', 'newcomer@example.com', '--service', 'whoami', '--scope', 'read:email,read:username')).code,
      ).toBe(0);
      expect((await cli('grant', 'list', '--json')).json()).toEqual([
        expect.objectContaining({ email: 'newcomer@example.com', service: 'whoami', scope: 'read:email,read:username' }),
      ]);

      const port = await freePort();
      // The CLI is another process, like another instance: the server sees its changes within the cache TTL.
      server = spawn(process.execPath, [MAIN], {
        env: { ...env, PORT: String(port), HOST: '127.0.0.1', VERIFY_CACHE_TTL_SECONDS: '1', WORKERS: '1' },
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
      const devices = (await cli('device', 'list', '--email', 'newcomer@example.com', '--json')).json();
      expect(devices).toHaveLength(1);
      expect((await cli('device', 'revoke', devices[0].id, '--yes')).code).toBe(0);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await fetch(`${base}/verify/whoami`, { headers: { Cookie: cookie, Authorization: `Bearer ${service.token}` } })).status).toBe(
        404,
      );
      // A server process started and waited for: up to 11 s on a heavily loaded 2-core machine.
    }, 60_000);

    it('manages proxy tokens, service tokens, grants and users', async () => {
      const p = (await cli('proxy-token', 'add', 'edge', '--json')).json();
      expect(p.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect((await cli('proxy-token', 'list', '--json')).json()).toEqual([expect.objectContaining({ name: 'edge' })]);
      expect((await cli('proxy-token', 'list')).out).not.toContain(p.token);
      expect((await cli('proxy-token', 'delete', 'edge')).code).toBe(2); // no terminal to ask, no --yes
      expect((await cli('proxy-token', 'delete', 'edge', '--yes')).code).toBe(0);
      expect((await cli('proxy-token', 'list', '--json')).json()).toEqual([]);
      const rotated = (await cli('service', 'rotate-token', 'whoami', '--json', '--yes')).json();
      expect(rotated).toEqual({ name: 'whoami', token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
      expect((await cli('revoke', '--email', 'newcomer@example.com', '--service', 'whoami', '-y')).code).toBe(0);
      expect((await cli('revoke', '--email', 'newcomer@example.com', '--service', 'whoami', '-y')).code).toBe(1);
      expect((await cli('service', 'delete', 'whoami', '--yes')).code).toBe(0);
      expect((await cli('service', 'list', '--json')).json()).toEqual([]);
      expect((await cli('user', 'delete', '--email', 'newcomer@example.com', '--yes')).code).toBe(0);
      const doctor = await cli('doctor', '--json');
      expect(doctor.code).toBe(0);
      expect(doctor.json()).toMatchObject({
        ok: true,
        checks: expect.arrayContaining([
          expect.objectContaining({ name: 'database', status: 'ok' }),
          expect.objectContaining({ name: 'migrations', status: 'ok' }),
        ]),
      });
      expect((await cli('user', 'add', '--help')).out).toContain('--admin may use every service');
      expect((await cli('migrate', '--json')).json()).toEqual({
        applied: [],
        alreadyApplied: ['001_init', '002_login_failures', '003_passkeys_invites', '004_access_rules', '005_change_feed'],
      });
    });

    it('invites users with a one-time link, and manages passkeys and passkey-only', async () => {
      // At LOG_LEVEL=info, so the audit line is written.
      const invited = await runCliInProcess(['user', 'invite', '--email', 'Ivy@Example.com', '--username', 'ivy', '--json'], {
        ...env,
        LOG_LEVEL: 'info',
      });
      expect(invited.code).toBe(0);
      const { url, expiresAt, warning } = invited.json();
      expect(url).toMatch(/^http:\/\/localhost:8080\/login\/enroll\/[A-Za-z0-9_-]{43}$/);
      // No PUBLIC_URL anywhere: the link is the default, and the answer says so.
      expect(warning).toMatch(/^PUBLIC_URL is not set here, so the link uses the default http:\/\/localhost:8080\./);
      expect(Math.abs(Date.parse(expiresAt) - Date.now() - 72 * 3_600_000)).toBeLessThan(60_000);
      const token = url.split('/').at(-1);
      expect(invited.err).toContain('admin.user.invited');
      expect(invited.err).not.toContain(token);
      // user add --invite prints a link instead of the secret; plain user add still prints the secret.
      const added = await cli('user', 'add', '--email', 'ivo@example.com', '--invite');
      expect(added.code).toBe(0);
      expect(added.out).toMatch(/Added user ivo@example\.com .* invited them/);
      expect(added.out).toMatch(/http:\/\/localhost:8080\/login\/enroll\/[A-Za-z0-9_-]{43}/);
      expect(added.out).not.toMatch(/secret:|otpauth:/);
      expect(added.out).toMatch(/note: PUBLIC_URL is not set here, .* set PUBLIC_URL in the environment or in \.env in this directory/);
      expect((await cli('user', 'add', '--email', 'ivo@example.com', '--invite')).code).toBe(1);
      // Inviting again (a lost phone) works for an existing user.
      expect((await cli('user', 'invite', '--email', 'ivo@example.com', '--json')).json()).toMatchObject({ created: false });

      const ivy = async () =>
        ((await cli('user', 'list', '--json')).json() as Array<{ email: string; signIn: unknown }>).find(
          (u) => u.email === 'ivy@example.com',
        );
      expect((await ivy())?.signIn).toEqual({ code: false, passkeys: 0, passkeyOnly: false, inviteExpiresAt: expiresAt });
      const refused = await cli('user', 'set', '--email', 'ivy@example.com', '--passkey-only', 'true');
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
      const [key] = (await cli('passkey', 'list', '--email', 'ivy@example.com', '--json')).json();
      expect(key).toEqual({
        id: expect.any(Number),
        email: 'ivy@example.com',
        name: 'Phone',
        createdAt: expect.any(String),
        lastUsedAt: '-',
      });
      expect((await cli('passkey', 'list')).out).toMatch(/Phone/);
      expect((await cli('user', 'set', '--email', 'ivy@example.com', '--passkey-only', 'true', '--json')).json()).toEqual({
        email: 'ivy@example.com',
        passkeyOnly: true,
      });
      expect((await cli('user', 'list')).out).toMatch(/ivy@example\.com .*1 passkey \(only\), invite pending/);
      expect((await cli('user', 'set', '--email', 'ivy@example.com', '--passkey-only', 'maybe')).code).toBe(2);
      expect((await cli('passkey', 'remove', '--id', String(key.id))).code).toBe(2); // no terminal to ask, no --yes
      expect((await cli('passkey', 'remove', '--id', 'abc', '--yes')).code).toBe(2);
      // Its last way in (see cli-passkey-remove.test.ts): removed only when the admin says so.
      expect((await cli('passkey', 'remove', '--id', String(key.id), '--yes', '--lock-out', '--json')).json()).toEqual({
        removed: key.id,
        lockedOut: true,
      });
      const again = await cli('passkey', 'remove', '--id', String(key.id), '--yes');
      expect(again.code).toBe(1);
      expect(again.err).toContain(`no passkey with id ${key.id}`);
      expect((await cli('passkey', 'list', '--json')).json()).toEqual([]);
      expect((await cli('user', 'invite', '--help')).out).toContain('PUBLIC_URL/login/enroll/<token>');
    });
  });
}

describe('doctor', () => {
  it('says what to fix when the database is unreachable or a key is missing, and exits 1', async () => {
    const run = (env: Record<string, string>) => runCliInProcess(['doctor'], { ...process.env, ...env });
    const down = await run({ DATABASE_URL: 'mysql://root@127.0.0.1:1/nothing', ENCRYPTION_KEYS: TEST_KEY });
    expect(down.code).toBe(1);
    expect(down.out).toMatch(/FAIL {2}database: not reachable: .*Check DATABASE_URL/);

    const tdb = await createTestDatabase('sqlite');
    try {
      const env = { DATABASE_URL: tdb.url, ENCRYPTION_KEYS: TEST_KEY };
      expect((await runCliInProcess(['user', 'add', '--email', 'k@example.com'], { ...process.env, ...env })).code).toBe(0);
      const otherKey = `k2:${Buffer.alloc(32, 3).toString('base64')}`;
      const missing = await run({ ...env, ENCRYPTION_KEYS: otherKey });
      expect(missing.code).toBe(1);
      expect(missing.out).toContain('do not decrypt with the configured keys');
      const rotated = await run({ ...env, ENCRYPTION_KEYS: `${otherKey},${TEST_KEY}` });
      expect(rotated.code).toBe(0);
      expect(rotated.out).toContain('sealed with an older key');
    } finally {
      await tdb.drop();
    }
  });
});

describe('the CLI reads .env in its working directory, as the server does', () => {
  it('takes PUBLIC_URL for invite links from .env there, and then has nothing to warn about', async () => {
    const tdb = await createTestDatabase('sqlite');
    const dir = mkdtempSync(join(tmpdir(), 'pa-cli-env-'));
    try {
      writeFileSync(join(dir, '.env'), `PUBLIC_URL=https://auth.example.test\nDATABASE_URL=${tdb.url}\nENCRYPTION_KEYS=${TEST_KEY}\n`);
      const { PUBLIC_URL: _, DATABASE_URL: __, ENCRYPTION_KEYS: ___, ...environment } = process.env;
      const r = await runCliInProcess(['user', 'invite', '--email', 'env@example.com'], environment, dir);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/ {2}https:\/\/auth\.example\.test\/login\/enroll\/[A-Za-z0-9_-]{43}\n/);
      expect(r.out).not.toContain('PUBLIC_URL');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await tdb.drop();
    }
  });
});

describe('the CLI as a process (dist/cli.js)', () => {
  it('exits 2 on wrong usage and 1 on a failure, with one message on stderr (JSON on stdout with --json) and no stack trace', async () => {
    const tdb = await createTestDatabase('sqlite');
    try {
      const run = (...args: string[]) =>
        spawnSync(process.execPath, [CLI, ...args], {
          env: { ...process.env, DATABASE_URL: tdb.url, ENCRYPTION_KEYS: TEST_KEY, LOG_LEVEL: 'warn' },
          encoding: 'utf8',
        });
      const usage = run('user', 'add');
      expect(usage.status).toBe(2);
      expect(usage.stderr).toMatch(/^passwordless-auth: --email is required\nUsage: passwordless-auth user add /);
      expect(usage.stdout).toBe('');
      const failed = run('user', 'add', '--email', 'not-an-email', '--json');
      expect(failed.status).toBe(1);
      expect(JSON.parse(failed.stdout)).toEqual({ error: expect.stringContaining('not an email address') });
      expect(failed.stderr).toBe('');
      expect(usage.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await tdb.drop();
    }
    // Two processes: a few seconds each on a busy 2-core machine.
  }, 60_000);
});

describe('CLI audit lines and help', () => {
  it('writes the audit line of an admin change at LOG_LEVEL: none at warn, one at info', async () => {
    const tdb = await createTestDatabase('sqlite');
    try {
      const run = (logLevel: string, name: string) =>
        runCliInProcess(['service', 'add', name], {
          ...process.env,
          DATABASE_URL: tdb.url,
          ENCRYPTION_KEYS: TEST_KEY,
          LOG_LEVEL: logLevel,
        });
      const quiet = await run('warn', 'quiet');
      expect(quiet.code).toBe(0);
      expect(quiet.out).toContain('Added service quiet.');
      expect(quiet.err).not.toContain('admin.service.added');
      const told = await run('info', 'told');
      expect(told.code).toBe(0);
      const lines = told.err.split('\n').filter((l) => l.includes('admin.service.added'));
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
      timeout: 45_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: passwordless-auth serve');
    expect(r.stdout).not.toContain('listening');
    // One process: up to 6 s on a heavily loaded 2-core machine.
  }, 60_000);
});
