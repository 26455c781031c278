// Rules: a `passkey` rule sends a code-signed device to the step-up page, which signs in with the passkey and
// returns to the page; a `recent:N` rule sends an older sign-in to the login page (fresh=1). Either way the device
// keeps its cookies: its sign-in method and time are renewed, no second device is made.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { BrowserSession } from '../support/browser-session.js';

const APP = 'https://app.example.com';

describe('step-up and fresh sign-in (sqlite)', () => {
  let t: TestApp;
  let proxyToken: string;
  let patSecret: string;
  let quinnSecret: string;

  beforeAll(async () => {
    t = await createTestApp('sqlite');
    const a = t.runtime.admin;
    patSecret = (await a.addUser({ email: 'pat@example.com' })).totpSecret;
    quinnSecret = (await a.addUser({ email: 'quinn@example.com' })).totpSecret;
    await a.addService('app');
    proxyToken = (await a.addProxyToken('edge')).token;
    await a.grant({ email: 'pat@example.com', service: 'app' });
    const none = { methods: [], networks: [], groups: [], users: [] };
    await a.addRule({ service: 'app', policy: 'passkey', paths: ['/admin/**'], ...none });
    await a.addRule({ service: 'app', policy: 'recent:5', paths: ['/billing/**'], ...none });
  });
  afterAll(async () => t?.close());

  /** /verify as Traefik asks it for a page load of `path`, with the browser's cookies; from the trusted proxy. */
  async function verify(b: BrowserSession, path: string) {
    const before = t.peer;
    t.peer = '10.0.0.2';
    try {
      return await t.request('/verify/app?proxy=traefik', {
        headers: {
          'X-Service-Token': proxyToken,
          'X-Forwarded-Proto': 'https',
          'X-Forwarded-Host': 'app.example.com',
          'X-Forwarded-Uri': path,
          'X-Forwarded-Method': 'GET',
          'Sec-Fetch-Mode': 'navigate',
          Cookie: b.cookie,
        },
      });
    } finally {
      t.peer = before;
    }
  }
  const devicesOf = async (email: string) => (await t.runtime.admin.listDevices(email)).length;

  it('passkey: step-up page, then the passkey sign-in renews the same device and returns to the page', async () => {
    t.peer = '198.51.100.1';
    const b = new BrowserSession(t);
    await b.loginWithCode('pat@example.com', patSecret);
    const deviceId = b.jar.get('device_id');
    const target = `${APP}/admin/users`;
    const refused = await verify(b, '/admin/users');
    expect(refused.status).toBe(302);
    const location = refused.headers.get('location') ?? '';
    expect(location).toBe(`https://auth.example.com/login/step-up?rd=${encodeURIComponent(target)}`);
    const stepUpPath = location.slice('https://auth.example.com'.length);

    // Without a passkey, the page says how to add one.
    const without = await b.get(stepUpPath);
    expect(without.status).toBe(200);
    const withoutText = await without.text();
    expect(withoutText).toContain('This page needs your passkey');
    expect(withoutText).toContain('has no passkey yet');
    expect(withoutText).toContain('href="/login/account"');

    expect((await b.addPasskey('Laptop')).status).toBe(200);
    const withKey = await (await b.get(stepUpPath)).text();
    expect(withKey).toContain('data-passkey-login');
    expect(withKey).toContain(`data-rd="${target}"`);
    // Still code-signed: still refused.
    expect((await verify(b, '/admin/users')).status).toBe(302);

    const signedIn = await b.signInWithPasskey({}, target);
    expect(signedIn.status).toBe(200);
    expect(((await signedIn.json()) as { redirect: string }).redirect).toBe(target);
    expect(b.jar.get('device_id')).toBe(deviceId);
    expect(await devicesOf('pat@example.com')).toBe(1);
    const allowed = await verify(b, '/admin/users');
    expect(allowed.status).toBe(200);
  });

  it('step-up without a signed-in device goes to the login page with the same rd', async () => {
    const b = new BrowserSession(t);
    const res = await b.get(`/login/step-up?rd=${encodeURIComponent(`${APP}/admin`)}`);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`/login?rd=${encodeURIComponent(`${APP}/admin`)}`);
  });

  it('recent:N: after N minutes the login page asks again; a fresh code renews the same device', async () => {
    t.peer = '198.51.100.2';
    const b = new BrowserSession(t);
    await b.loginWithCode('quinn@example.com', quinnSecret);
    await t.runtime.admin.grant({ email: 'quinn@example.com', service: 'app' });
    const deviceId = b.jar.get('device_id');
    expect((await verify(b, '/billing/x')).status).toBe(200);
    t.clock.advance(6 * 60_000);
    const refused = await verify(b, '/billing/x');
    expect(refused.status).toBe(302);
    const location = refused.headers.get('location') ?? '';
    expect(location).toBe(`https://auth.example.com/login?rd=${encodeURIComponent(`${APP}/billing/x`)}&fresh=1`);

    // Signed in already, yet the page asks (rather than sending the browser straight back).
    const page = await b.get(location.slice('https://auth.example.com'.length));
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(text).toContain('Sign in again');
    expect(text).toContain('name="fresh" value="1"');
    expect(text).toContain('value="quinn@example.com"');

    // Another account's code does not renew this device.
    const wrong = await b.postForm('/login', {
      email: 'pat@example.com',
      code: await t.nextCode(patSecret),
      fresh: '1',
      rd: `${APP}/billing/x`,
    });
    expect(wrong.status).toBe(401);
    expect((await verify(b, '/billing/x')).status).toBe(302);

    const again = await b.postForm('/login', {
      email: 'quinn@example.com',
      code: await t.nextCode(quinnSecret),
      fresh: '1',
      rd: `${APP}/billing/x`,
    });
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe(`${APP}/billing/x`);
    expect(b.jar.get('device_id')).toBe(deviceId);
    expect(await devicesOf('quinn@example.com')).toBe(1);
    expect((await verify(b, '/billing/x')).status).toBe(200);
  });

  it('without fresh=1 a signed-in device is still sent on, and a code login on it is still refused', async () => {
    t.peer = '198.51.100.3';
    const b = new BrowserSession(t);
    await b.loginWithCode('quinn@example.com', quinnSecret);
    const res = await b.get(`/login?rd=${encodeURIComponent(`${APP}/x`)}`);
    expect(res.status).toBe(302);
    const again = await b.postForm('/login', { email: 'quinn@example.com', code: await t.nextCode(quinnSecret) });
    expect(again.status).toBe(401);
  });
});
