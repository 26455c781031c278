// The self-service account page: see your devices, sign one or all of them out; the revoked device is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';

describe('account page', () => {
  let t: TestApp;
  let secret: string;
  let serviceToken: string;
  beforeAll(async () => {
    t = await createTestApp('sqlite');
    secret = (await t.runtime.admin.addUser({ email: 'self@example.com' })).totpSecret;
    serviceToken = (await t.runtime.admin.addService('svc')).token;
    await t.runtime.admin.grant({ email: 'self@example.com', service: 'svc' });
  });
  afterAll(async () => t?.close());

  const page = async (cookie: string) => (await t.request('/login/account', { headers: { Cookie: cookie } })).text();
  const verify = (cookie: string) => t.request('/verify/svc', { headers: { Cookie: cookie, Authorization: `Bearer ${serviceToken}` } });

  it('sends strangers to the login page, returning here afterwards', async () => {
    const res = await t.request('/login/account');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/login?rd=${encodeURIComponent('https://auth.example.com/login/account')}`);
  });

  it('lists the devices without exposing their ids, and signs one out; that device is then refused', async () => {
    const laptop = await t.login('self@example.com', secret);
    const phone = await t.login('self@example.com', secret);
    const html = await page(laptop);
    expect(html).toContain('self@example.com');
    expect(html).toContain('(this device)');
    const rows = html.split('<tr>').slice(2); // after the header row
    const refOf = (row: string) => /devices\/([A-Za-z0-9_-]+)\/revoke/.exec(row)?.[1];
    expect(rows.map(refOf).filter(Boolean)).toHaveLength(2);
    for (const id of [laptop, phone].map((c) => /device_id=([0-9a-f]{32})/.exec(c)?.[1] as string)) expect(html).not.toContain(id);
    expect(html).toContain('Sign out everywhere');
    const otherRef = refOf(rows.find((r) => !r.includes('(this device)')) as string);

    // Sign out the phone from the laptop.
    expect((await verify(phone)).status).toBe(200);
    const res = await t.request(`/login/account/devices/${otherRef}/revoke`, { method: 'POST', headers: { Cookie: laptop } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('The device was signed out.');
    expect((await verify(phone)).status).toBe(404);
    expect((await verify(laptop)).status).toBe(200);
  });

  it('cannot sign out a device of someone else', async () => {
    const other = (await t.runtime.admin.addUser({ email: 'other@example.com' })).totpSecret;
    const theirs = await t.login('other@example.com', other);
    const mine = await t.login('self@example.com', secret);
    const theirRef = /devices\/([A-Za-z0-9_-]+)\/revoke/.exec(await page(theirs))?.[1] as string;
    const res = await t.request(`/login/account/devices/${theirRef}/revoke`, { method: 'POST', headers: { Cookie: mine } });
    expect(await res.text()).toContain('No such device.');
    expect((await t.runtime.admin.listDevices('other@example.com')).length).toBe(1);
  });

  it('signs out everywhere, clearing this browser too; a cross-site post is refused', async () => {
    const a = await t.login('self@example.com', secret);
    const b = await t.login('self@example.com', secret);
    const csrf = await t.request('/login/account/sign-out-everywhere', {
      method: 'POST',
      headers: { Cookie: a, Origin: 'https://evil.net' },
    });
    expect(csrf.status).toBe(403);
    expect((await verify(b)).status).toBe(200);
    const res = await t.request('/login/account/sign-out-everywhere', {
      method: 'POST',
      headers: { Cookie: a, Origin: 'https://app.example.com' },
    });
    expect(res.status).toBe(303);
    expect(res.headers.getSetCookie().some((c) => /^device_id=;.*Max-Age=0/.test(c))).toBe(true);
    expect((await verify(a)).status).toBe(404);
    expect((await verify(b)).status).toBe(404);
    expect(await t.runtime.admin.listDevices('self@example.com')).toEqual([]);
  });
});
