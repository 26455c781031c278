// Rule: the account page tells the truth about how the account signs in (issue 19, point 3). An account enrolled
// with a passkey has no authenticator app and is told so, with no "also signs in with codes" and no passkey-only
// switch; its user adds an app from the account page (QR code, key, phone link, first code), after which codes
// work; the app can be removed only while a passkey remains (in one statement, on every database), and the last
// passkey of an account without codes stays.
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, readJson, type TestApp } from '../support/app.js';
import { BrowserSession } from '../support/browser-session.js';
import { DIALECTS, skipReason } from '../support/databases.js';

/** The secret as the page shows it, without the spaces between groups. */
const secretOn = (page: string) => /id="totp-secret">([A-Z2-7 ]+)</.exec(page)?.[1]?.replace(/ /g, '') ?? '';
const offerOn = (page: string) => /name="offer" value="([^"]+)"/.exec(page)?.[1] ?? '';

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect))(`the account's sign-in methods on ${dialect}`, () => {
    let t: TestApp;
    let n = 0;
    const fresh = () => {
      n++;
      t.peer = `203.0.113.${n}`;
      return new BrowserSession(t);
    };
    const codeFor = (secret: string) => generate({ secret, epoch: Math.floor(t.clock.now() / 1000) });

    beforeAll(async () => {
      t = await createTestApp(dialect);
    });
    afterAll(async () => t?.close());

    /** A browser signed in with the passkey it enrolled with from an invite: the account has no TOTP secret. */
    async function enrolledWithPasskey(email: string) {
      const { token } = await t.runtime.admin.inviteUser({ email, create: 'if-missing' });
      const b = fresh();
      const options = await b.postJson(`/login/enroll/${token}/passkey/options`);
      const done = await b.postJson(`/login/enroll/${token}/passkey/verify`, {
        response: b.authenticator.register(await readJson(options)),
      });
      expect(done.status).toBe(200);
      return b;
    }

    it('says that a passkey-enrolled account has no authenticator app, and offers to add one instead of passkey-only', async () => {
      const b = await enrolledWithPasskey('truth@example.com');
      const html = await (await b.get('/login/account')).text();
      expect(html).toContain('No authenticator app is set up: this account signs in with its passkey only.');
      expect(html).toContain('href="/login/account/authenticator"');
      expect(html).not.toContain('signs in with codes');
      expect(html).not.toContain('Sign in with passkeys only');
      expect(html).not.toContain('Remove the authenticator app');
      // Its only passkey cannot go: nothing else would sign in.
      const id = /action="\/login\/account\/passkeys\/(\d+)\/remove"/.exec(html)?.[1];
      const refused = await b.postForm(`/login/account/passkeys/${id}/remove`, {});
      expect(refused.status).toBe(409);
      expect(await refused.text()).toContain('add another passkey or an authenticator app');
    });

    it('adds an authenticator app from the account page: QR code, key, phone link, first code; then codes sign in', async () => {
      const b = await enrolledWithPasskey('adds@example.com');
      const page = await b.get('/login/account/authenticator');
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toMatch(/<img class="qr" src="data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+"/);
      const secret = secretOn(html);
      expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
      expect(html).toMatch(/<a href="otpauth:\/\/totp\/[^"]+secret=[A-Z2-7]+[^"]*">Open it in your authenticator app<\/a>/);
      // The offered secret travels sealed, never readable in the form.
      expect(offerOn(html)).not.toContain(secret);

      const wrong = await b.postForm('/login/account/authenticator', { offer: offerOn(html), code: '000000' });
      expect(wrong.status).toBe(400);
      const again = await wrong.text();
      expect(again).toContain('That code did not match');
      expect(secretOn(again)).toBe(secret);
      expect((await fresh().postForm('/login', { email: 'adds@example.com', code: await codeFor(secret) })).status).toBe(401);

      const done = await b.postForm('/login/account/authenticator', { offer: offerOn(html), code: await codeFor(secret) });
      expect(done.status).toBe(200);
      const account = await done.text();
      expect(account).toContain('The authenticator app is set up');
      expect(account).toContain('This account signs in with codes from an authenticator app.');
      expect(account).toContain('Sign in with passkeys only');
      expect(account).toContain('Remove the authenticator app');
      // The confirming code was used; the next one signs in.
      expect((await fresh().postForm('/login', { email: 'adds@example.com', code: await codeFor(secret) })).status).toBe(401);
      expect((await fresh().postForm('/login', { email: 'adds@example.com', code: await t.nextCode(secret) })).status).toBe(303);
      // A second set-up is not offered any more.
      expect(await (await b.get('/login/account/authenticator')).text()).toContain('This account has an authenticator app already.');
    });

    it('refuses an offer made for someone else, or forged, without touching the account', async () => {
      const mallory = await enrolledWithPasskey('mallory@example.com');
      const offered = await (await mallory.get('/login/account/authenticator')).text();
      const victim = await enrolledWithPasskey('victim@example.com');
      for (const offer of [offerOn(offered), 'v1.test1.AAAA', '']) {
        const res = await victim.postForm('/login/account/authenticator', { offer, code: await codeFor(secretOn(offered)) });
        expect(res.status, offer).toBe(400);
      }
      const victimId = (await t.runtime.store.users.findByEmail('victim@example.com'))?.id ?? 0;
      expect((await t.runtime.passkeyAccount.state(victimId)).hasTotp).toBe(false);
    });

    it('removes the authenticator app while a passkey remains, and refuses while none does', async () => {
      const codesOnly = fresh();
      const secret = (await t.runtime.admin.addUser({ email: 'codes@example.com' })).totpSecret;
      await codesOnly.loginWithCode('codes@example.com', secret);
      const page = await (await codesOnly.get('/login/account')).text();
      expect(page).toContain('This account signs in with codes from an authenticator app.');
      expect(page).not.toContain('Sign in with passkeys only');
      expect(page).not.toContain('Remove the authenticator app');
      const refused = await codesOnly.postForm('/login/account/authenticator/remove', {});
      expect(refused.status).toBe(409);
      expect(await t.runtime.store.users.removeTotpSecret((await t.runtime.store.users.findByEmail('codes@example.com'))?.id ?? 0)).toBe(
        false,
      );

      expect((await codesOnly.addPasskey('Laptop')).status).toBe(200);
      const removed = await codesOnly.postForm('/login/account/authenticator/remove', {});
      expect(removed.status).toBe(200);
      const after = await removed.text();
      expect(after).toContain('The authenticator app was removed');
      expect(after).toContain('No authenticator app is set up');
      expect((await fresh().postForm('/login', { email: 'codes@example.com', code: await t.nextCode(secret) })).status).toBe(401);
    });
  });
}
