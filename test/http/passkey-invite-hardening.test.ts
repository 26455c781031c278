// Rules from the attack battery on passkeys and invites (issue 18), on every database:
//  1. an account never loses every way in, even when two removals (or a removal and passkey-only) arrive at once;
//  3. an invite redeemed with an app leaves a passkey-only account able to sign in with that app;
//  4. a passkey whose key does not import, or whose credential id is empty or too long, is refused with a 400
//     before anything is stored or an invite is spent (never a 503 from a column too small);
//  6. malformed invite tokens get what unknown ones get, and share no budget with each other.
// Each refusal leaves an audit line with its reason.
import { generateKeyPairSync } from 'node:crypto';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging.js';
import { createTestApp, jsonLines, readJson, type TestApp } from '../support/app.js';
import { type Cbor, cbor } from '../support/authenticator.js';
import { BrowserSession } from '../support/browser-session.js';
import { DIALECTS, skipReason } from '../support/databases.js';

const ecKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
const coseKey = (entries: Array<[number, Cbor]>) => cbor(new Map<number, Cbor>(entries));
const bytes = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64url');

/** Keys a real authenticator never makes; each would be stored and never sign in. */
function brokenKeys(): Record<string, Uint8Array> {
  const ec = ecKey();
  const offCurve = bytes(ec.y);
  offCurve[31] = (offCurve[31] ?? 0) ^ 1;
  return {
    'an unknown key type': coseKey([
      [1, 99],
      [3, -7],
      [-1, 1],
      [-2, bytes(ec.x)],
      [-3, bytes(ec.y)],
    ]),
    'an EC point off the curve': coseKey([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, bytes(ec.x)],
      [-3, offCurve],
    ]),
    'a 1-byte RSA modulus': coseKey([
      [1, 3],
      [3, -257],
      [-1, Buffer.from([0xc3])],
      [-2, Buffer.from([1, 0, 1])],
    ]),
    'a 31-byte Ed25519 key': coseKey([
      [1, 1],
      [3, -8],
      [-1, 6],
      [-2, Buffer.alloc(31, 7)],
    ]),
    'a 2,000-byte key': coseKey([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.alloc(1000, 1)],
      [-3, Buffer.alloc(1000, 2)],
    ]),
  };
}

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect))(`passkey and invite hardening on ${dialect}`, () => {
    let t: TestApp;
    const lines: Array<Record<string, unknown>> = [];
    let n = 0;
    const fresh = () => {
      n++;
      t.peer = `198.18.${Math.floor(n / 200)}.${n % 200}`;
      return new BrowserSession(t);
    };

    beforeAll(async () => {
      const sink = jsonLines(lines);
      t = await createTestApp(dialect, {}, createLogger({ level: 'info' }, sink));
    });
    afterAll(async () => t?.close());

    const remove = (b: BrowserSession, id: number) => b.postForm(`/login/account/passkeys/${id}/remove`, {});
    const passkeyOnly = (b: BrowserSession, on: boolean) => b.postForm('/login/account/passkey-only', { passkey_only: on ? 'on' : 'off' });

    it('never lets two removals at once (or a removal and passkey-only) leave an account with no way in', async () => {
      const { user, totpSecret } = await t.runtime.admin.addUser({ email: 'race@example.com' });
      const b = fresh();
      await b.loginWithCode(user.email, totpSecret);
      for (let round = 0; round < 6; round++) {
        for (const name of ['One', 'Two']) expect((await b.addPasskey(name)).status).toBe(200);
        expect((await passkeyOnly(b, true)).status).toBe(200);
        const ids = (await t.runtime.passkeyAccount.state(user.id)).passkeys.map((p) => p.id);
        const statuses = (await Promise.all(ids.map((id) => remove(b, id)))).map((r) => r.status);
        expect(statuses.sort(), `round ${round}`).toEqual([200, 409]);
        const state = await t.runtime.passkeyAccount.state(user.id);
        expect(state).toMatchObject({ passkeyOnly: true, passkeys: [expect.anything()] });
        // The last passkey's removal and passkey-only on, at once.
        expect((await passkeyOnly(b, false)).status).toBe(200);
        await Promise.all([passkeyOnly(b, true), remove(b, state.passkeys[0]?.id ?? 0)]);
        const after = await t.runtime.passkeyAccount.state(user.id);
        expect(after.passkeyOnly && after.passkeys.length === 0, `round ${round}: passkey-only and no passkey`).toBe(false);
        expect((await passkeyOnly(b, false)).status).toBe(200);
        for (const p of after.passkeys) expect((await remove(b, p.id)).status).toBe(200);
      }
      expect(lines).toContainEqual(
        expect.objectContaining({ event: 'passkey.refused', by: 'account', reason: 'last-way-in', email: 'race@example.com' }),
      );
    });

    it('turns passkey-only off when an invite is redeemed with an app, and says so', async () => {
      const { user, totpSecret } = await t.runtime.admin.addUser({ email: 'recover@example.com' });
      const b = fresh();
      await b.loginWithCode(user.email, totpSecret);
      expect((await b.addPasskey('Lost phone')).status).toBe(200);
      expect((await passkeyOnly(b, true)).status).toBe(200);
      const { token } = await t.runtime.admin.inviteUser({ email: user.email, create: 'if-missing' });
      const other = fresh();
      const page = await (await other.get(`/login/enroll/${token}`)).text();
      const secret = /id="totp-secret">([A-Z2-7 ]+)</.exec(page)?.[1]?.replace(/ /g, '') ?? '';
      const code = () => generate({ secret, epoch: Math.floor(t.clock.now() / 1000) });
      expect((await other.postForm(`/login/enroll/${token}`, { code: await code() })).status).toBe(303);
      t.clock.advance(30_000);
      expect((await fresh().postForm('/login', { email: user.email, code: await code() })).status).toBe(303);
      expect((await t.runtime.passkeyAccount.state(user.id)).passkeyOnly).toBe(false);
      expect(page).toContain('Setting up an app here allows codes from it again');
      expect(lines).toContainEqual(expect.objectContaining({ event: 'invite.redeemed', email: user.email, passkeyOnly: false }));
    });

    it('refuses a passkey whose key does not import, or whose credential id is empty or too long, with a 400', async () => {
      const { user, totpSecret } = await t.runtime.admin.addUser({ email: 'keys@example.com' });
      const b = fresh();
      await b.loginWithCode(user.email, totpSecret);
      const { token } = await t.runtime.admin.inviteUser({ email: 'keys-invited@example.com', create: 'if-missing' });
      const invitee = fresh();
      const cases: Array<[string, Parameters<BrowserSession['authenticator']['register']>[1]]> = [
        ...Object.entries(brokenKeys()).map(([what, key]) => [what, { cose: key }] as [string, { cose: Uint8Array }]),
        ['an empty credential id', { credentialId: new Uint8Array(0), reportedId: 'AAAA' }],
        ['a 1,100-byte credential id', { credentialId: Buffer.alloc(1100, 9), reportedId: 'AAAA' }],
      ];
      for (const [what, tamper] of cases) {
        const options = await readJson(await b.postJson('/login/account/passkeys/options'));
        const added = await b.postJson('/login/account/passkeys', { response: b.authenticator.register(options, tamper), name: 'Bad' });
        expect(added.status, `account page, ${what}`).toBe(400);
        const enrollOptions = await readJson(await invitee.postJson(`/login/enroll/${token}/passkey/options`));
        const enrolled = await invitee.postJson(`/login/enroll/${token}/passkey/verify`, {
          response: invitee.authenticator.register(enrollOptions, tamper),
        });
        expect(enrolled.status, `invite, ${what}`).toBe(400);
      }
      expect(await t.runtime.store.passkeys.list(user.id)).toEqual([]);
      expect((await t.runtime.admin.listUsersWithMethods()).find((u) => u.email === 'keys-invited@example.com')?.methods.passkeys).toBe(0);
      // The invite is not spent: a good passkey still redeems it.
      expect((await invitee.get(`/login/enroll/${token}`)).status).toBe(200);
      const options = await readJson(await invitee.postJson(`/login/enroll/${token}/passkey/options`));
      expect(
        (await invitee.postJson(`/login/enroll/${token}/passkey/verify`, { response: invitee.authenticator.register(options) })).status,
      ).toBe(200);
      expect(lines).toContainEqual(expect.objectContaining({ event: 'passkey.refused', reason: 'unusable', email: 'keys@example.com' }));
      expect(lines).toContainEqual(
        expect.objectContaining({ event: 'invite.refused', reason: 'unusable', email: 'keys-invited@example.com' }),
      );
    });

    it('answers malformed invite tokens as unknown ones, each with its own budget', async () => {
      // Six addresses, six malformed tokens: none can spend a budget the others need.
      for (let i = 1; i <= 6; i++) {
        const res = await fresh().postForm(`/login/enroll/not-a-token-${i}`, { code: '123456' });
        expect(res.status, `not-a-token-${i}`).toBe(404);
      }
      const unknown = await fresh().postForm(`/login/enroll/${'A'.repeat(43)}`, { code: '123456' });
      expect(unknown.status).toBe(404);
      expect(await unknown.text()).toBe(await (await fresh().postForm('/login/enroll/not-a-token-7', { code: '123456' })).text());
      // One token's own budget still runs out, the same for a malformed token as for an unknown one.
      for (const token of ['not-a-token-x', 'B'.repeat(43)]) {
        const statuses: number[] = [];
        for (let i = 0; i < 7; i++) statuses.push((await fresh().postForm(`/login/enroll/${token}`, { code: '123456' })).status);
        expect(statuses, token).toEqual([404, 404, 404, 404, 404, 429, 429]);
      }
    });
  });
}
