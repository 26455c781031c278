// Access rules in /verify: each decision (public, deny, signed-in through a group grant, passkey step-up, recent
// sign-in, network), the request facts believed from a trusted proxy only, unreadable paths and method-override
// headers failing closed, the
// audit line naming the rule, and caches that follow rule, group and membership changes at once.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_HEADERS } from '../../src/http/verify/answer.js';
import { createTestApp, jsonLines, type TestApp, TRANSPORTS } from '../support/app.js';

const APP = 'https://app.example.com';

for (const transport of TRANSPORTS) {
  describe(`access rules in /verify (sqlite, ${transport})`, () => {
    let t: TestApp;
    let proxyToken: string;
    let ann: string; // in group ops (granted the service through it), signed in with a code
    let bob: string; // own grant, not in ops
    let carl: string; // no grant at all
    const logLines: Array<Record<string, unknown>> = [];

    beforeAll(async () => {
      const sink = jsonLines(logLines);
      t = await createTestApp('sqlite', {}, pino({ level: 'info' }, sink), transport);
      const a = t.runtime.admin;
      const u1 = await a.addUser({ email: 'ann@example.com' });
      const u2 = await a.addUser({ email: 'bob@example.com' });
      const u3 = await a.addUser({ email: 'carl@example.com' });
      await a.addService('app');
      proxyToken = (await a.addProxyToken('edge')).token;
      await a.addGroup('ops');
      await a.addMember({ email: 'ann@example.com', group: 'ops' });
      await a.grantGroup({ group: 'ops', service: 'app', scope: 'read:email' });
      await a.grant({ email: 'bob@example.com', service: 'app' });
      const rule = (policy: string, paths: string[], extra: Partial<Record<'methods' | 'networks' | 'groups' | 'users', string[]>> = {}) =>
        a.addRule({ service: 'app', policy, paths, methods: [], networks: [], groups: [], users: [], ...extra });
      await rule('public', ['/health', '/hooks/*/in']);
      await rule('deny', ['/private/**']);
      await rule('deny', ['/reports/**'], { methods: ['DELETE', 'PUT'] });
      await rule('passkey', ['/admin/**'], { groups: ['ops'] });
      await rule('deny', ['/admin/**']);
      await rule('recent:5', ['/billing/**']);
      await rule('signed-in', ['/office/**'], { networks: ['203.0.113.0/24', '2001:db8::/32'] });
      await rule('deny', ['/office/**']);
      ann = await t.login('ann@example.com', u1.totpSecret);
      bob = await t.login('bob@example.com', u2.totpSecret);
      carl = await t.login('carl@example.com', u3.totpSecret);
      t.peer = '10.0.0.2'; // the trusted proxy
    });
    afterAll(async () => t?.close());

    /** A /verify as Traefik sends it (X-Forwarded-*), a page load unless `api`. */
    const traefik = (
      path: string,
      opts: { cookie?: string; method?: string; xff?: string; api?: boolean; extra?: Record<string, string> } = {},
    ) =>
      t.request('/verify/app?proxy=traefik', {
        headers: {
          'X-Service-Token': proxyToken,
          'X-Forwarded-Proto': 'https',
          'X-Forwarded-Host': 'app.example.com',
          'X-Forwarded-Uri': path,
          'X-Forwarded-Method': opts.method ?? 'GET',
          'X-Forwarded-For': opts.xff ?? '192.0.2.50',
          ...(opts.api ? { Accept: 'application/json' } : { 'Sec-Fetch-Mode': 'navigate', Accept: 'text/html' }),
          ...(opts.cookie ? { Cookie: opts.cookie } : {}),
          ...opts.extra,
        },
      });
    /** A /verify as nginx sends it. */
    const nginx = (path: string, cookie?: string) =>
      t.request('/verify/app?proxy=nginx', {
        headers: {
          'X-Service-Token': proxyToken,
          'X-Original-URL': `${APP}${path}`,
          'X-Original-Method': 'GET',
          'X-Forwarded-For': '192.0.2.50',
          ...(cookie ? { Cookie: cookie } : {}),
        },
      });

    it('public: 200 without any sign-in, with every identity header present and empty (a client copy never slips through)', async () => {
      for (const res of [
        await traefik('/health'),
        await traefik('/hooks/github/in', { method: 'POST', api: true }),
        await traefik('/health', { cookie: 'pa_device=junk; pa_secret=junk', extra: { 'Remote-User': 'forged', 'Remote-Email': 'x@y' } }),
        await nginx('/health?probe=1'),
        await traefik('/health', { cookie: ann }),
      ]) {
        expect(res.status).toBe(200);
        for (const h of Object.values(IDENTITY_HEADERS)) expect(res.headers.get(h)).toBe('');
      }
    });

    it('public is answered from memory, before any cookie or database work', async () => {
      await traefik('/health');
      const before = t.runtime.cacheStats();
      for (let i = 0; i < 5; i++)
        expect((await traefik('/health', { cookie: `pa_device=${'a'.repeat(32)}; pa_secret=${i}` })).status).toBe(200);
      const after = t.runtime.cacheStats();
      expect(after.misses).toBe(before.misses);
      expect(after.negativeHits).toBe(before.negativeHits);
    });

    it('a path that is not in canonical form never meets a public rule', async () => {
      for (const path of ['/%68ealth', '//health', '/health;x', '/health/.', '/x/../health']) {
        const res = await traefik(path, { api: true });
        expect(res.status, path).toBe(401);
        expect(res.headers.get(IDENTITY_HEADERS.userServiceToken)).toBeNull();
      }
    });

    it('deny: 403 for everyone it matches, the no-access page for page loads, JSON otherwise; the audit line names the rule', async () => {
      logLines.length = 0;
      const page = await traefik('/private/x', { cookie: bob });
      expect(page.status).toBe(403);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(await page.text()).toContain('is closed');
      const api = await traefik('/PRIVATE/x', { api: true });
      expect(api.status).toBe(403);
      expect(await api.json()).toEqual({ 'status code': 403, error: 'This address is closed' });
      expect((await nginx('/private/%2e%2e/private/y', carl)).status).toBe(403);
      const audit = logLines.filter((l) => l.event === 'access.denied');
      expect(audit.length).toBeGreaterThanOrEqual(3);
      // Decided before any cookie was read: the line names the rule, not who asked.
      expect(audit[0]).toMatchObject({ service: 'app', rule: expect.stringMatching(/^#\d+ deny \/private\/\*\*$/) });
    });

    it('an unreadable path fails closed: 403, never 200', async () => {
      for (const path of ['/admin%2f..', '/health%00', '/a\\..\\health', `/health/${'a'.repeat(9000)}`, '/../health']) {
        const res = await traefik(path, { cookie: ann, api: true });
        expect(res.status, path.slice(0, 30)).toBe(403);
      }
      expect(logLines.some((l) => l.event === 'access.denied' && String(l.rule).startsWith('unreadable path'))).toBe(true);
    });

    it('a method-override header naming another method fails closed where rules look at methods: 403, before any cookie', async () => {
      expect((await traefik('/reports/1', { cookie: bob, method: 'POST', api: true })).status).toBe(200);
      expect((await traefik('/reports/1', { cookie: bob, method: 'DELETE', api: true })).status).toBe(403);
      // The POST above was allowed a moment ago (a warm answer): the same request asking to be run as a DELETE is
      // refused, through each header frameworks honour, and on any path of the service (whatever the rule's paths).
      for (const header of ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override']) {
        for (const path of ['/reports/1', '/anything']) {
          const res = await traefik(path, { cookie: bob, method: 'POST', api: true, extra: { [header]: 'DELETE' } });
          expect([header, path, res.status]).toEqual([header, path, 403]);
        }
      }
      expect(logLines.some((l) => l.event === 'access.denied' && String(l.rule).startsWith('method override header'))).toBe(true);
      // Decided before any cookie is read: without one, refused rather than sent to sign in.
      expect((await traefik('/reports/1', { method: 'POST', api: true })).status).toBe(401);
      expect((await traefik('/reports/1', { method: 'POST', api: true, extra: { 'X-HTTP-Method': 'PUT' } })).status).toBe(403);
      // Naming the request's own method (in any case) overrides nothing.
      const same = await traefik('/reports/1', { cookie: bob, method: 'POST', api: true, extra: { 'X-HTTP-Method-Override': ' post' } });
      expect(same.status).toBe(200);
    });

    it('signed-in (no rule matched): a group grant counts like a user grant, with its scope', async () => {
      const viaGroup = await traefik('/anything', { cookie: ann });
      expect(viaGroup.status).toBe(200);
      expect(viaGroup.headers.get(IDENTITY_HEADERS.email)).toBe('ann@example.com');
      expect(viaGroup.headers.get(IDENTITY_HEADERS.userServiceToken)).toMatch(/.{16,}/);
      const own = await traefik('/anything', { cookie: bob });
      expect(own.status).toBe(200);
      expect(own.headers.get(IDENTITY_HEADERS.email)).toBe('');
      expect((await traefik('/anything', { cookie: carl })).status).toBe(403);
      expect((await traefik('/anything')).status).toBe(302);
    });

    it('passkey: a code-signed member is sent to the step-up page; a non-member meets the next rule (deny)', async () => {
      const page = await traefik('/admin/users?x=1', { cookie: ann });
      expect(page.status).toBe(302);
      expect(page.headers.get('location')).toBe(
        `https://auth.example.com/login/step-up?rd=${encodeURIComponent(`${APP}/admin/users?x=1`)}`,
      );
      const api = await traefik('/admin/users', { cookie: ann, api: true });
      expect(api.status).toBe(401);
      expect(await api.json()).toEqual({ 'status code': 401, error: 'This page needs a sign-in with a passkey' });
      const viaNginx = await nginx('/admin', ann);
      expect(viaNginx.status).toBe(401);
      expect(viaNginx.headers.get('location')).toBe(`https://auth.example.com/login/step-up?rd=${encodeURIComponent(`${APP}/admin`)}`);
      expect((await traefik('/admin/users', { cookie: bob })).status).toBe(403);
      expect((await traefik('/Admin/users', { cookie: bob })).status).toBe(403);
      // Nobody signed in: the subject rule could still match once they are, so they are asked to sign in first
      // (as Authelia does) instead of meeting the deny rule; a path with no subject rule before its deny is closed.
      const signedOut = await traefik('/admin');
      expect(signedOut.status).toBe(302);
      expect(signedOut.headers.get('location')).toBe(`https://auth.example.com/login?rd=${encodeURIComponent(`${APP}/admin`)}`);
      expect((await traefik('/admin', { api: true })).status).toBe(401);
      expect((await traefik('/private/x')).status).toBe(403);
    });

    it('recent:N: allowed within N minutes of the sign-in, then sent to sign in again (fresh=1)', async () => {
      expect((await traefik('/billing/invoices', { cookie: bob })).status).toBe(200);
      t.clock.advance(4 * 60_000);
      expect((await traefik('/billing/invoices', { cookie: bob })).status).toBe(200);
      t.clock.advance(2 * 60_000);
      const res = await traefik('/billing/invoices', { cookie: bob });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe(
        `https://auth.example.com/login?rd=${encodeURIComponent(`${APP}/billing/invoices`)}&fresh=1`,
      );
      expect((await traefik('/billing/invoices', { cookie: bob, api: true })).status).toBe(401);
      // Other paths are unaffected by the age of the sign-in.
      expect((await traefik('/anything', { cookie: bob })).status).toBe(200);
    });

    it('network: decided by the client address a trusted proxy saw; a spoofed X-Forwarded-For from anyone else changes nothing', async () => {
      expect((await traefik('/office/plan', { cookie: bob, xff: '203.0.113.7' })).status).toBe(200);
      expect((await traefik('/office/plan', { cookie: bob, xff: '2001:db8::7' })).status).toBe(200);
      expect((await traefik('/office/plan', { cookie: bob, xff: '198.51.100.1' })).status).toBe(403);
      // The client wrote the left part itself: only the address the proxy appended counts.
      expect((await traefik('/office/plan', { cookie: bob, xff: '203.0.113.7, 198.51.100.1' })).status).toBe(403);
      t.peer = '192.0.2.99'; // not a trusted proxy: its headers are not believed (and rules need the path)
      try {
        const res = await traefik('/office/plan', { cookie: bob, xff: '203.0.113.7', api: true });
        expect(res.status).toBe(403);
      } finally {
        t.peer = '10.0.0.2';
      }
    });

    it('a device allowed a moment ago (a warm answer) still meets the rules of every other path', async () => {
      expect((await traefik('/anything', { cookie: bob })).status).toBe(200);
      expect((await traefik('/anything', { cookie: bob })).status).toBe(200);
      expect((await traefik('/admin/x', { cookie: bob })).status).toBe(403);
      expect((await traefik('/private/x', { cookie: bob })).status).toBe(403);
      expect((await traefik('/office/plan', { cookie: bob, xff: '198.51.100.1' })).status).toBe(403);
      expect((await traefik('/office/plan', { cookie: bob, xff: '203.0.113.7' })).status).toBe(200);
      expect((await traefik('/admin%2f..', { cookie: bob })).status).toBe(403);
      expect((await traefik('/health', { cookie: bob })).headers.get(IDENTITY_HEADERS.userServiceToken)).toBe('');
      expect((await traefik('/admin/x', { cookie: ann })).status).toBe(302);
      expect((await traefik('/admin/x', { cookie: ann })).status).toBe(302);
    });

    it('nginx: the path comes from X-Forwarded-Uri (what the app gets), not from a URL parse of X-Original-URL', async () => {
      const res = await t.request('/verify/app?proxy=nginx', {
        headers: {
          'X-Service-Token': proxyToken,
          'X-Original-URL': 'https://app.example.com/health',
          'X-Forwarded-Uri': '/private/x',
          'X-Original-Method': 'GET',
        },
      });
      expect(res.status).toBe(403);
      const viaUrl = await nginx('/health#/../private/x');
      expect(viaUrl.status).toBe(403);
    });

    it('changes to rules, members and group grants apply at once on this instance', async () => {
      const a = t.runtime.admin;
      expect((await traefik('/anything', { cookie: ann })).status).toBe(200);
      const added = await a.addRule({
        service: 'app',
        policy: 'deny',
        paths: ['/anything'],
        methods: [],
        networks: [],
        groups: [],
        users: [],
      });
      expect((await traefik('/anything', { cookie: ann })).status).toBe(403);
      await a.removeRule(added.id);
      expect((await traefik('/anything', { cookie: ann })).status).toBe(200);
      await a.removeMember({ email: 'ann@example.com', group: 'ops' });
      expect((await traefik('/anything', { cookie: ann })).status).toBe(403);
      expect((await traefik('/admin', { cookie: ann })).status).toBe(403); // no longer a member: the deny rule
      await a.addMember({ email: 'ann@example.com', group: 'ops' });
      expect((await traefik('/anything', { cookie: ann })).status).toBe(200);
      await a.revokeGroup({ group: 'ops', service: 'app' });
      expect((await traefik('/anything', { cookie: ann })).status).toBe(403);
      await a.grantGroup({ group: 'ops', service: 'app', scope: 'read:email' });
      expect((await traefik('/anything', { cookie: ann })).status).toBe(200);
    });
  });
}
