// Rule: changing how an account signs in (adding or removing a passkey or an authenticator app, turning
// passkey-only on or off) needs a sign-in on this device within the last 10 minutes, so that a stolen signed-in
// browser cannot make itself a lasting way in. An older sign-in is sent to sign in again (`/login?fresh=1`, which
// renews this same device with a code or a passkey) and comes back; nothing changes meanwhile. Looking at the
// account page, renaming and signing devices out need no fresh sign-in. Setting up an authenticator app takes two
// steps (scan the QR code, type its first code), so it begins only in the first half of the window: the first code
// never arrives after the window has closed, which would mean a new QR code and a stale entry in the app.
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRESH_SIGN_IN_IN_MS } from '../../src/core/devices.js';
import { createTestApp, readJson, type TestApp } from '../support/app.js';
import { BrowserSession, ORIGIN } from '../support/browser-session.js';

const EMAIL = 'ruth@example.com';
const freshSignIn = (back: string) => `/login?fresh=1&rd=${encodeURIComponent(`${ORIGIN}${back}`)}`;

describe('changes to how an account signs in need a recent sign-in (sqlite)', () => {
  let t: TestApp;
  let secret: string;
  let b: BrowserSession;
  let passkeyId: string;

  beforeAll(async () => {
    t = await createTestApp('sqlite');
    secret = (await t.runtime.admin.addUser({ email: EMAIL })).totpSecret;
    b = new BrowserSession(t);
    await b.loginWithCode(EMAIL, secret);
    // Just signed in: a passkey is added at once.
    expect((await b.addPasskey()).status).toBe(200);
    passkeyId = /action="\/login\/account\/passkeys\/(\d+)\/remove"/.exec(await (await b.get('/login/account')).text())?.[1] ?? '';
    expect(passkeyId).not.toBe('');
  });
  afterAll(async () => t?.close());

  const state = async () => t.runtime.passkeyAccount.state((await t.runtime.store.users.findByEmail(EMAIL))?.id ?? -1);

  it('past the window, each change is sent to sign in again and changes nothing', async () => {
    t.clock.advance(FRESH_SIGN_IN_IN_MS);
    expect((await b.get('/login/account')).status).toBe(200);

    const setUp = await b.get('/login/account/authenticator');
    expect([setUp.status, setUp.headers.get('location')]).toEqual([303, freshSignIn('/login/account/authenticator')]);

    const options = await b.postJson('/login/account/passkeys/options');
    expect(options.status).toBe(401);
    expect(await readJson(options)).toEqual({
      'status code': 401,
      error: 'Please sign in again to change how you sign in.',
      redirect: freshSignIn('/login/account'),
    });

    for (const [path, fields] of [
      ['/login/account/authenticator/remove', {}],
      ['/login/account/passkey-only', { passkey_only: 'on' }],
      [`/login/account/passkeys/${passkeyId}/remove`, {}],
      ['/login/account/authenticator', { offer: 'x', code: '123456' }],
    ] as const) {
      const res = await b.postForm(path, fields);
      expect([path, res.status, res.headers.get('location')]).toEqual([path, 303, freshSignIn('/login/account')]);
    }
    const after = await state();
    expect([after.hasTotp, after.passkeyOnly, after.passkeys.length]).toEqual([true, false, 1]);

    // Renaming is no change to how the account signs in.
    const renamed = await b.postForm(`/login/account/passkeys/${passkeyId}/rename`, { name: 'Laptop key' });
    expect(renamed.status).toBe(200);
  });

  it('the fresh sign-in renews this device and the change then goes through', async () => {
    const deviceId = b.jar.get('device_id');
    const page = await (await b.get(freshSignIn('/login/account'))).text();
    expect(page).toContain('Sign in again');
    const again = await b.postForm('/login', { email: EMAIL, code: await t.nextCode(secret), fresh: '1', rd: `${ORIGIN}/login/account` });
    expect([again.status, again.headers.get('location')]).toEqual([303, `${ORIGIN}/login/account`]);
    expect(b.jar.get('device_id')).toBe(deviceId);

    const on = await b.postForm('/login/account/passkey-only', { passkey_only: 'on' });
    expect(on.status).toBe(200);
    expect((await state()).passkeyOnly).toBe(true);
  });

  it('a fresh sign-in with the passkey does the same', async () => {
    t.clock.advance(FRESH_SIGN_IN_IN_MS);
    expect((await b.postForm('/login/account/passkey-only', { passkey_only: 'off' })).status).toBe(303);
    expect((await state()).passkeyOnly).toBe(true);
    expect((await b.signInWithPasskey()).status).toBe(200);
    expect((await b.postForm('/login/account/passkey-only', { passkey_only: 'off' })).status).toBe(200);
    expect((await state()).passkeyOnly).toBe(false);
  });

  it('an authenticator app is set up only from the first half of the window, and its first code is taken up to its end', async () => {
    // Signed in with the passkey just now (the test before): the app goes, so that one can be set up.
    expect((await b.postForm('/login/account/authenticator/remove', {})).status).toBe(200);
    expect((await state()).hasTotp).toBe(false);

    t.clock.advance(FRESH_SIGN_IN_IN_MS / 2);
    const late = await b.get('/login/account/authenticator');
    expect([late.status, late.headers.get('location')]).toEqual([303, freshSignIn('/login/account/authenticator')]);
    expect((await b.signInWithPasskey()).status).toBe(200);

    const html = await (await b.get('/login/account/authenticator')).text();
    const offer = /name="offer" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const key = /id="totp-secret">([A-Z2-7 ]+)</.exec(html)?.[1]?.replace(/ /g, '') ?? '';
    expect([offer, key].map((s) => s.length > 0)).toEqual([true, true]);
    // The first code arrives just before the window closes: the app is set up.
    t.clock.advance(FRESH_SIGN_IN_IN_MS - 1_000);
    const code = await generate({ secret: key, epoch: Math.floor(t.clock.now() / 1000) });
    const done = await b.postForm('/login/account/authenticator', { offer, code });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('The authenticator app is set up');
    expect((await state()).hasTotp).toBe(true);
  });
});
