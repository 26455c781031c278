// Rule: a login attempt does the same work whether the email belongs to an account or not, so its timing cannot
// tell them apart: an unknown email, a malformed one and a known one with a wrong code make the same store calls
// in the same order and decrypt one TOTP secret each. So do a passkey-only account (which refuses every code) and an
// account enrolled with a passkey only (which has no TOTP secret). (The work is compared, not the clock: timings on a shared
// machine swing too much to assert on, and a missing round trip or decryption is what would show.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';

const MONTH = 31 * 24 * 60 * 60_000;

describe('a login does the same work for every email', () => {
  let t: TestApp;
  let n = 0;

  beforeAll(async () => {
    t = await createTestApp('sqlite');
    await t.runtime.admin.addUser({ email: 'known@example.com' });
    const only = await t.runtime.admin.addUser({ email: 'only@example.com' });
    await t.runtime.store.users.changeSignIn(only.user.id, () => ({ change: { passkeyOnly: true }, result: true }));
    await t.runtime.admin.inviteUser({ email: 'nosecret@example.com', create: 'always' });
  });
  afterAll(async () => t?.close());

  /** One attempt, each from a fresh address and a month later, so no budget is ever near its limit. */
  async function attempt(email: string): Promise<void> {
    n++;
    t.peer = `198.51.${(n >> 8) & 255}.${n & 255}`;
    t.clock.advance(MONTH);
    const res = await t.request('/device/add', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, device_registration_code: '000000', device_type: 't' }),
    });
    expect(res.status).toBe(401);
  }

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
      const passkeyOnly = await work('only@example.com');
      const noSecret = await work('nosecret@example.com');
      expect(known).toContain('keys.open');
      expect(unknown).toEqual(known);
      expect(malformed).toEqual(known);
      expect(passkeyOnly).toEqual(known);
      expect(noSecret).toEqual(known);
    } finally {
      for (const r of restore) r();
    }
  });
});
