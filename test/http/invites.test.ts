// Rules for invite links (issue 10): the link's page sets up an authenticator app (QR code and secret on the page,
// confirmed by a first code) or a passkey, and signs the browser in as a new device; a lost phone's secret is
// replaced only once the new one is confirmed; a link works once; expired, used, voided, malformed and unknown
// links all get the same answer; guesses at the first code spend a per-invite and a per-address budget.
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, readJson, type TestApp } from '../support/app.js';
import { BrowserSession } from '../support/browser-session.js';

describe('invite links over HTTP', () => {
  let t: TestApp;
  let n = 0;
  const fresh = () => {
    n++;
    t.peer = `203.0.113.${n}`;
    return new BrowserSession(t);
  };
  const invite = async (email: string) => {
    const { token } = await t.runtime.admin.inviteUser({ email, create: 'if-missing' });
    return `/login/enroll/${token}`;
  };
  const codeFor = (secret: string, offsetInSteps = 0) => generate({ secret, epoch: Math.floor(t.clock.now() / 1000) + offsetInSteps * 30 });
  /** The secret as the page shows it, without the spaces between groups. */
  const secretOn = (page: string) => /id="totp-secret">([A-Z2-7 ]+)</.exec(page)?.[1]?.replace(/ /g, '') ?? '';

  beforeAll(async () => {
    t = await createTestApp('sqlite');
  });
  afterAll(async () => t?.close());

  it('sets up an authenticator app from the link: QR code and secret on the page, confirmed by a first code', async () => {
    const link = await invite('new@example.com');
    const b = fresh();
    const page = await b.get(link);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('new@example.com');
    expect(html).toMatch(/<img class="qr" src="data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+" alt="QR code for your authenticator app"/);
    expect(html).toMatch(/id="totp-secret">([A-Z2-7]{4} )+[A-Z2-7]{1,4}</);
    expect(html).toContain('data-passkey-enroll');
    expect(html).not.toMatch(/<script>/);
    const secret = secretOn(html);
    const wrong = await b.postForm(link, { code: (Number(await codeFor(secret)) ^ 1).toString().padStart(6, '0') });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('That code did not match');
    const ok = await b.postForm(link, { code: await codeFor(secret) });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('https://home.example.com/');
    expect(b.jar.get('device_id')).toMatch(/^[0-9a-f]{32}$/);
    // The confirmed secret is the account's now: codes from it sign in (a later one; that one is used).
    const later = fresh();
    t.clock.advance(30_000);
    expect((await later.postForm('/login', { email: 'new@example.com', code: await codeFor(secret) })).status).toBe(303);
  });

  it('replaces a lost phone’s secret only when the new one is confirmed', async () => {
    const { totpSecret: old } = await t.runtime.admin.addUser({ email: 'lost@example.com' });
    const link = await invite('lost@example.com');
    const b = fresh();
    const secret = secretOn(await (await b.get(link)).text());
    expect(secret).not.toBe(old);
    const before = fresh();
    await before.loginWithCode('lost@example.com', old); // the old app still works until then
    expect((await b.postForm(link, { code: await codeFor(secret) })).status).toBe(303);
    t.clock.advance(30_000);
    expect((await fresh().postForm('/login', { email: 'lost@example.com', code: await codeFor(old) })).status).toBe(401);
    expect((await fresh().postForm('/login', { email: 'lost@example.com', code: await codeFor(secret) })).status).toBe(303);
  });

  it('creates a passkey from the link, signs in with it, and uses the link up', async () => {
    const link = await invite('pk@example.com');
    const b = fresh();
    const options = await b.postJson(`${link}/passkey/options`);
    expect(options.status).toBe(200);
    const json = await readJson(options);
    expect(json).toMatchObject({ rp: { id: 'example.com' }, user: { name: 'pk@example.com' } });
    expect(json.authenticatorSelection).toMatchObject({ residentKey: 'required', userVerification: 'required' });
    const done = await b.postJson(`${link}/passkey/verify`, { response: b.authenticator.register(json), rd: 'https://app.example.com/x' });
    expect(done.status).toBe(200);
    expect(await readJson(done)).toEqual({ 'status code': 200, status: 'ok', redirect: 'https://app.example.com/x' });
    expect(b.jar.get('device_id')).toMatch(/^[0-9a-f]{32}$/);
    const again = fresh();
    again.authenticator.credentials.push(...b.authenticator.credentials);
    expect((await again.signInWithPasskey()).status).toBe(200);
    expect((await fresh().get(link)).status).toBe(404);
    // The account has no TOTP secret: no code can sign it in.
    expect((await fresh().postForm('/login', { email: 'pk@example.com', code: '123456' })).status).toBe(401);
  });

  it("refuses a passkey made on another browser's challenge, or on a challenge for another purpose", async () => {
    const link = await invite('bound@example.com');
    const a = fresh();
    const b = fresh();
    const forA = await readJson(await a.postJson(`${link}/passkey/options`));
    await b.postJson(`${link}/passkey/options`);
    expect((await b.postJson(`${link}/passkey/verify`, { response: b.authenticator.register(forA) })).status).toBe(401);
    // A sign-in challenge is not an enrolment challenge.
    const signIn = await b.signInOptions();
    expect(
      (await b.postJson(`${link}/passkey/verify`, { response: b.authenticator.register({ ...forA, challenge: signIn.challenge }) })).status,
    ).toBe(401);
    expect((await b.get(link)).status).toBe(200); // still unused
  });

  it('gives expired, used, voided, malformed and unknown links the same answer', async () => {
    const used = await invite('used@example.com');
    const ub = fresh();
    const secret = secretOn(await (await ub.get(used)).text());
    expect((await ub.postForm(used, { code: await codeFor(secret) })).status).toBe(303);
    const voided = await invite('voided@example.com');
    await invite('voided@example.com');
    const expired = await invite('expired@example.com');
    const links = {
      used,
      voided,
      malformed: '/login/enroll/not-a-token',
      unknown: `/login/enroll/${'A'.repeat(43)}`,
      tooLong: `/login/enroll/${'A'.repeat(44)}`,
      expired,
    };
    const answers = async (link: string) => {
      const b = fresh();
      const get = await b.get(link);
      const post = await b.postForm(link, { code: '123456' });
      const options = await b.postJson(`${link}/passkey/options`);
      return [get.status, await get.text(), post.status, await post.text(), options.status, await options.text()];
    };
    t.clock.advance(72 * 3_600_000 - 1);
    const stillValid = await answers(expired); // one millisecond before expiry: a live link (wrong code)
    expect(stillValid[0]).toBe(200);
    t.clock.advance(1);
    const reference = await answers(links.unknown);
    expect(reference.slice(0, 1)).toEqual([404]);
    expect(reference[3]).toBe(reference[1]);
    expect(reference[5]).toBe('{"status code":404,"error":"This invite link cannot be used."}');
    for (const [what, link] of Object.entries(links)) expect(await answers(link), what).toEqual(reference);
  });

  it('spends a budget per invite on first-code guesses: the sixth within 15 minutes is not even tried', async () => {
    const link = await invite('guess@example.com');
    const b = fresh();
    const secret = secretOn(await (await b.get(link)).text());
    for (let i = 0; i < 5; i++) {
      t.peer = `192.0.2.${i + 1}`; // another address each time: the invite's own budget is what trips
      expect((await b.postForm(link, { code: '000000' })).status).toBe(401);
    }
    t.peer = '192.0.2.99';
    expect((await b.postForm(link, { code: await codeFor(secret) })).status).toBe(429);
    t.clock.advance(15 * 60_000);
    expect((await b.postForm(link, { code: await codeFor(secret) })).status).toBe(303);
  });

  it('refuses malformed forms and bodies with 400', async () => {
    const link = await invite('form@example.com');
    const b = fresh();
    expect((await b.postForm(link, { code: '1', extra: 'x' })).status).toBe(400);
    expect((await b.postForm(link, {})).status).toBe(400);
    expect((await b.postJson(`${link}/passkey/verify`, { response: { id: 'x' } })).status).toBe(400);
    expect((await b.get(link)).status).toBe(200);
  });
});
