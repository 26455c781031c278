// The "no access" page on its own URL (/login/no-access?service=S), where the shipped nginx config sends a refused
// request: always 403; for a signed-in device it names the account and offers to sign out, like the page /verify
// gives Caddy and Traefik; without a device, or with a malformed service name, a plain "no access" page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';

describe('no-access page', () => {
  let t: TestApp;
  let cookie: string;
  beforeAll(async () => {
    t = await createTestApp('sqlite');
    const { totpSecret } = await t.runtime.admin.addUser({ email: 'nora@example.com' });
    await t.runtime.admin.addService('svc');
    cookie = await t.login('nora@example.com', totpSecret);
  });
  afterAll(async () => t?.close());

  const get = (query: string, headers: Record<string, string> = {}) =>
    t.request(`/login/no-access${query}`, { headers: { 'Sec-Fetch-Mode': 'navigate', ...headers } });

  it('names the signed-in account and the service, offers to sign out, and answers 403', async () => {
    const res = await get('?service=svc', { Cookie: cookie });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('<strong>nora@example.com</strong>');
    expect(html).toContain('<code>svc</code>');
    expect(html).toContain('action="/logout"');
  });

  it('says only "no access" without a signed-in device or with a service name that is not one', async () => {
    for (const [query, headers] of [
      ['?service=svc', {}],
      ['?service=svc', { Cookie: 'device_id=0123456789abcdef0123456789abcdef; hmac_secret=0123456789abcdef0123456789abcdef' }],
      ['', { Cookie: cookie }],
      ['?service=svc&service=other', { Cookie: cookie }],
      ['?service=%3Cscript%3E', { Cookie: cookie }],
    ] as const) {
      const res = await get(query, headers);
      expect(res.status, query).toBe(403);
      const html = await res.text();
      expect(html, query).toContain('No access');
      expect(html, query).not.toContain('nora@example.com');
      expect(html, query).not.toContain('<script>');
    }
  });

  it('gives a script or API client the JSON 403 that /verify gives it', async () => {
    const clients: Array<Record<string, string>> = [{ 'Sec-Fetch-Mode': 'cors' }, { 'Sec-Fetch-Mode': '', Accept: 'application/json' }];
    for (const headers of clients) {
      const res = await get('?service=svc', { Cookie: cookie, ...headers });
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ 'status code': 403, error: 'User does not have access to this service' });
    }
  });
});
