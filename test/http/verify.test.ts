// /verify/<service>: the reference's answers in the reference's order, and the proxy styles.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_HEADERS } from '../../src/http/verify/answer.js';
import { createTestApp, readJson, type TestApp, TRANSPORTS } from '../support/app.js';
import { DIALECTS, skipReason } from '../support/databases.js';

const BODY = {
  badCredential: '{"status code":401,"error":"Could not verify service"}',
  unauthenticated: '{"status code":404,"error":"Not Found"}',
  unknownService: '{"status code":404,"error":"Service Not Found!"}',
  forbidden: '{"status code":401,"error":"User does not have access to this service"}',
};

for (const dialect of DIALECTS)
  for (const transport of TRANSPORTS) {
    describe.skipIf(skipReason(dialect))(`/verify on ${dialect}, ${transport}`, () => {
      let t: TestApp;
      let serviceToken: string;
      let otherToken: string;
      let proxyToken: string;
      let alice: string; // cookies of a user granted EmailService with two scopes
      let bob: string; // cookies of a user with no grants
      let root: string; // cookies of an admin with no grants

      beforeAll(async () => {
        t = await createTestApp(dialect, {}, undefined, transport);
        const a = t.runtime.admin;
        const u1 = await a.addUser({ email: 'alice@example.com', username: 'alice' });
        const u2 = await a.addUser({ email: 'bob@example.com' });
        const u3 = await a.addUser({ email: 'root@example.com', username: 'root', admin: true });
        serviceToken = (await a.addService('EmailService')).token;
        otherToken = (await a.addService('Other')).token;
        proxyToken = (await a.addProxyToken('edge')).token;
        await a.grant({ email: 'alice@example.com', service: 'EmailService', scope: 'read:email,read:username' });
        alice = await t.login('alice@example.com', u1.totpSecret);
        bob = await t.login('bob@example.com', u2.totpSecret);
        root = await t.login('root@example.com', u3.totpSecret);
      });
      afterAll(async () => t?.close());

      const verify = (service: string, headers: Record<string, string>, query = '') => t.request(`/verify/${service}${query}`, { headers });
      const expectAnswer = async (res: Response, status: number, body: string) => {
        expect(res.status).toBe(status);
        expect(await res.text()).toBe(body);
        for (const h of Object.values(IDENTITY_HEADERS)) expect(res.headers.has(h)).toBe(false);
      };

      it('1. no or wrong caller credential → 401 Could not verify service, before anything else', async () => {
        await expectAnswer(await verify('EmailService', { Cookie: alice }), 401, BODY.badCredential);
        await expectAnswer(
          await verify('EmailService', { Cookie: alice, Authorization: 'Bearer wrong-token-wrong-token' }),
          401,
          BODY.badCredential,
        );
        await expectAnswer(await verify('EmailService', { Cookie: alice, Authorization: `Bearer ${otherToken}` }), 401, BODY.badCredential);
        await expectAnswer(
          await verify('EmailService', { Cookie: alice, Authorization: `Basic ${serviceToken}` }),
          401,
          BODY.badCredential,
        );
        // Two different credentials are none.
        await expectAnswer(
          await verify('EmailService', { Cookie: alice, Authorization: `Bearer ${serviceToken}`, 'X-Service-Token': otherToken }),
          401,
          BODY.badCredential,
        );
        // A service token for a service that does not exist verifies nothing.
        await expectAnswer(await verify('Nope', { Cookie: alice, Authorization: `Bearer ${serviceToken}` }), 401, BODY.badCredential);
      });

      it('2. missing, malformed, unknown or wrong device cookies → 404, the same bytes every time', async () => {
        const id = /device_id=([0-9a-f]{32})/.exec(alice)?.[1] as string;
        const cases = [
          undefined,
          `device_id=${id}`,
          `device_id=${id}; hmac_secret=zz`,
          `device_id=${'9'.repeat(32)}; hmac_secret=${'9'.repeat(32)}`,
          `device_id=${id}; hmac_secret=${'0'.repeat(32)}`,
          `${alice}; device_id=${'9'.repeat(32)}`,
        ];
        for (const cookie of cases) {
          const res = await verify('EmailService', { Authorization: `Bearer ${serviceToken}`, ...(cookie ? { Cookie: cookie } : {}) });
          await expectAnswer(res, 404, BODY.unauthenticated);
        }
      });

      it('3. an unknown service → 404 Service Not Found! (with a proxy token)', async () => {
        await expectAnswer(await verify('Nope', { Cookie: alice, Authorization: `Bearer ${proxyToken}` }), 404, BODY.unknownService);
        // Names are exact and case-sensitive on every database.
        await expectAnswer(
          await verify('emailservice', { Cookie: alice, Authorization: `Bearer ${proxyToken}` }),
          404,
          BODY.unknownService,
        );
        await expectAnswer(
          await verify('EmailService%20', { Cookie: alice, Authorization: `Bearer ${proxyToken}` }),
          404,
          BODY.unknownService,
        );
        await expectAnswer(await verify('..%2Fadmin', { Cookie: alice, Authorization: `Bearer ${proxyToken}` }), 404, BODY.unknownService);
      });

      it('4. no grant → 401 User does not have access to this service', async () => {
        await expectAnswer(await verify('EmailService', { Cookie: bob, Authorization: `Bearer ${serviceToken}` }), 401, BODY.forbidden);
        await expectAnswer(await verify('Other', { Cookie: alice, 'X-Service-Token': otherToken }), 401, BODY.forbidden);
      });

      it('5. granted → 200 with the token and only the scoped data, in the body and in headers', async () => {
        const res = await verify('EmailService', { Cookie: alice, Authorization: `Bearer ${serviceToken}` });
        expect(res.status).toBe(200);
        const body = await readJson(res);
        expect(body).toEqual({
          'status code': 200,
          status: 'ok',
          data: { UserServiceToken: expect.stringMatching(/^[0-9a-f-]{36}$/), Email: 'alice@example.com', Username: 'alice' },
        });
        expect(res.headers.get('Remote-User')).toBe(body.data.UserServiceToken);
        expect(res.headers.get('Remote-Email')).toBe('alice@example.com');
        expect(res.headers.get('Remote-Name')).toBe('alice');
        // Hidden by scope, but present and empty, so no client-supplied copy can pass through a proxy.
        expect(res.headers.get('Remote-Role')).toBe('');
        expect(res.headers.get('Cache-Control')).toBe('no-store');
        // The same with X-Service-Token, the proxy token, and the same token again on a second device.
        const viaHeader = await verify('EmailService', { Cookie: alice, 'X-Service-Token': serviceToken });
        expect((await readJson(viaHeader)).data.UserServiceToken).toBe(body.data.UserServiceToken);
        const viaProxy = await verify('EmailService', { Cookie: alice, Authorization: `Bearer ${proxyToken}` });
        expect((await readJson(viaProxy)).data.UserServiceToken).toBe(body.data.UserServiceToken);
      });

      it('follows scope changes and revocation made with the CLI functions', async () => {
        await t.runtime.admin.grant({ email: 'bob@example.com', service: 'Other', scope: 'read:user-role' });
        const res = await verify('Other', { Cookie: bob, Authorization: `Bearer ${otherToken}` });
        expect((await readJson(res)).data).toEqual({ UserServiceToken: expect.any(String), UserRole: 'user' });
        expect(res.headers.get('Remote-Email')).toBe('');
        await t.runtime.admin.revoke({ email: 'bob@example.com', service: 'Other' });
        await expectAnswer(await verify('Other', { Cookie: bob, Authorization: `Bearer ${otherToken}` }), 401, BODY.forbidden);
      });

      it('gives each user a different token per service', async () => {
        await t.runtime.admin.grant({ email: 'alice@example.com', service: 'Other' });
        const a = await readJson(await verify('EmailService', { Cookie: alice, Authorization: `Bearer ${proxyToken}` }));
        const b = await readJson(await verify('Other', { Cookie: alice, Authorization: `Bearer ${proxyToken}` }));
        expect(a.data.UserServiceToken).not.toBe(b.data.UserServiceToken);
        expect(b.data).toEqual({ UserServiceToken: expect.any(String) });
      });

      it('lets admins use every service, creating their grant once even under concurrent first use', async () => {
        const answers = await Promise.all(
          Array.from({ length: 8 }, () => verify('EmailService', { Cookie: root, Authorization: `Bearer ${serviceToken}` }).then(readJson)),
        );
        const tokens = new Set(answers.map((a) => a.data.UserServiceToken));
        expect(answers.every((a) => a['status code'] === 200)).toBe(true);
        expect(tokens.size).toBe(1);
        expect((await t.runtime.admin.listGrants()).filter((g) => g.email === 'root@example.com')).toHaveLength(1);
      });

      it('stops verifying a device revoked by the CLI, and a rotated service token', async () => {
        const secret = (await t.runtime.admin.addUser({ email: 'temp@example.com' })).totpSecret;
        await t.runtime.admin.grant({ email: 'temp@example.com', service: 'EmailService' });
        const cookie = await t.login('temp@example.com', secret);
        expect((await verify('EmailService', { Cookie: cookie, Authorization: `Bearer ${serviceToken}` })).status).toBe(200);
        await t.runtime.admin.revokeDevice(/device_id=([0-9a-f]{32})/.exec(cookie)?.[1] as string);
        await expectAnswer(
          await verify('EmailService', { Cookie: cookie, Authorization: `Bearer ${serviceToken}` }),
          404,
          BODY.unauthenticated,
        );

        const { token } = await t.runtime.admin.rotateServiceToken('Other');
        await expectAnswer(await verify('Other', { Cookie: alice, Authorization: `Bearer ${otherToken}` }), 401, BODY.badCredential);
        expect((await verify('Other', { Cookie: alice, Authorization: `Bearer ${token}` })).status).toBe(200);
        otherToken = token;
      });

      describe('proxy styles', () => {
        const nav = { Accept: 'text/html,application/xhtml+xml', 'Sec-Fetch-Mode': 'navigate' };

        it('nginx: not logged in → 401 with the login URL (and rd from a trusted proxy) in Location', async () => {
          t.peer = '10.0.0.2';
          const res = await verify(
            'EmailService',
            { 'X-Service-Token': proxyToken, 'X-Original-URL': 'https://app.example.com/inbox?id=3' },
            '?proxy=nginx',
          );
          expect(res.status).toBe(401);
          expect(res.headers.get('location')).toBe(
            `https://auth.example.com/login?rd=${encodeURIComponent('https://app.example.com/inbox?id=3')}`,
          );
          t.peer = '203.0.113.9';
          const untrusted = await verify(
            'EmailService',
            { 'X-Service-Token': proxyToken, 'X-Original-URL': 'https://app.example.com/inbox' },
            '?proxy=nginx',
          );
          expect(untrusted.headers.get('location')).toBe('https://auth.example.com/login');
          t.peer = '10.0.0.2';
          const offsite = await verify(
            'EmailService',
            { 'X-Service-Token': proxyToken, 'X-Original-URL': 'https://evil.net/' },
            '?proxy=nginx',
          );
          expect(offsite.headers.get('location')).toBe('https://auth.example.com/login');
        });

        it('nginx: no access or unknown service → 403; granted → 200 with headers', async () => {
          expect((await verify('EmailService', { Cookie: bob, 'X-Service-Token': proxyToken }, '?proxy=nginx')).status).toBe(403);
          expect((await verify('Nope', { Cookie: alice, 'X-Service-Token': proxyToken }, '?proxy=nginx')).status).toBe(403);
          const ok = await verify('EmailService', { Cookie: alice, 'X-Service-Token': proxyToken }, '?proxy=nginx');
          expect(ok.status).toBe(200);
          expect(ok.headers.get('Remote-Email')).toBe('alice@example.com');
        });

        it('traefik/caddy: a browser navigation is redirected to an absolute login URL; 302 for GET, 303 otherwise', async () => {
          t.peer = '10.0.0.2';
          const fwd = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'app.example.com', 'X-Forwarded-Uri': '/a?b=1' };
          for (const style of ['traefik', 'caddy']) {
            const get = await verify(
              'EmailService',
              { 'X-Service-Token': proxyToken, ...nav, ...fwd, 'X-Forwarded-Method': 'GET' },
              `?proxy=${style}`,
            );
            expect(get.status).toBe(302);
            expect(get.headers.get('location')).toBe(
              `https://auth.example.com/login?rd=${encodeURIComponent('https://app.example.com/a?b=1')}`,
            );
            const post = await verify(
              'EmailService',
              { 'X-Service-Token': proxyToken, ...nav, ...fwd, 'X-Forwarded-Method': 'POST' },
              `?proxy=${style}`,
            );
            expect(post.status).toBe(303);
            const xhr = await verify(
              'EmailService',
              { 'X-Service-Token': proxyToken, Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest', ...fwd },
              `?proxy=${style}`,
            );
            expect(xhr.status).toBe(401);
            expect(xhr.headers.get('location')).toBeNull();
            expect((await verify('EmailService', { Cookie: bob, 'X-Service-Token': proxyToken, ...nav }, `?proxy=${style}`)).status).toBe(
              403,
            );
          }
        });

        it('every JSON answer says the status it is sent with, in every style', async () => {
          t.peer = '10.0.0.2';
          const cases: Array<[string, Record<string, string>, string]> = [
            ['EmailService', {}, ''],
            ['EmailService', { 'X-Service-Token': proxyToken }, ''],
            ['EmailService', { 'X-Service-Token': proxyToken, Cookie: bob }, ''],
            ['Nope', { 'X-Service-Token': proxyToken, Cookie: alice }, ''],
          ];
          for (const style of ['', '?proxy=nginx', '?proxy=traefik', '?proxy=caddy', '?proxy=apache'])
            for (const [service, headers] of cases)
              for (const accept of ['application/json', 'text/html']) {
                const res = await verify(service, { ...headers, Accept: accept }, style);
                if (res.status >= 300 && res.status < 400) continue;
                if ((res.headers.get('content-type') ?? '').startsWith('text/html')) continue;
                const body = await readJson(res);
                expect(body['status code'], `${service}${style} ${JSON.stringify(headers)} → ${res.status}`).toBe(res.status);
              }
        });

        it('traefik/caddy: a signed-in browser without access gets a page saying who they are, with a sign-out button', async () => {
          for (const style of ['traefik', 'caddy']) {
            const res = await verify('EmailService', { Cookie: bob, 'X-Service-Token': proxyToken, ...nav }, `?proxy=${style}`);
            expect(res.status).toBe(403);
            expect(res.headers.get('content-type')).toMatch(/^text\/html/);
            expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
            for (const h of Object.values(IDENTITY_HEADERS)) expect(res.headers.has(h)).toBe(false);
            const page = await res.text();
            expect(page).toContain('bob@example.com');
            expect(page).toContain('EmailService');
            expect(page).toMatch(/<form method="post" action="\/logout">\s*<button type="submit">Sign out<\/button>/);
            // An unknown service says so; API clients keep the JSON answer.
            const unknown = await verify('Nope', { Cookie: bob, 'X-Service-Token': proxyToken, ...nav }, `?proxy=${style}`);
            expect(unknown.status).toBe(403);
            expect(await unknown.text()).toContain('no service named <code>Nope</code>');
            const api = await verify(
              'EmailService',
              { Cookie: bob, 'X-Service-Token': proxyToken, Accept: 'application/json' },
              `?proxy=${style}`,
            );
            expect(await api.text()).toBe('{"status code":403,"error":"User does not have access to this service"}');
          }
          // nginx's auth_request never passes a body on: it gets the short JSON answer.
          const nginx = await verify('EmailService', { Cookie: bob, 'X-Service-Token': proxyToken, ...nav }, '?proxy=nginx');
          expect(nginx.status).toBe(403);
          expect(await nginx.text()).toBe('{"status code":403,"error":"User does not have access to this service"}');
        });

        it('nginx: a return URL with commas in it is one URL, kept whole', async () => {
          t.peer = '10.0.0.2';
          const original = 'https://app.example.com/list?sort=name,asc&ids=1,2';
          const res = await verify('EmailService', { 'X-Service-Token': proxyToken, 'X-Original-URL': original }, '?proxy=nginx');
          expect(res.status).toBe(401);
          expect(res.headers.get('location')).toBe(`https://auth.example.com/login?rd=${encodeURIComponent(original)}`);
          const fwd = {
            'X-Forwarded-Proto': 'https',
            'X-Forwarded-Host': 'app.example.com',
            'X-Forwarded-Uri': '/list?sort=name,asc&ids=1,2',
          };
          const caddy = await verify('EmailService', { 'X-Service-Token': proxyToken, ...nav, ...fwd }, '?proxy=caddy');
          expect(caddy.headers.get('location')).toBe(`https://auth.example.com/login?rd=${encodeURIComponent(original)}`);
        });

        // Only Node's raw header list shows a repeated header as such (a Fetch Headers object joins the copies).
        if (transport === 'node')
          it('refuses a truly repeated original-URL header: no return URL at all', async () => {
            t.peer = '10.0.0.2';
            const res = await t.raw({
              path: '/verify/EmailService?proxy=nginx',
              headers: [
                ['X-Service-Token', proxyToken],
                ['X-Original-URL', 'https://app.example.com/a'],
                ['X-Original-URL', 'https://app.example.com/b'],
              ],
            });
            expect(res.status).toBe(401);
            expect(res.headers.get('location')).toBe('https://auth.example.com/login');
            const forward = await t.raw({
              path: '/verify/EmailService?proxy=traefik',
              headers: [
                ['X-Service-Token', proxyToken],
                ['Sec-Fetch-Mode', 'navigate'],
                ['X-Forwarded-Proto', 'https'],
                ['X-Forwarded-Host', 'app.example.com'],
                ['X-Forwarded-Uri', '/a'],
                ['X-Forwarded-Uri', '/b'],
              ],
            });
            expect(forward.status).toBe(302);
            expect(forward.headers.get('location')).toBe('https://auth.example.com/login');
          });

        it('keeps the credential check first and refuses unknown styles', async () => {
          await expectAnswer(await verify('EmailService', { ...nav }, '?proxy=nginx'), 401, BODY.badCredential);
          expect((await verify('EmailService', { 'X-Service-Token': proxyToken }, '?proxy=apache')).status).toBe(400);
          expect((await verify('EmailService', { 'X-Service-Token': proxyToken }, '?proxy=nginx&proxy=caddy')).status).toBe(400);
        });
      });
    });
  }
