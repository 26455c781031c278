// Logs: one JSON line per request at debug level, audit lines for logins, and nothing secret in any of them.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, jsonLines, type TestApp } from '../support/app.js';

describe('request and audit log lines', () => {
  let t: TestApp;
  const lines: Array<Record<string, unknown>> = [];
  const sink = jsonLines(lines);
  beforeAll(async () => {
    t = await createTestApp('sqlite', {}, pino({ level: 'debug' }, sink));
  });
  afterAll(async () => t?.close());

  it('writes one line per request at debug level, and audit lines without secrets', async () => {
    const { totpSecret } = await t.runtime.admin.addUser({ email: 'log@example.com' });
    const { token } = await t.runtime.admin.addService('svc');
    t.peer = '192.0.2.10';
    const cookie = await t.login('log@example.com', totpSecret);
    await t.request('/device/add', {
      method: 'POST',
      body: JSON.stringify({ email: 'log@example.com', device_registration_code: '123456' }),
    });
    await t.request('/verify/svc', { headers: { Cookie: cookie, Authorization: `Bearer ${token}` } });
    await t.request('/logout', { method: 'POST', headers: { Cookie: cookie } });
    expect(lines.filter((l) => l.msg === 'request').map((l) => [l.method, l.path, l.status])).toEqual([
      ['POST', '/device/add', 200],
      ['POST', '/device/add', 401],
      ['GET', '/verify/svc', 401],
      ['POST', '/logout', 303],
    ]);
    expect(lines.find((l) => l.event === 'login.success')).toMatchObject({
      email: 'log@example.com',
      client: '192.0.2.10',
      time: expect.any(Number),
    });
    expect(lines.find((l) => l.event === 'login.failure')).toMatchObject({
      email: 'log@example.com',
      reason: 'invalid',
      client: '192.0.2.10',
    });
    expect(lines.find((l) => l.event === 'device.revoked')).toMatchObject({ by: 'logout', client: '192.0.2.10' });
    const all = JSON.stringify(lines);
    for (const secret of [totpSecret, token, ...cookie.split('; ').map((c) => c.split('=')[1] as string), '123456'])
      expect(all).not.toContain(secret);
  });
});
