// Rule: the audit trail is complete and holds no secret. With LOG_LEVEL=debug, a scenario of good and bad logins,
// a lock-out, verifies, sign-outs, an invite link used and refused, a failed passkey sign-in and admin changes
// leaves JSON lines for login.success, login.failure, login.throttled, device.revoked, invite.redeemed and
// invite.refused, each with the client address and the time; each admin change made with the
// CLI leaves one JSON audit line on its stderr; and no line anywhere — server or CLI — holds a TOTP secret or
// code, a device_id or hmac_secret value, a service, proxy or user-service token, the encryption key, an invite
// token, a WebAuthn challenge or its cookie handle.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SoftAuthenticator } from '../support/authenticator.js';
import type { TestDatabase } from '../support/databases.js';
import { codeNow, cookieHeader, formLogin, jsonLogin, timedFetch, verify } from './support/client.js';
import { freshDatabase, preferredDialect } from './support/databases.js';
import { type CliResult, cli, eventually, parseLogLines, type Server, startServer, TEST_ENCRYPTION_KEYS } from './support/processes.js';
import { SecretLedger } from './support/secrets.js';

const { dialect, note } = preferredDialect();

type Line = Record<string, unknown>;

describe(`audit log: every event, with client and time, and no secrets (${note})`, () => {
  let db: TestDatabase;
  let server: Server;
  let env: Record<string, string>;
  const ledger = new SecretLedger();
  ledger.addEncryptionKeys(TEST_ENCRYPTION_KEYS);
  const secrets = new Map<string, string>();
  const adminRuns: { what: string; run: CliResult }[] = [];
  let startedAt = 0;
  let token = '';

  /** An admin change through the CLI, kept for the audit checks; its stdout is the result (secrets by design). */
  async function admin(what: string, ...args: string[]) {
    const run = await cli({ ...env, LOG_LEVEL: 'debug' }, ...args);
    if (run.code !== 0) throw new Error(`cli ${args.join(' ')} failed with ${run.code}:\n${run.stdout}\n${run.stderr}`);
    adminRuns.push({ what, run });
    return run.json();
  }
  const code = async (email: string) => {
    const c = await codeNow(secrets.get(email) as string);
    ledger.add('totp-code', c);
    return c;
  };
  const from = (address: string) => ({ 'X-Forwarded-For': address });
  const events = (name: string) => server.logLines().filter((l) => l.event === name);

  beforeAll(async () => {
    startedAt = Date.now();
    db = await freshDatabase(dialect);
    env = { DATABASE_URL: db.url };
    await cli(env, 'migrate');
    for (const email of ['ann@example.com', 'bob@example.com', 'cat@example.com', 'dan@example.com']) {
      const added = await admin('user add', 'user', 'add', '--email', email, '--username', email.slice(0, 3));
      secrets.set(email, added.totpSecret);
      ledger.add('totp-secret', added.totpSecret);
    }
    token = (await admin('service add', 'service', 'add', 'app')).token;
    ledger.add('service-token', token);
    ledger.add('proxy-token', (await admin('proxy-token add', 'proxy-token', 'add', 'edge')).token);
    for (const email of ['ann@example.com', 'cat@example.com', 'dan@example.com']) {
      await admin('grant', 'grant', '--email', email, '--service', 'app', '--scope', 'read:email');
    }
    server = await startServer('audit', { ...env, LOG_LEVEL: 'debug' });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('runs the scenario: logins good and bad, a lock-out, verifies, sign-outs, admin changes', async () => {
    // Good logins, JSON and form.
    const ann = await jsonLogin(server.base, 'ann@example.com', await code('ann@example.com'), from('203.0.113.10'));
    expect(ann.res.status).toBe(200);
    const annCookie = cookieHeader(ann.res);
    ledger.addCookies(annCookie);
    const cat = await formLogin(server.base, 'cat@example.com', await code('cat@example.com'), from('203.0.113.11'));
    expect(cat.res.status).toBe(303);
    const catCookie = cookieHeader(cat.res);
    ledger.addCookies(catCookie);
    const dan = await jsonLogin(server.base, 'dan@example.com', await code('dan@example.com'), from('2001:db8::12'));
    expect(dan.res.status).toBe(200);
    const danCookie = cookieHeader(dan.res);
    ledger.addCookies(danCookie);

    // Bad logins: a wrong code, an unknown email, a malformed code; then a lock-out of bob.
    expect((await jsonLogin(server.base, 'ann@example.com', '000000', from('203.0.113.20'))).res.status).toBe(401);
    expect((await formLogin(server.base, 'nobody@example.com', '123456', from('203.0.113.21'))).res.status).toBe(401);
    expect((await jsonLogin(server.base, 'ann@example.com', '１２３４５６', from('203.0.113.22'))).res.status).toBe(401);
    for (let i = 0; i < 5; i++) await jsonLogin(server.base, 'bob@example.com', String(111111 * (i + 1)).slice(0, 6), from('203.0.113.30'));
    const locked = await jsonLogin(server.base, 'bob@example.com', await code('bob@example.com'), from('203.0.113.30'));
    expect(locked.res.status).toBe(401);

    // Verifies: allowed (its user-service token must not be logged), a wrong token, junk cookies.
    const ok = await verify(server.base, 'app', token, annCookie);
    expect(ok.res.status).toBe(200);
    ledger.add('user-service-token', JSON.parse(ok.body).data.UserServiceToken);
    expect((await verify(server.base, 'app', `${token.slice(0, -2)}xx`, annCookie)).res.status).toBe(401);
    expect(
      (await verify(server.base, 'app', token, 'device_id=0123456789abcdef0123456789abcdef; hmac_secret=0123456789abcdef0123456789abcdef'))
        .res.status,
    ).toBe(404);

    // An invite link: the page, a wrong first code, the right one, then the used link again.
    const invited = await admin('user invite', 'user', 'invite', '--email', 'eve@example.com');
    const link = String(invited.url).replace(/^http:\/\/localhost:\d+/, server.base);
    ledger.add('invite-token', link.split('/').at(-1));
    const page = await timedFetch(link, { headers: from('203.0.113.50') });
    const inviteSecret = /id="totp-secret">([A-Z2-7 ]+)</.exec(page.body)?.[1]?.replace(/ /g, '');
    ledger.add('totp-secret', inviteSecret);
    const post = async (codeValue: string, client: string) =>
      timedFetch(link, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...from(client) },
        body: `code=${codeValue}`,
      });
    expect((await post('000000', '203.0.113.51')).res.status).toBe(401);
    const redeemed = await post(await codeNow(inviteSecret as string), '203.0.113.52');
    expect(redeemed.res.status).toBe(303);
    ledger.addCookies(cookieHeader(redeemed.res));
    expect((await timedFetch(link, { headers: from('203.0.113.53') })).res.status).toBe(404);

    // A passkey sign-in with a passkey nobody registered: options (a challenge and its cookie), then refused.
    const options = await timedFetch(`${server.base}/login/passkey/options`, { method: 'POST', headers: from('203.0.113.60') });
    expect(options.res.status).toBe(200);
    const handle = /webauthn_challenge=([^;]+)/.exec(options.res.headers.get('set-cookie') ?? '')?.[1];
    const challenge = JSON.parse(options.body).challenge as string;
    ledger.add('challenge-handle', handle);
    ledger.add('webauthn-challenge', challenge);
    const stranger = new SoftAuthenticator(`http://localhost:${server.port}`, 'localhost');
    stranger.register({ challenge, rp: { id: 'localhost' }, user: { id: 'AAAA' } });
    const refused = await timedFetch(`${server.base}/login/passkey/verify`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Cookie: `webauthn_challenge=${handle}`, ...from('203.0.113.61') },
      body: JSON.stringify({ response: stranger.authenticate({ challenge }) }),
    });
    expect(refused.res.status).toBe(401);

    // Sign-outs: the logout button, and "sign out everywhere" on the account page.
    const out = await timedFetch(`${server.base}/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { Cookie: annCookie, ...from('203.0.113.40') },
    });
    expect(out.res.status).toBe(303);
    const everywhere = await timedFetch(`${server.base}/login/account/sign-out-everywhere`, {
      method: 'POST',
      redirect: 'manual',
      headers: { Cookie: catCookie, ...from('203.0.113.41') },
    });
    expect(everywhere.res.status).toBe(303);

    // Admin changes through the CLI while the server runs.
    const [danDevice] = (await cli(env, 'device', 'list', '--email', 'dan@example.com')).json();
    await admin('device revoke', 'device', 'revoke', danDevice.id, '--yes');
    await admin('user unlock', 'user', 'unlock', '--email', 'bob@example.com');
    await admin('revoke', 'revoke', '--email', 'cat@example.com', '--service', 'app', '--yes');
    ledger.add('service-token', (await admin('service rotate-token', 'service', 'rotate-token', 'app', '--yes')).token);
    await admin('proxy-token delete', 'proxy-token', 'delete', 'edge', '--yes');
    await admin('user delete', 'user', 'delete', '--email', 'cat@example.com', '--yes');
    // Log lines travel through a pipe: wait until the last request's line has arrived.
    await eventually(() => server.logLines().some((l) => l.level === 20 && l.path === '/login/account/sign-out-everywhere'), 5000);
  }, 60_000);

  const withClientAndTime = (line: Line, client: string) => {
    expect(line.client).toBe(client);
    expect(typeof line.time).toBe('number');
    expect(line.time as number).toBeGreaterThanOrEqual(startedAt);
    expect(line.time as number).toBeLessThanOrEqual(Date.now());
  };

  it('login.success lines carry the client address and the time', () => {
    const lines = events('login.success');
    for (const client of ['203.0.113.10', '203.0.113.11', '2001:db8::12']) {
      const line = lines.find((l) => l.client === client);
      expect(line, `login.success from ${client}`).toBeDefined();
      withClientAndTime(line as Line, client);
    }
  });

  it('login.failure lines carry the client address and the time, for wrong, unknown and malformed attempts', () => {
    const lines = events('login.failure');
    for (const client of ['203.0.113.20', '203.0.113.21', '203.0.113.22']) {
      const line = lines.find((l) => l.client === client);
      expect(line, `login.failure from ${client}`).toBeDefined();
      withClientAndTime(line as Line, client);
    }
  });

  it('login.throttled marks the lock-out, with the client address and the time', () => {
    const line = events('login.throttled').find((l) => l.client === '203.0.113.30');
    expect(line).toBeDefined();
    withClientAndTime(line as Line, '203.0.113.30');
  });

  it('invite.redeemed and invite.refused lines carry the client address and the time', () => {
    const redeemed = events('invite.redeemed').find((l) => l.client === '203.0.113.52');
    expect(redeemed).toMatchObject({ method: 'totp', email: 'eve@example.com' });
    withClientAndTime(redeemed as Line, '203.0.113.52');
    for (const [client, reason] of [
      ['203.0.113.51', 'wrong-code'],
      ['203.0.113.53', 'invalid'],
    ] as const) {
      const line = events('invite.refused').find((l) => l.client === client);
      expect(line, `invite.refused from ${client}`).toMatchObject({ reason });
      withClientAndTime(line as Line, client);
    }
    const passkey = events('login.failure').find((l) => l.client === '203.0.113.61');
    expect(passkey).toMatchObject({ method: 'passkey', reason: 'unknown-credential' });
  });

  it('device.revoked lines carry the client address and the time for every sign-out', () => {
    const lines = events('device.revoked');
    for (const client of ['203.0.113.40', '203.0.113.41']) {
      const line = lines.find((l) => l.client === client);
      expect(line, `device.revoked by a request from ${client}: ${JSON.stringify(lines)}`).toBeDefined();
      withClientAndTime(line as Line, client);
    }
  });

  it('each admin change made with the CLI leaves one JSON audit line (event and time) on its stderr', () => {
    const missing: string[] = [];
    for (const { what, run } of adminRuns) {
      const audit = parseLogLines(run.stderr).filter((l) => typeof l.event === 'string' && typeof l.time === 'number');
      if (audit.length !== 1) missing.push(`${what}: ${audit.length} audit lines`);
    }
    expect(missing).toEqual([]);
    const revoked = adminRuns.find((r) => r.what === 'device revoke');
    expect(parseLogLines(revoked?.run.stderr ?? '').map((l) => l.event)).toContain('device.revoked');
  });

  it('debug level really was on (one line per request), so the scan below saw the most talkative logs', () => {
    expect(server.logLines().filter((l) => l.level === 20).length).toBeGreaterThan(10);
  });

  it('no line anywhere holds a TOTP secret or code, a cookie value, a token or the encryption key', () => {
    expect(ledger.size).toBeGreaterThan(15);
    expect(ledger.scan(server.output())).toEqual([]);
    expect(ledger.scan(adminRuns.map((r) => r.run.stderr).join('\n'))).toEqual([]);
  });
});
