// Rule: an attacker's chance against one account stays below 1 in 10,000 per month. At most 5 failed codes
// per account in 15 minutes and 30 in 30 days (30 × 3/1,000,000 < 1/10,000), and 20 per client address in
// 15 minutes; guesses over the budget are not evaluated; the answer never changes; an admin can unlock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { DIALECTS, skipReason } from '../support/databases.js';

const LOGIN_FAILED = '{"status code":401,"error":"Invalid email or password"}';
const MINUTE = 60_000;

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect))(`guess budget on ${dialect}`, () => {
    let t: TestApp;
    const secrets = new Map<string, string>();

    beforeAll(async () => {
      t = await createTestApp(dialect, { TRUSTED_PROXIES: '10.0.0.2' });
      for (const email of [
        'victim@example.com',
        'month@example.com',
        'spray@example.com',
        'other@example.com',
        'race@example.com',
        'v6@example.com',
      ]) {
        secrets.set(email, (await t.runtime.admin.addUser({ email })).totpSecret);
      }
    });
    afterAll(async () => t?.close());

    const attempt = (email: string, code: string, headers: Record<string, string> = {}) =>
      t.request('/device/add', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify({ email, device_registration_code: code, device_type: 't' }),
      });
    const wrong = async (email: string, headers?: Record<string, string>) => {
      const res = await attempt(email, '000000', headers);
      expect(res.status).toBe(401);
      expect(await res.text()).toBe(LOGIN_FAILED);
    };
    const right = async (email: string, headers?: Record<string, string>) =>
      attempt(email, await t.nextCode(secrets.get(email) as string), headers);

    it('refuses even the right code after 5 failures in 15 minutes, with the same answer, then lets it through', async () => {
      t.peer = '198.51.100.1';
      for (let i = 0; i < 5; i++) await wrong('victim@example.com');
      const locked = await right('victim@example.com');
      expect(locked.status).toBe(401);
      expect(await locked.text()).toBe(LOGIN_FAILED);
      t.clock.advance(15 * MINUTE);
      expect((await right('victim@example.com')).status).toBe(200);
    });

    /** Attempts refused unevaluated so far (the answer is the same 401 either way; the metric tells them apart). */
    const throttled = async () => {
      const text = await (await t.request('/metrics')).text();
      return Number(/^passwordless_auth_login_throttled_total (\d+)$/m.exec(text)?.[1]);
    };

    it('treats unknown emails the same way: 5 failures in 15 minutes, then refused unevaluated, with the same answer', async () => {
      t.peer = '198.51.100.2';
      const before = await throttled();
      expect(before).toBeGreaterThanOrEqual(0);
      for (let i = 0; i < 5; i++) await wrong('nobody@example.com');
      expect(await throttled()).toBe(before);
      await wrong('nobody@example.com');
      expect(await throttled()).toBe(before + 1);
      t.clock.advance(15 * MINUTE);
      await wrong('nobody@example.com');
      expect(await throttled(), 'evaluated again once the window has passed').toBe(before + 1);
    });

    it('allows at most 30 failures per account in 30 days, whatever the pace, until an admin unlocks it', async () => {
      for (let i = 0; i < 30; i++) {
        t.peer = `203.0.113.${i}`; // a new address for every guess changes nothing
        await wrong('month@example.com');
        if (i % 5 === 4) t.clock.advance(16 * MINUTE);
      }
      t.peer = '203.0.113.200';
      expect((await right('month@example.com')).status).toBe(401);
      t.clock.advance(2 * 24 * 60 * MINUTE);
      expect((await right('month@example.com')).status).toBe(401);
      expect(await t.runtime.admin.unlockUser('Month@Example.com')).toEqual({ cleared: 30 });
      expect((await right('month@example.com')).status).toBe(200);
    });

    it('limits one client address to 20 failures in 15 minutes across accounts; forwarded headers do not reset it', async () => {
      t.clock.advance(16 * MINUTE);
      t.peer = '192.0.2.77';
      for (let i = 0; i < 20; i++) {
        await wrong(`spray${i}@example.com`, {
          'X-Forwarded-For': `100.64.0.${i}`,
          'X-Real-IP': `100.64.1.${i}`,
          Forwarded: `for=100.64.2.${i}`,
        });
      }
      expect((await right('other@example.com', { 'X-Forwarded-For': '100.64.9.9' })).status).toBe(401);
      t.peer = '192.0.2.78';
      expect((await right('other@example.com')).status).toBe(200);
    });

    it('behind a trusted proxy, counts the right-most address the proxy added, not what the client wrote', async () => {
      t.clock.advance(16 * MINUTE);
      t.peer = '10.0.0.2';
      for (let i = 0; i < 20; i++) await wrong(`p${i}@example.com`, { 'X-Forwarded-For': `1.2.3.${i}, 192.0.2.99` });
      expect((await right('other@example.com', { 'X-Forwarded-For': '9.9.9.9, 192.0.2.99' })).status).toBe(401);
      expect((await right('other@example.com', { 'X-Forwarded-For': '192.0.2.98' })).status).toBe(200);
    });

    it('counts every address of one IPv6 /64 as one client', async () => {
      t.clock.advance(16 * MINUTE);
      for (let i = 0; i < 20; i++) {
        t.peer = `2001:db8:1:2:${i.toString(16)}::1`;
        await wrong(`six${i}@example.com`);
      }
      t.peer = '2001:db8:1:2:ffff:ffff:ffff:ffff';
      expect((await right('v6@example.com')).status).toBe(401);
      t.peer = '2001:db8:1:3::1';
      expect((await right('v6@example.com')).status).toBe(200);
    });

    it('replay: twenty parallel logins with the same code yield exactly one device', async () => {
      t.clock.advance(16 * MINUTE);
      t.peer = '198.51.100.50';
      const code = await t.nextCode(secrets.get('race@example.com') as string);
      const answers = await Promise.all(Array.from({ length: 20 }, () => attempt('race@example.com', code).then((r) => r.status)));
      expect(answers.filter((s) => s === 200)).toHaveLength(1);
      expect(answers.filter((s) => s === 401)).toHaveLength(19);
      expect(await t.runtime.admin.listDevices('race@example.com')).toHaveLength(1);
    });
  });
}
