// Rule: a login attempt takes the same time whether the email belongs to an account or not. Many interleaved
// samples of "unknown email" and "known email, wrong code" are compared by their quartiles, never by absolute
// times, so a loaded machine slows both alike. A control shows the measurement can see a gap of the size it rules
// out: a request that skips the login work is told apart from a login with the same harness. Timing through the
// HTTP stack only sees gross differences (a missing database round trip), so a second test checks the work itself:
// both paths make the same store calls in the same order and decrypt one TOTP secret.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';

const SAMPLES = 200;
const WARM_UP = 30;
const MONTH = 31 * 24 * 60 * 60_000;

function quantile(sorted: number[], q: number): number {
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (i - lo);
}

function summary(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { q1: quantile(sorted, 0.25), median: quantile(sorted, 0.5), q3: quantile(sorted, 0.75) };
}

describe('login timing does not reveal which accounts exist', () => {
  let t: TestApp;
  let n = 0;

  beforeAll(async () => {
    t = await createTestApp('sqlite');
    await t.runtime.admin.addUser({ email: 'known@example.com' });
  });
  afterAll(async () => t?.close());

  /** One timed attempt, each from a fresh address and a month later, so no budget is ever near its limit. */
  async function timed(path: string, init: RequestInit): Promise<number> {
    n++;
    t.peer = `198.51.${(n >> 8) & 255}.${n & 255}`;
    t.clock.advance(MONTH);
    const start = process.hrtime.bigint();
    const res = await t.request(path, init);
    await res.arrayBuffer();
    const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
    return elapsed;
  }
  const attempt = (email: string) =>
    timed('/device/add', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, device_registration_code: '000000', device_type: 't' }),
    });

  async function compare(a: () => Promise<number>, b: () => Promise<number>) {
    for (let i = 0; i < WARM_UP; i++) {
      await a();
      await b();
    }
    const as: number[] = [];
    const bs: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      // Interleaved, in a random order each round, so drift and load land on both alike.
      if (Math.random() < 0.5) {
        as.push(await a());
        bs.push(await b());
      } else {
        bs.push(await b());
        as.push(await a());
      }
    }
    return { a: summary(as), b: summary(bs) };
  }

  it('unknown email and known email with a wrong code: medians and quartiles within 0.67–1.5 of each other', async () => {
    let u = 0;
    const { a: known, b: unknown } = await compare(
      () => attempt('known@example.com'),
      () => attempt(`nobody${u++ % 7}@example.com`),
    );
    for (const k of ['q1', 'median', 'q3'] as const) {
      const ratio = unknown[k] / known[k];
      expect(ratio, `${k}: unknown ${unknown[k].toFixed(3)} ms vs known ${known[k].toFixed(3)} ms`).toBeGreaterThan(0.67);
      expect(ratio, `${k}: unknown ${unknown[k].toFixed(3)} ms vs known ${known[k].toFixed(3)} ms`).toBeLessThan(1.5);
    }
  }, 120_000);

  it('unknown email and known email with a wrong code do the same work: same store calls, in order, and one decryption', async () => {
    const calls: string[] = [];
    const restore: (() => void)[] = [];
    const store = t.runtime.store as unknown as Record<string, Record<string, unknown>>;
    for (const [group, methods] of Object.entries(store)) {
      if (methods === null || typeof methods !== 'object') continue;
      for (const [name, fn] of Object.entries(methods)) {
        if (typeof fn !== 'function') continue;
        methods[name] = (...args: unknown[]) => {
          calls.push(`${group}.${name}`);
          return (fn as (...a: unknown[]) => unknown).apply(methods, args);
        };
        restore.push(() => {
          methods[name] = fn;
        });
      }
    }
    const keys = t.runtime.keys as unknown as { open: (...a: unknown[]) => unknown };
    const open = keys.open;
    keys.open = (...args: unknown[]) => {
      calls.push('keys.open');
      return open.apply(keys, args);
    };
    restore.push(() => {
      keys.open = open;
    });
    try {
      const work = async (email: string) => {
        calls.length = 0;
        await attempt(email);
        return [...calls];
      };
      const known = await work('known@example.com');
      const unknown = await work('nobody@example.com');
      const malformed = await work('not an email');
      expect(known).toContain('keys.open');
      expect(unknown).toEqual(known);
      expect(malformed).toEqual(known);
    } finally {
      for (const r of restore) r();
    }
  });

  it('control: the same harness tells a login apart from a request that does none of its work', async () => {
    const { a: login, b: cheap } = await compare(
      () => attempt('known@example.com'),
      () => timed('/healthz', {}),
    );
    expect(cheap.median / login.median, `cheap ${cheap.median.toFixed(3)} ms vs login ${login.median.toFixed(3)} ms`).toBeLessThan(0.67);
  }, 120_000);
});
