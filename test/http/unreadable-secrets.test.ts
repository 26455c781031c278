// Rule: a stored secret that does not decrypt with the configured keys is the server's fault, never the user's.
// A login for such an account answers 503 ("try again", logged as an error), is not counted against the
// account's or the address's guess budget, and never turns into a 401 or a lock-out; a grant token that does not
// decrypt makes /verify answer 503 (deny), never 200 and never a cached "no access".
import { randomBytes } from 'node:crypto';
import { generate } from 'otplib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRing, sealContext } from '../../src/core/crypto.js';
import { newGrant } from '../../src/core/grants.js';
import { newTotpSecret } from '../../src/core/totp.js';
import { createTestApp, jsonLines, type TestApp } from '../support/app.js';

/** A key nobody configured: what a wrong ENCRYPTION_KEYS looks like from the data's side. */
const stranger = new KeyRing([{ id: 'other', key: randomBytes(32) }]);

describe('secrets that do not decrypt', () => {
  let t: TestApp;
  const lines: Array<Record<string, unknown>> = [];
  const sink = jsonLines(lines);
  const secret = newTotpSecret();
  let failures: () => Promise<number>;

  beforeAll(async () => {
    t = await createTestApp('sqlite', {}, pino({ level: 'info' }, sink));
    const { store } = t.runtime;
    await store.users.create({ email: 'sealed@example.com', username: null, role: 'user', createdAt: t.clock.now() }, (id) =>
      stranger.seal(secret, sealContext.totpSecret(id)),
    );
    const db = t.runtime.database.db;
    failures = async () =>
      Number(
        (
          await db
            .selectFrom('login_failures')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
  });
  afterAll(async () => t?.close());

  const attempt = async (code: string) =>
    t.request('/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email: 'sealed@example.com', code }).toString(),
    });

  it('a login answers 503 "try again", right code or wrong, and counts nothing against the budget', async () => {
    const before = await failures();
    for (let i = 0; i < 8; i++) {
      t.clock.advance(30_000);
      const right = await generate({ secret, epoch: Math.floor(t.clock.now() / 1000) });
      for (const code of [right, '000000']) {
        const res = await attempt(code);
        expect(res.status).toBe(503);
        expect(await res.text()).toMatch(/try again/i);
        expect(res.headers.getSetCookie()).toEqual([]);
      }
    }
    // Sixteen attempts, more than the 5-per-15-minutes budget: none counted, so none throttled.
    expect(await failures()).toBe(before);
    expect(lines.filter((l) => l.event === 'login.failure' || l.event === 'login.throttled')).toEqual([]);
    const errors = lines.filter((l) => l.level === 50);
    expect(errors.length).toBeGreaterThan(0);
    expect(JSON.stringify(errors)).toContain('does not decrypt');
    expect(JSON.stringify(lines)).not.toContain(secret);
  });

  it('a grant token that does not decrypt makes /verify answer 503, and again on the next request', async () => {
    const { admin, store } = t.runtime;
    const { totpSecret } = await admin.addUser({ email: 'granted@example.com' });
    const { service, token } = await admin.addService('svc');
    const user = (await store.users.findByEmail('granted@example.com')) as { id: number };
    const grant = newGrant(stranger, t.clock.now(), user.id, service.id, 'read:email');
    await store.grants.insertIfAbsent(grant);
    const cookie = await t.login('granted@example.com', totpSecret);
    for (let i = 0; i < 2; i++) {
      const res = await t.request('/verify/svc', { headers: { Cookie: cookie, Authorization: `Bearer ${token}` } });
      expect(res.status).toBe(503);
      expect(res.headers.has('Remote-User')).toBe(false);
    }
  });
});
