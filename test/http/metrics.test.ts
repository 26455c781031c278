// /metrics: the counters a Prometheus scrape needs, moving with traffic; optionally behind a token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { DIALECTS, skipReason } from '../support/databases.js';

const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect))(`metrics on ${dialect}`, () => {
    let t: TestApp;
    const TOKEN = 'metrics-token-0123456789';
    beforeAll(async () => {
      t = await createTestApp(dialect, { METRICS_TOKEN: TOKEN });
    });
    afterAll(async () => t?.close());
    const scrape = async () => {
      const res = await t.request('/metrics', { headers: { Authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      return res.text();
    };

    it('needs the token when one is configured', async () => {
      expect((await t.request('/metrics')).status).toBe(401);
      expect((await t.request('/metrics', { headers: { Authorization: 'Bearer wrong-wrong-wrong-wrong' } })).status).toBe(401);
    });

    it('counts verify outcomes, cache use, latency and logins', async () => {
      const { totpSecret } = await t.runtime.admin.addUser({ email: 'm@example.com' });
      const { token } = await t.runtime.admin.addService('svc');
      await t.runtime.admin.grant({ email: 'm@example.com', service: 'svc' });
      const cookie = await t.login('m@example.com', totpSecret);
      await t.request('/device/add', {
        method: 'POST',
        body: JSON.stringify({ email: 'm@example.com', device_registration_code: '000000' }),
      });
      for (let i = 0; i < 3; i++) await t.request('/verify/svc', { headers: { Cookie: cookie, Authorization: `Bearer ${token}` } });
      await t.request('/verify/svc', { headers: { Authorization: 'Bearer nope-nope-nope-nope' } });
      await t.request('/verify/svc', { headers: { Authorization: `Bearer ${token}` } });
      const text = await scrape();
      expect(value(text, 'passwordless_auth_verify_total{result="allow"}')).toBe(3);
      expect(value(text, 'passwordless_auth_verify_total{result="bad-credential"}')).toBe(1);
      expect(value(text, 'passwordless_auth_verify_total{result="unauthenticated"}')).toBe(1);
      expect(value(text, 'passwordless_auth_verify_duration_seconds_count')).toBe(5);
      // A well-formed histogram: cumulative buckets, the last (+Inf) equal to the count, a positive sum.
      const buckets = text
        .split('\n')
        .filter((l) => l.startsWith('passwordless_auth_verify_duration_seconds_bucket{'))
        .map((l) => Number(l.split(' ')[1]));
      expect(buckets.length).toBe(15);
      expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
      expect(value(text, 'passwordless_auth_verify_duration_seconds_bucket{le="+Inf"}')).toBe(5);
      expect(value(text, 'passwordless_auth_verify_duration_seconds_sum')).toBeGreaterThan(0);
      expect(text).toContain('# TYPE passwordless_auth_verify_duration_seconds histogram');
      expect(value(text, 'passwordless_auth_verify_cache_total{outcome="positive_hit"}')).toBeGreaterThanOrEqual(2);
      expect(value(text, 'passwordless_auth_verify_cache_total{outcome="miss"}')).toBeGreaterThanOrEqual(1);
      expect(value(text, 'passwordless_auth_login_total{result="success"}')).toBe(1);
      expect(value(text, 'passwordless_auth_login_total{result="failure"}')).toBe(1);
      expect(text).toContain('passwordless_auth_process_resident_memory_bytes');
      if (dialect === 'mysql') expect(value(text, 'passwordless_auth_db_pool_connections{state="total"}')).toBeGreaterThanOrEqual(1);
    });
  });
}
