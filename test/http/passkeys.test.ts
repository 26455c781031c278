// Rules for passkeys (issue 10, "Security"), each checked with a software authenticator: a passkey sign-in makes a
// device like a code sign-in; challenges are single-use, expire in 5 minutes and belong to the browser that asked;
// a replayed assertion, a wrong origin or RP ID, no user verification, a counter going backwards (logged) and a
// removed passkey are refused; a passkey-only account refuses a correct code with the generic answer; every new
// POST passes the login CSRF guard and the per-address budget; no sign-in option names a user.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CEREMONY_LIMITS } from '../../src/core/passkeys.js';
import { createTestApp, jsonLines, readJson, type TestApp } from '../support/app.js';
import { BrowserSession, ORIGIN } from '../support/browser-session.js';

describe('passkeys over HTTP', () => {
  let t: TestApp;
  let secret: string;
  const lines: Record<string, unknown>[] = [];
  let n = 0;
  /** Each test from its own address, so the per-address budget only trips where a test means it to. */
  const fresh = () => {
    n++;
    t.peer = `198.51.100.${n}`;
    return new BrowserSession(t);
  };

  beforeAll(async () => {
    const sink = jsonLines(lines);
    t = await createTestApp('sqlite', {}, pino({ level: 'info' }, sink));
    secret = (await t.runtime.admin.addUser({ email: 'pat@example.com' })).totpSecret;
  });
  afterAll(async () => t?.close());

  /** A browser signed in with a code that then added a passkey; a second browser that holds the same authenticator. */
  async function withPasskey() {
    const b = fresh();
    await b.loginWithCode('pat@example.com', secret);
    const added = await b.addPasskey('Laptop');
    expect(added.status).toBe(200);
    expect(await added.json()).toEqual({ 'status code': 200, status: 'ok', redirect: '/login/account' });
    const other = fresh();
    other.authenticator.credentials.push(...b.authenticator.credentials);
    return { b, other };
  }

  it('signs in with a passkey as a new device, like a code sign-in, and lands on LANDING_URL or a valid rd', async () => {
    const { other } = await withPasskey();
    const res = await other.signInWithPasskey();
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ 'status code': 200, status: 'ok', redirect: 'https://home.example.com/' });
    expect(other.jar.get('device_id')).toMatch(/^[0-9a-f]{32}$/);
    expect(other.jar.has('webauthn_challenge')).toBe(false);
    // The device is an ordinary device: the account page knows it, and /verify would too.
    const found = await t.runtime.devices.authenticate({
      deviceId: other.jar.get('device_id') ?? '',
      secret: other.jar.get('hmac_secret') ?? '',
    });
    expect(found?.user.email).toBe('pat@example.com');
    const withRd = await other.signInWithPasskey({}, 'https://app.example.com/page');
    expect((await readJson(withRd)).redirect).toBe('https://app.example.com/page');
    const badRd = await other.signInWithPasskey({}, 'https://evil.example.net/');
    expect((await readJson(badRd)).redirect).toBe('https://home.example.com/');
    const passkeys = await t.runtime.passkeyAccount.state(found?.user.id ?? 0);
    expect(passkeys.passkeys[0]?.lastUsedAt).toBe(t.clock.now());
  });

  it('offers sign-in options that name no user and allow any passkey, with user verification required', async () => {
    const b = fresh();
    const options = await b.signInOptions();
    expect(options).toMatchObject({ rpId: 'example.com', userVerification: 'required' });
    expect(JSON.stringify(options)).not.toMatch(/pat@example|allowCredentials":\[\{/);
    const cookie = (await b.postJson('/login/passkey/options')).headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^webauthn_challenge=[A-Za-z0-9_-]{43}; Max-Age=300; Path=\/login\/; HttpOnly; Secure; SameSite=Strict$/);
  });

  it('uses a challenge once: a replayed assertion, or a second assertion on the same challenge, is refused', async () => {
    const { other } = await withPasskey();
    const options = await other.signInOptions();
    const handle = other.jar.get('webauthn_challenge');
    const assertion = other.authenticator.authenticate(options);
    expect((await other.postJson('/login/passkey/verify', { response: assertion })).status).toBe(200);
    other.jar.set('webauthn_challenge', handle ?? '');
    const replay = await other.postJson('/login/passkey/verify', { response: assertion });
    expect(replay.status).toBe(401);
    expect(await replay.json()).toEqual({ 'status code': 401, error: 'That passkey was not accepted. Please try again.' });
    other.jar.set('webauthn_challenge', handle ?? '');
    expect((await other.postJson('/login/passkey/verify', { response: other.authenticator.authenticate(options) })).status).toBe(401);
  });

  it('lets a challenge expire after 5 minutes', async () => {
    const { other } = await withPasskey();
    const options = await other.signInOptions();
    t.clock.advance(5 * 60_000);
    expect((await other.postJson('/login/passkey/verify', { response: other.authenticator.authenticate(options) })).status).toBe(401);
    expect(lines.some((l) => l.event === 'login.failure' && l.reason === 'challenge')).toBe(true);
  });

  it("binds a challenge to the browser that asked for it: another browser's challenge, or none, is refused", async () => {
    const { b, other } = await withPasskey();
    const mine = await b.signInOptions();
    await other.signInOptions(); // other has a challenge of its own, but signs b's
    expect((await other.postJson('/login/passkey/verify', { response: other.authenticator.authenticate(mine) })).status).toBe(401);
    other.jar.delete('webauthn_challenge');
    const theirs = await b.signInOptions();
    expect((await other.postJson('/login/passkey/verify', { response: other.authenticator.authenticate(theirs) })).status).toBe(401);
  });

  it('refuses a wrong origin, a wrong RP ID and an assertion without user verification', async () => {
    const { other } = await withPasskey();
    for (const tamper of [
      { origin: 'https://evil.example.net' },
      { origin: 'https://auth.example.com.evil.net' },
      { origin: 'http://auth.example.com' },
      { rpId: 'evil.example.net' },
      { rpId: 'auth.example.com' },
      { uv: false },
    ]) {
      const res = await other.signInWithPasskey(tamper);
      expect(res.status, JSON.stringify(tamper)).toBe(401);
      expect(other.jar.has('device_id'), JSON.stringify(tamper)).toBe(false);
    }
    // A secure page of another app under the cookie domain is one of ours (one passkey for every app).
    expect((await other.signInWithPasskey({ origin: 'https://app.example.com' })).status).toBe(200);
  });

  it('refuses a counter that goes backwards, and logs it as a possibly cloned authenticator', async () => {
    const { other } = await withPasskey();
    expect((await other.signInWithPasskey({ counter: 10 })).status).toBe(200);
    other.jar.clear();
    for (const counter of [10, 9, 0]) expect((await other.signInWithPasskey({ counter })).status).toBe(401);
    expect(lines.filter((l) => l.event === 'passkey.counter')).toHaveLength(3);
    expect((await other.signInWithPasskey({ counter: 11 })).status).toBe(200);
  });

  it('stops a removed passkey at once', async () => {
    const { b, other } = await withPasskey();
    const [key] = (
      await t.runtime.passkeyAccount.state((await t.runtime.store.users.findByEmail('pat@example.com'))?.id ?? 0)
    ).passkeys.slice(-1);
    const removed = await b.postForm(`/login/account/passkeys/${key?.id}/remove`, {});
    expect(removed.status).toBe(200);
    expect(await removed.text()).toContain('The passkey was removed');
    expect((await other.signInWithPasskey()).status).toBe(401);
    expect(lines.some((l) => l.event === 'passkey.removed' && l.passkeyId === key?.id)).toBe(true);
  });

  it('turns codes off for a passkey-only account: a correct code gets the generic 401, a passkey still works', async () => {
    const { b, other } = await withPasskey();
    expect((await b.postForm('/login/account/passkey-only', { passkey_only: 'on' })).status).toBe(200);
    const code = fresh();
    const refused = await code.postForm('/login', { email: 'pat@example.com', code: await t.nextCode(secret) });
    expect(refused.status).toBe(401);
    expect(await refused.text()).toContain('Invalid email or code.');
    expect(lines.some((l) => l.event === 'login.failure' && l.reason === 'passkey-only')).toBe(true);
    expect((await other.signInWithPasskey()).status).toBe(200);
    expect((await b.postForm('/login/account/passkey-only', { passkey_only: 'off' })).status).toBe(200);
    expect((await code.postForm('/login', { email: 'pat@example.com', code: await t.nextCode(secret) })).status).toBe(303);
  });

  it('renames passkeys with a strictly checked name, and touches only your own', async () => {
    const { b } = await withPasskey();
    const user = await t.runtime.store.users.findByEmail('pat@example.com');
    const key = (await t.runtime.passkeyAccount.state(user?.id ?? 0)).passkeys.at(-1);
    expect((await b.postForm(`/login/account/passkeys/${key?.id}/rename`, { name: '  Work\u0007 phone ' })).status).toBe(200);
    expect((await t.runtime.passkeyAccount.state(user?.id ?? 0)).passkeys.at(-1)?.name).toBe('Work phone');
    expect((await b.postForm(`/login/account/passkeys/${key?.id}/rename`, { name: 'x'.repeat(65) })).status).toBe(400);
    expect((await b.postForm(`/login/account/passkeys/${key?.id}/rename`, { name: 'a', extra: '1' })).status).toBe(400);
    const stranger = fresh();
    const s = await t.runtime.admin.addUser({ email: 'sam@example.com' });
    await stranger.loginWithCode('sam@example.com', s.totpSecret);
    const res = await stranger.postForm(`/login/account/passkeys/${key?.id}/remove`, {});
    expect(await res.text()).toContain('No such passkey.');
    expect((await t.runtime.passkeyAccount.state(user?.id ?? 0)).passkeys.some((p) => p.id === key?.id)).toBe(true);
  });

  it('refuses malformed bodies with 400 before any database work', async () => {
    const b = fresh();
    for (const body of [{}, { response: {} }, { response: { id: 'x' }, extra: 1 }, 'not json'])
      expect((await b.postJson('/login/passkey/verify', body)).status).toBe(400);
  });

  it('puts every new POST behind the login CSRF guard', async () => {
    const { b } = await withPasskey();
    const evil = new BrowserSession(t, 'https://evil.example.net');
    for (const [k, v] of b.jar) evil.jar.set(k, v);
    for (const path of [
      '/login/passkey/options',
      '/login/passkey/verify',
      '/login/account/passkeys/options',
      '/login/account/passkeys',
      '/login/account/passkeys/1/rename',
      '/login/account/passkeys/1/remove',
      '/login/account/passkey-only',
      '/login/enroll/x/passkey/options',
      '/login/enroll/x/passkey/verify',
      '/login/enroll/x',
    ])
      expect((await evil.postJson(path)).status, path).toBe(403);
  });

  it('spends the per-address budget on failed passkey sign-ins, shared with code logins', async () => {
    const { other } = await withPasskey();
    for (let i = 0; i < 20; i++) expect((await other.signInWithPasskey({ rpId: 'evil.example.net' })).status).toBe(401);
    const res = await other.signInWithPasskey();
    expect(res.status).toBe(429);
    // The right code, too, is refused now, saying why (the address's budget, which tells nothing of the account).
    const code = await other.postForm('/login', { email: 'pat@example.com', code: await t.nextCode(secret) });
    expect(code.status).toBe(429);
    expect(await code.text()).toContain('Too many sign-in attempts from your network');
    expect(lines.some((l) => l.event === 'login.throttled' && l.method === 'passkey')).toBe(true);
  });

  it('bounds the ceremonies one address may start (each stores a challenge), and no other address', async () => {
    const [limit] = CEREMONY_LIMITS;
    const b = fresh();
    for (let i = 0; i < (limit?.max ?? 0); i++) expect((await b.postJson('/login/passkey/options')).status).toBe(200);
    const refused = await b.postJson('/login/passkey/options');
    expect(refused.status).toBe(429);
    expect(refused.headers.getSetCookie()).toEqual([]);
    expect(lines.some((l) => l.event === 'passkey.throttled' && l.purpose === 'sign-in')).toBe(true);
    expect((await fresh().postJson('/login/passkey/options')).status).toBe(200);
  });

  it('offers the same algorithms on every Node version (no ML-DSA, which Node 24 has and Node 20 lacks)', async () => {
    const b = fresh();
    await b.loginWithCode('pat@example.com', secret);
    const options = (await (await b.postJson('/login/account/passkeys/options')).json()) as { pubKeyCredParams: Array<{ alg: number }> };
    expect(options.pubKeyCredParams.map((p) => p.alg)).toEqual([-8, -7, -257]);
  });

  it('logs every outcome without a challenge, handle, assertion or cookie', () => {
    const text = lines.map((l) => JSON.stringify(l)).join('\n');
    for (const event of ['login.success', 'login.failure', 'passkey.added', 'passkey.removed', 'passkey.counter', 'account.passkey-only'])
      expect(
        lines.some((l) => l.event === event),
        event,
      ).toBe(true);
    expect(text).not.toMatch(/webauthn_challenge|challenge"\s*:|clientDataJSON|signature"|hmac_secret|[0-9a-f]{32}/);
    expect(ORIGIN).toBe('https://auth.example.com');
  });
});
