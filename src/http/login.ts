// The browser-facing routes: the login page and form, the reference's JSON /device/add, logout, and a home page.
import { type Context, Hono } from 'hono';
import { deviceLabelFromUserAgent } from '../core/identity.js';
import { FAVICON, FAVICON_PATH, loginPage, messagePage, STYLESHEET, STYLESHEET_PATH, signedInPage, stepUpPage } from '../views/pages.js';
import type { AppEnv } from './context.js';
import { clearDeviceCookies, setDeviceCookies } from './device-cookies.js';
import { auditLogin } from './login-audit.js';
import { clientOf, deviceOf, formFields, returnUrl, signedIn } from './request.js';
import { errorBody, jsonAnswer, OK_BODY, SIGNED_OUT_PATH } from './responses.js';

const GENERIC_LOGIN_ERROR = 'Invalid email or code.';

/** What a person is told when their address, not the account, has spent its guess budget. */
function addressThrottledMessage(retryInMs: number): string {
  const minutes = Math.ceil(retryInMs / 60_000);
  const when = minutes >= 120 ? `in ${Math.round(minutes / 60)} hours` : `in ${minutes} minutes`;
  return `Too many sign-in attempts from your network. Please try again ${when}.`;
}

/**
 * One login attempt, shared by the form and the JSON API: refused if already signed in, audited, and on success
 * the cookies set. `device` is `null` for every failure; `addressRetryInMs` is set when this client's address has
 * spent its budget (see `LoginResult`).
 */
async function attemptLogin(c: Context<AppEnv>, fields: { email: unknown; code: unknown; deviceType: unknown }, fresh = false) {
  const { devices, signIn, config } = c.var.deps;
  const client = clientOf(c);
  const credential = deviceOf(c);
  const alreadyIn = await devices.authenticate(credential);
  // A fresh sign-in (asked for by a `recent:N` rule) renews the signed-in device instead of making another one.
  const renew = fresh && alreadyIn && credential ? { ...credential, userId: alreadyIn.user.id } : undefined;
  const result = alreadyIn && !renew ? 'already-signed-in' : await signIn.login({ ...fields, client: client.key, renew }, c.var.deadline);
  auditLogin(c, { kind: 'login', client: client.address }, result === 'already-signed-in' ? { ok: false, reason: result } : result);
  const device = result !== 'already-signed-in' && result.ok ? result.device : null;
  if (device) setDeviceCookies(c, config, device);
  const addressRetryInMs = result !== 'already-signed-in' && !result.ok ? result.addressRetryInMs : undefined;
  return { device, addressRetryInMs };
}

export const loginRoutes = new Hono<AppEnv>()
  .get(STYLESHEET_PATH, (c) => {
    c.header('Content-Type', 'text/css; charset=utf-8');
    return c.body(STYLESHEET);
  })

  .get('/', async (c) => {
    const found = await signedIn(c);
    if (!found) return c.redirect('/login', 302);
    return c.html(signedInPage({ email: found.user.email, deviceType: found.device.deviceType }));
  })

  .get(FAVICON_PATH, (c) => {
    c.header('Content-Type', 'image/svg+xml');
    return c.body(FAVICON);
  })

  .get('/login', async (c) => {
    const { config } = c.var.deps;
    const rd = returnUrl(c, c.req.queries('rd'));
    const found = await signedIn(c);
    // `fresh=1`: a `recent:N` rule wants a newer sign-in of this signed-in device.
    if (found && c.req.query('fresh') === '1') {
      return c.html(loginPage({ rd, email: found.user.email, passkeys: c.var.deps.passkeys !== undefined, fresh: true }));
    }
    if (found) return c.redirect(rd ?? config.landingUrl, 302);
    const notice = c.req.query('signed_out') === '1' ? 'You have signed out.' : undefined;
    return c.html(loginPage({ rd, notice, passkeys: c.var.deps.passkeys !== undefined }));
  })

  // A `passkey` rule met a device signed in with a code: sign in again with a passkey, keeping the cookies.
  .get('/login/step-up', async (c) => {
    const { passkeys, passkeyAccount } = c.var.deps;
    const rd = returnUrl(c, c.req.queries('rd'));
    const found = await signedIn(c);
    if (!found) return c.redirect(`/login${rd ? `?rd=${encodeURIComponent(rd)}` : ''}`, 302);
    const hasPasskey = (await passkeyAccount.state(found.user.id)).passkeys.length > 0;
    return c.html(stepUpPage({ rd, email: found.user.email, hasPasskey, passkeys: passkeys !== undefined }));
  })

  .post('/login', async (c) => {
    const { config } = c.var.deps;
    const form = await formFields(c);
    const rd = returnUrl(c, form.rd);
    const fresh = form.fresh === '1';
    const { device, addressRetryInMs } = await attemptLogin(
      c,
      { email: form.email, code: form.code, deviceType: deviceLabelFromUserAgent(c.req.header('user-agent')) },
      fresh,
    );
    if (!device) {
      const email = typeof form.email === 'string' ? form.email.slice(0, 254) : undefined;
      const passkeys = c.var.deps.passkeys !== undefined;
      if (addressRetryInMs !== undefined) {
        c.header('Retry-After', String(Math.ceil(addressRetryInMs / 1000)));
        return c.html(loginPage({ rd, email, error: addressThrottledMessage(addressRetryInMs), passkeys, fresh }), 429);
      }
      return c.html(loginPage({ rd, email, error: GENERIC_LOGIN_ERROR, passkeys, fresh }), 401);
    }
    return c.redirect(rd ?? config.landingUrl, 303);
  })

  // The reference's JSON API. Every failure is the same 401 body.
  .post('/device/add', async (c) => {
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(c.var.body));
    } catch {
      body = undefined;
    }
    const fields = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
    const { device } = await attemptLogin(c, {
      email: fields.email,
      code: fields.device_registration_code,
      deviceType: fields.device_type,
    });
    if (!device) return jsonAnswer(c, errorBody('loginFailed'), 401);
    return jsonAnswer(c, OK_BODY, 200);
  })

  .post('/logout', async (c) => {
    const { devices, config } = c.var.deps;
    const form = await formFields(c);
    if (await devices.logout(deviceOf(c))) {
      c.var.deps.logger.info({ event: 'device.revoked', by: 'logout', client: clientOf(c).address }, 'signed out');
    }
    clearDeviceCookies(c, config);
    if ((c.req.header('accept') ?? '').includes('application/json')) return jsonAnswer(c, OK_BODY, 200);
    return c.redirect(returnUrl(c, form.rd ?? c.req.queries('rd')) ?? `${config.publicUrl}${SIGNED_OUT_PATH}`, 303);
  })

  .get('/logout', (c) =>
    c.html(messagePage('Sign out', 'Use the Sign out button on the home page; signing out needs a POST request.'), 405, { Allow: 'POST' }),
  );
