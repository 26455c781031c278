// Rule: a mistake gets an answer a person can act on (issue 19). A login page asked for on a host where its
// cookies and passkeys cannot work is moved to PUBLIC_URL before any code is checked or spent, keeping `rd`; a
// client whose address spent its guess budget is told so and when to try again, while a spent account budget
// stays the generic answer; a proxy without a usable token gets a warning in the log (style, peer, what was
// wrong, never the value; at most one a minute) and a page load a page for the operator; and the small things:
// a favicon, "now" for the device in use, a way back to LANDING_URL, destructive buttons marked, a signed-out
// notice, a tappable otpauth:// link.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, jsonLines, type TestApp } from '../support/app.js';
import { BrowserSession } from '../support/browser-session.js';

const NAVIGATE = { 'Sec-Fetch-Mode': 'navigate', Accept: 'text/html' };
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded', 'Sec-Fetch-Mode': 'navigate' };

describe('mistakes get answers', () => {
  let t: TestApp;
  let secret: string;
  const lines: Record<string, unknown>[] = [];
  let n = 0;
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

  describe('login pages on a host where they cannot work', () => {
    it('sends a page load to the same page on PUBLIC_URL, keeping rd; hosts under COOKIE_DOMAIN are served', async () => {
      t.peer = '198.51.100.200';
      for (const host of ['127.0.0.1:8080', 'auth.other.org', '[::1]:8080']) {
        const res = await t.send(new Request(`http://${host}/login?rd=https%3A%2F%2Fapp.example.com%2Fx`, { headers: NAVIGATE }));
        expect(res.status, host).toBe(302);
        expect(res.headers.get('location'), host).toBe('https://auth.example.com/login?rd=https%3A%2F%2Fapp.example.com%2Fx');
      }
      const enroll = await t.send(new Request(`http://127.0.0.1/login/enroll/${'A'.repeat(43)}`, { headers: NAVIGATE }));
      expect(enroll.headers.get('location')).toBe(`https://auth.example.com/login/enroll/${'A'.repeat(43)}`);
      for (const host of ['auth.example.com', 'app.example.com', 'example.com']) {
        expect((await t.send(new Request(`https://${host}/login`, { headers: NAVIGATE }))).status, host).toBe(200);
      }
      // The stylesheet, scripts and API clients are not moved.
      expect((await t.send(new Request('http://127.0.0.1/login/static/style.css', { headers: NAVIGATE }))).status).toBe(200);
      expect((await t.send(new Request('http://127.0.0.1/login', { headers: { 'Sec-Fetch-Mode': 'cors' } }))).status).toBe(200);
    });

    it('believes X-Forwarded-Host only from a trusted proxy', async () => {
      const req = () => new Request('https://auth.example.com/login', { headers: { ...NAVIGATE, 'X-Forwarded-Host': '127.0.0.1:8080' } });
      t.peer = '10.0.0.2';
      expect((await t.send(req())).status).toBe(302);
      t.peer = '198.51.100.201';
      expect((await t.send(req())).status).toBe(200);
    });

    it('does not check or spend the right code posted on the wrong host: no cookies, no device, rd kept', async () => {
      // What `npm start` runs with; the form was loaded from 127.0.0.1, which the CSRF guard counts as this site.
      const local = await createTestApp('sqlite', {
        PUBLIC_URL: 'http://localhost:8080',
        LANDING_URL: 'http://localhost:8080/',
        COOKIE_DOMAIN: '',
      });
      try {
        const mine = (await local.runtime.admin.addUser({ email: 'lee@example.com' })).totpSecret;
        const body = new URLSearchParams({
          email: 'lee@example.com',
          code: await local.nextCode(mine),
          rd: 'http://localhost:8080/x',
        }).toString();
        const post = (origin: string) =>
          local.send(
            new Request(`${origin}/login`, { method: 'POST', headers: { ...FORM, Origin: origin, 'Sec-Fetch-Site': 'same-origin' }, body }),
          );
        const res = await post('http://127.0.0.1:8080');
        expect(res.status).toBe(303);
        expect(res.headers.get('location')).toBe('http://localhost:8080/login?rd=http%3A%2F%2Flocalhost%3A8080%2Fx');
        expect(res.headers.getSetCookie()).toEqual([]);
        expect(await local.runtime.admin.listDevices('lee@example.com')).toHaveLength(0);
        // The same code still works where it belongs.
        const right = await post('http://localhost:8080');
        expect(right.status).toBe(303);
        expect(right.headers.get('location')).toBe('http://localhost:8080/x');
        expect(await local.runtime.admin.listDevices('lee@example.com')).toHaveLength(1);
      } finally {
        await local.close();
      }
    });
  });

  describe('the guess budgets', () => {
    it('tells a client whose address spent its budget, even with the right code, and when to try again', async () => {
      t.clock.advance(16 * 60_000);
      t.peer = '192.0.2.10';
      const b = new BrowserSession(t);
      for (let i = 0; i < 20; i++)
        expect((await b.postForm('/login', { email: `nobody${i}@example.com`, code: '000000' })).status).toBe(401);
      const res = await b.postForm('/login', { email: 'pat@example.com', code: await t.nextCode(secret) });
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('900');
      const html = await res.text();
      expect(html).toContain('Too many sign-in attempts from your network. Please try again in 15 minutes.');
      expect(html).not.toContain('Invalid email or code.');
    });

    it('keeps a spent account budget silent: the generic answer, from any address', async () => {
      t.clock.advance(16 * 60_000);
      const victim = (await t.runtime.admin.addUser({ email: 'locked@example.com' })).totpSecret;
      for (let i = 0; i < 5; i++) await fresh().postForm('/login', { email: 'locked@example.com', code: '000000' });
      const res = await fresh().postForm('/login', { email: 'locked@example.com', code: await t.nextCode(victim) });
      expect(res.status).toBe(401);
      const html = await res.text();
      expect(html).toContain('Invalid email or code.');
      expect(html).not.toContain('Too many');
    });
  });

  describe('a proxy without a usable token', () => {
    const verify = (token: string | undefined, headers: Record<string, string>) =>
      t.request('/verify/app?proxy=caddy', { headers: { ...(token === undefined ? {} : { 'X-Service-Token': token }), ...headers } });
    const warnings = () => lines.filter((l) => l.event === 'verify.bad-credential');

    it('shows a page load a page for the operator, and API clients the JSON 401', async () => {
      t.peer = '127.0.0.9';
      const page = await verify(undefined, NAVIGATE);
      expect(page.status).toBe(401);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
      const html = await page.text();
      expect(html).toContain('Sign-in is not set up correctly');
      expect(html).toContain('passwordless-auth proxy-token add');
      const api = await verify(undefined, { Accept: 'application/json' });
      expect(api.status).toBe(401);
      expect(await api.text()).toBe('{"status code":401,"error":"Could not verify service"}');
      // The reference's direct callers keep the JSON, page load or not.
      t.peer = '127.0.0.10';
      const direct = await t.request('/verify/app', { headers: NAVIGATE });
      expect(await direct.text()).toBe('{"status code":401,"error":"Could not verify service"}');
    });

    it('logs a warning naming the style, the peer and what was wrong, never the value, at most once a minute', async () => {
      t.peer = '127.0.0.11';
      for (let i = 0; i < 3; i++) await verify('pa_typo-in-the-token', { Accept: 'application/json' });
      await verify(undefined, { Accept: 'application/json' });
      const mine = warnings().filter((l) => l.peer === '127.0.0.11');
      expect(mine.map((l) => [l.proxy, l.problem])).toEqual([
        ['caddy', 'unknown'],
        ['caddy', 'missing'],
      ]);
      expect(JSON.stringify(lines)).not.toContain('typo-in-the-token');
      expect(String(mine[0]?.msg)).toContain('caddy proxy');
    });
  });

  describe('small things', () => {
    it('links and serves a favicon', async () => {
      const html = await (await t.request('/login')).text();
      expect(html).toContain('<link rel="icon" href="/login/static/favicon.svg" type="image/svg+xml">');
      const icon = await t.request('/login/static/favicon.svg');
      expect(icon.status).toBe(200);
      expect(icon.headers.get('content-type')).toBe('image/svg+xml');
      expect(await icon.text()).toMatch(/^<svg /);
    });

    it('shows "now" for the device in use, a link back to LANDING_URL, and marks destructive buttons', async () => {
      const b = fresh();
      await b.loginWithCode('pat@example.com', secret);
      const html = await (await b.get('/login/account')).text();
      const row = /<strong>\(this device\)<\/strong><\/td>\s*<td>[^<]*<\/td>\s*<td>([^<]*)<\/td>/.exec(html);
      expect(row?.[1]).toBe('now');
      expect(html).toContain('<a href="https://home.example.com/">');
      expect(html).toMatch(/<button type="submit" class="danger">Sign out everywhere<\/button>/);
      expect(html).toMatch(/<button type="submit" class="danger" aria-label="Sign out [^"]+">Sign out<\/button>/);
    });

    it('lets the user name a device, so that two of the same kind can be told apart; only their own', async () => {
      const laptop = fresh();
      await laptop.loginWithCode('pat@example.com', secret);
      const phone = fresh();
      await phone.loginWithCode('pat@example.com', secret);
      const html = await (await laptop.get('/login/account')).text();
      const refs = [...html.matchAll(/action="\/login\/account\/devices\/([^/"]+)\/rename"/g)].map((m) => m[1] as string);
      expect(refs.length).toBeGreaterThanOrEqual(2);
      const renamed = await laptop.postForm(`/login/account/devices/${refs[0]}/rename`, { name: '  Work laptop\u0007 ' });
      expect(renamed.status).toBe(200);
      const after = await renamed.text();
      expect(after).toContain('The device was renamed.');
      expect(after).toContain('value="Work laptop"');
      expect((await laptop.postForm(`/login/account/devices/${refs[1]}/rename`, { name: '' })).status).toBe(400);
      // Someone else's device is no device of theirs.
      const other = fresh();
      const otherSecret = (await t.runtime.admin.addUser({ email: 'other@example.com' })).totpSecret;
      await other.loginWithCode('other@example.com', otherSecret);
      expect(await (await other.postForm(`/login/account/devices/${refs[1]}/rename`, { name: 'Mine now' })).text()).toContain(
        'No such device.',
      );
      expect(await (await laptop.get('/login/account')).text()).not.toContain('Mine now');
    });

    it('says "You have signed out." after signing out', async () => {
      const b = fresh();
      await b.loginWithCode('pat@example.com', secret);
      const out = await b.postForm('/logout', {});
      expect(out.headers.get('location')).toBe('https://auth.example.com/login?signed_out=1');
      const html = await (await b.get('/login?signed_out=1')).text();
      expect(html).toContain('<p class="notice" role="status">You have signed out.</p>');
      expect(await (await b.get('/login')).text()).not.toContain('You have signed out.');
    });

    it('offers a tappable otpauth:// link next to the QR code of an invite', async () => {
      const { token } = await t.runtime.admin.inviteUser({ email: 'phone@example.com', create: 'if-missing' });
      const html = await (await fresh().get(`/login/enroll/${token}`)).text();
      expect(html).toMatch(/<a href="otpauth:\/\/totp\/[^"]*phone%40example\.com[^"]*">Open it in your authenticator app<\/a>/);
    });
  });
});
