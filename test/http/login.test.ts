// Login: the page, the form, the reference's /device/add, logout. Every failure is one generic 401.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceSignature } from '../../src/core/crypto.js';
import { cookieHeader, createTestApp, type TestApp } from '../support/app.js';
import { DIALECTS, skipReason } from '../support/databases.js';

const LOGIN_FAILED = '{"status code":401,"error":"Invalid email or password"}';

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect))(`login on ${dialect}`, () => {
    let t: TestApp;
    let alice: { email: string; secret: string };

    beforeAll(async () => {
      t = await createTestApp(dialect);
      const added = await t.runtime.admin.addUser({ email: 'Alice@Example.com', username: 'alice' });
      alice = { email: 'alice@example.com', secret: added.totpSecret };
    });
    afterAll(async () => t?.close());

    const deviceAdd = (body: unknown, headers: Record<string, string> = {}) =>
      t.request('/device/add', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });

    it('GET /login serves an accessible form that works without JavaScript', async () => {
      const res = await t.request('/login');
      expect(res.status).toBe(200);
      const page = await res.text();
      expect(page).toContain('<form method="post" action="/login"');
      expect(page).toMatch(/<label for="email">Email<\/label>/);
      expect(page).toMatch(/<label for="code">Code<\/label>/);
      // No inline script: only the passkey scripts, from this origin, which the form does not need.
      expect([...page.matchAll(/<script\b[^>]*>/g)].map((m) => m[0])).toEqual([
        '<script src="/login/static/webauthn.js" defer>',
        '<script src="/login/static/passkeys.js" defer>',
      ]);
      expect(page).toMatch(/<div data-passkey hidden>/);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      const css = await t.request('/login/static/style.css');
      expect(css.headers.get('content-type')).toContain('text/css');
    });

    it('POST /device/add registers a device with fresh random cookies and stores only the signature', async () => {
      const clientChosen = { device_id: '0'.repeat(32), hmac_secret: '1'.repeat(32) };
      const res = await deviceAdd({
        email: 'alice@example.com',
        device_registration_code: await t.nextCode(alice.secret),
        device_type: 'Windows Firefox',
      });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('{"status code":200,"status":"ok"}');
      const cookies = res.headers.getSetCookie();
      expect(cookies).toHaveLength(2);
      for (const c of cookies) {
        expect(c).toMatch(/^(device_id|hmac_secret)=[0-9a-f]{32};/);
        expect(c).toContain('Domain=example.com');
        expect(c).toContain('Path=/');
        expect(c).toContain('HttpOnly');
        expect(c).toContain('Secure');
        expect(c).toContain('SameSite=Lax');
        expect(c).toContain(`Max-Age=${90 * 86400}`);
      }
      const jar = Object.fromEntries(cookies.map((c) => (c.split(';')[0] as string).split('=')));
      expect(jar.device_id).not.toBe(clientChosen.device_id);
      const [device] = (await t.runtime.admin.listDevices('alice@example.com')).filter((d) => d.id === jar.device_id);
      expect(device?.deviceType).toBe('Windows Firefox');
      const stored = await t.runtime.store.devices.findWithUser(jar.device_id as string);
      expect(stored?.device.signature).toBe(deviceSignature(jar.device_id as string, jar.hmac_secret as string));
      expect(JSON.stringify(stored)).not.toContain(jar.hmac_secret);
    });

    it('gives a new device id and secret on every login', async () => {
      const a = await t.login(alice.email, alice.secret);
      const b = await t.login(alice.email, alice.secret);
      expect(a).not.toBe(b);
    });

    it('answers every failure with the same 401 and sets nothing', async () => {
      const code = await t.nextCode(alice.secret);
      const wrong = code === '000000' ? '000001' : '000000';
      const cases: Array<[string, unknown, Record<string, string>?]> = [
        ['unknown email', { email: 'nobody@example.com', device_registration_code: code, device_type: 'x' }],
        ['wrong code', { email: alice.email, device_registration_code: wrong, device_type: 'x' }],
        ['five digits', { email: alice.email, device_registration_code: code.slice(1), device_type: 'x' }],
        ['code as a number', { email: alice.email, device_registration_code: Number(code), device_type: 'x' }],
        ['code in an array', { email: alice.email, device_registration_code: [code], device_type: 'x' }],
        ['email as an object', { email: { $ne: null }, device_registration_code: code }],
        ['other digit script', { email: alice.email, device_registration_code: '١٢٣٤٥٦' }],
        ['missing fields', {}],
        ['array body', [alice.email, code]],
        ['not JSON', '{"email":'],
        ['null', 'null'],
      ];
      for (const [name, body] of cases) {
        const res = await deviceAdd(body);
        expect.soft(res.status, name).toBe(401);
        expect.soft(await res.text(), name).toBe(LOGIN_FAILED);
        expect.soft(res.headers.getSetCookie(), name).toEqual([]);
        // Stay inside the guess budget: this test is about the answers, throttle.test.ts about the budget.
        t.clock.advance(16 * 60_000);
      }
      const fresh = await t.nextCode(alice.secret);
      const ok = await deviceAdd({ email: alice.email, device_registration_code: fresh, device_type: 'x' });
      expect(ok.status).toBe(200);
      // A code works once, never twice.
      const replay = await deviceAdd({ email: alice.email, device_registration_code: fresh, device_type: 'x' });
      expect(replay.status).toBe(401);
      expect(await replay.text()).toBe(LOGIN_FAILED);
    });

    it('refuses a request that is already logged in, but lets stale cookies log in again', async () => {
      const cookie = await t.login(alice.email, alice.secret);
      const res = await deviceAdd({ email: alice.email, device_registration_code: await t.nextCode(alice.secret) }, { Cookie: cookie });
      expect(res.status).toBe(401);
      expect(await res.text()).toBe(LOGIN_FAILED);
      const stale = `device_id=${'a'.repeat(32)}; hmac_secret=${'b'.repeat(32)}`;
      const again = await deviceAdd({ email: alice.email, device_registration_code: await t.nextCode(alice.secret) }, { Cookie: stale });
      expect(again.status).toBe(200);
    });

    it('matches emails case-insensitively and after Unicode normalisation', async () => {
      const res = await deviceAdd({ email: '  ALICE@example.COM ', device_registration_code: await t.nextCode(alice.secret) });
      expect(res.status).toBe(200);
    });

    it('POST /login (form) logs in and returns to an allowed rd, else to the landing URL', async () => {
      const form = (fields: Record<string, string>) =>
        t.request('/login', {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0' },
          body: new URLSearchParams(fields),
        });
      const ok = await form({ email: alice.email, code: await t.nextCode(alice.secret), rd: 'https://app.example.com/page?x=1' });
      expect(ok.status).toBe(303);
      expect(ok.headers.get('location')).toBe('https://app.example.com/page?x=1');
      expect(ok.headers.getSetCookie()).toHaveLength(2);
      const evil = await form({ email: alice.email, code: await t.nextCode(alice.secret), rd: 'https://evil.net/' });
      expect(evil.status).toBe(303);
      expect(evil.headers.get('location')).toBe('https://home.example.com/');
      // An allowed host on a port nobody allowed is another origin (another program, perhaps another owner).
      const otherPort = await form({ email: alice.email, code: await t.nextCode(alice.secret), rd: 'https://app.example.com:8443/' });
      expect(otherPort.headers.get('location')).toBe('https://home.example.com/');

      const bad = await form({ email: alice.email, code: '000000', rd: 'https://app.example.com/' });
      expect(bad.status).toBe(401);
      const page = await bad.text();
      expect(page).toContain('Invalid email or code.');
      expect(page).toContain('value="https://app.example.com/"');
      expect(bad.headers.getSetCookie()).toEqual([]);
      const unknown = await form({ email: 'nobody@example.com', code: '123456' });
      expect(unknown.status).toBe(401);
      expect(await unknown.text()).toContain('Invalid email or code.');
      const wrongType = await t.request('/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      expect(wrongType.status).toBe(401);
    });

    it('escapes what it echoes into the page', async () => {
      const res = await t.request('/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email: '"><script>alert(1)</script>', code: '1' }),
      });
      expect(res.status).toBe(401);
      expect(await res.text()).not.toContain('<script>alert(1)</script>');
    });

    it('GET /login with valid cookies goes to the landing URL or an allowed rd', async () => {
      const cookie = await t.login(alice.email, alice.secret);
      const res = await t.request('/login', { headers: { Cookie: cookie } });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe('https://home.example.com/');
      const rd = await t.request(`/login?rd=${encodeURIComponent('https://app.example.com/x')}`, { headers: { Cookie: cookie } });
      expect(rd.headers.get('location')).toBe('https://app.example.com/x');
      const twoRd = await t.request('/login?rd=https://app.example.com/a&rd=https://app.example.com/b', { headers: { Cookie: cookie } });
      expect(twoRd.headers.get('location')).toBe('https://home.example.com/');
    });

    it('POST /logout deletes this device and clears the cookies', async () => {
      const cookie = await t.login(alice.email, alice.secret);
      const id = /device_id=([0-9a-f]{32})/.exec(cookie)?.[1] as string;
      const res = await t.request('/logout', { method: 'POST', headers: { Cookie: cookie } });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('https://auth.example.com/login?signed_out=1');
      const cleared = res.headers.getSetCookie();
      expect(cleared.some((c) => /^device_id=;.*Max-Age=0/.test(c) && c.includes('Domain=example.com'))).toBe(true);
      expect(cleared.some((c) => /^hmac_secret=;.*Max-Age=0/.test(c))).toBe(true);
      expect(await t.runtime.store.devices.findWithUser(id)).toBeUndefined();
      // The cookies are dead: the login page no longer redirects.
      expect((await t.request('/login', { headers: { Cookie: cookie } })).status).toBe(200);
    });

    it('cannot log out someone else by knowing only their device id', async () => {
      const cookie = await t.login(alice.email, alice.secret);
      const id = /device_id=([0-9a-f]{32})/.exec(cookie)?.[1] as string;
      await t.request('/logout', { method: 'POST', headers: { Cookie: `device_id=${id}; hmac_secret=${'0'.repeat(32)}` } });
      expect(await t.runtime.store.devices.findWithUser(id)).toBeDefined();
    });

    it('refuses bodies over the size limit with 413', async () => {
      const res = await deviceAdd({ email: alice.email, pad: 'x'.repeat(20_000) });
      expect(res.status).toBe(413);
    });

    it('answers health checks', async () => {
      expect((await t.request('/healthz')).status).toBe(200);
      const ready = await t.request('/readyz');
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready' });
    });

    it('shows a signed-in page at / and sends strangers to /login', async () => {
      expect((await t.request('/')).headers.get('location')).toBe('/login');
      const cookie = await t.login(alice.email, alice.secret);
      const home = await t.request('/', { headers: { Cookie: cookie } });
      expect(await home.text()).toContain('alice@example.com');
      expect(cookieHeader(home)).toBe('');
    });
  });
}
