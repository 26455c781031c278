// The page an invite link opens, /login/enroll/<token>: create a passkey there, or set up an authenticator app
// (QR code and secret on the page, confirmed by a first code). Either way the browser ends signed in as a new
// device. Every token that cannot be used (malformed, unknown, expired, used, voided) gets the same answer.
import { Hono } from 'hono';
import * as v from 'valibot';
import { deviceLabelFromUserAgent } from '../core/identity.js';
import type { OpenInvite } from '../core/invites.js';
import { totpSetup } from '../views/authenticator.js';
import { messagePage } from '../views/pages.js';
import { enrollPage } from '../views/passkeys.js';
import type { AppContext, AppEnv } from './context.js';
import { setDeviceCookies } from './device-cookies.js';
import { requirePasskeys } from './guards.js';
import { auditLogin, type LoginOutcome } from './login-audit.js';
import { clearChallengeCookie, jsonBody, passkeyName, RegisterBody, readChallengeCookie } from './passkey-input.js';
import { clientOf, formFields, returnUrl } from './request.js';
import { ceremonyAnswer, jsonAnswer, jsonError, redirectBody } from './responses.js';

const INVALID_TITLE = 'This link cannot be used';
const INVALID_TEXT = 'It may have expired, been used already, or been replaced by a newer invite. Ask whoever sent it for a new one.';
const invalidPage = (c: AppContext) => c.html(messagePage(INVALID_TITLE, INVALID_TEXT), 404);

const CodeForm = v.strictObject({
  code: v.pipe(v.string(), v.maxLength(32)),
  rd: v.optional(v.pipe(v.string(), v.maxLength(2048))),
});

async function render(c: AppContext, found: OpenInvite, rd: string | undefined, error?: string, status: 200 | 401 | 429 = 200) {
  const totp = found.totp && (await totpSetup(found.totp.secret, found.totp.uri));
  const path = `/login/enroll/${c.req.param('token')}`;
  const page = enrollPage({
    email: found.user.email,
    path,
    expiresAt: found.invite.expiresAt,
    totp,
    passkeys: c.var.deps.passkeys !== undefined,
    passkeyOnly: found.user.passkeyOnly,
    rd,
    error,
  });
  return c.html(page, status);
}

/** The audit line of a redemption (never the token, the secret or the code). */
function audit(c: AppContext, method: 'totp' | 'passkey', result: LoginOutcome) {
  auditLogin(c, { kind: 'invite', method, client: clientOf(c).address }, result);
}

export const enrollRoutes = new Hono<AppEnv>()
  .get('/login/enroll/:token', async (c) => {
    const found = await c.var.deps.invites.open(c.req.param('token'));
    if (!found) {
      audit(c, 'totp', { ok: false, reason: 'invalid' });
      return invalidPage(c);
    }
    return render(c, found, returnUrl(c, c.req.queries('rd')));
  })

  .post('/login/enroll/:token', async (c) => {
    const { invites, config } = c.var.deps;
    const form = v.safeParse(CodeForm, await formFields(c));
    if (!form.success) {
      audit(c, 'totp', { ok: false, reason: 'malformed' });
      return c.html(messagePage('Bad request', 'The form was not filled in as expected. Please go back and try again.'), 400);
    }
    const rd = returnUrl(c, form.output.rd);
    const token = c.req.param('token');
    const result = await invites.redeemWithCode(
      { token, code: form.output.code, deviceType: deviceLabelFromUserAgent(c.req.header('user-agent')), client: clientOf(c).key },
      c.var.deadline,
    );
    audit(c, 'totp', result);
    if (result.ok) {
      setDeviceCookies(c, config, result.device);
      return c.redirect(rd ?? config.landingUrl, 303);
    }
    if (result.reason === 'throttled') {
      return c.html(messagePage('Too many attempts', 'Please wait a few minutes, then open the link again.'), 429);
    }
    const found = result.reason === 'wrong-code' ? await invites.open(token) : undefined;
    if (!found) return invalidPage(c);
    return render(c, found, rd, "That code did not match. Check that the app's clock is right and enter the newest code.", 401);
  })

  .post('/login/enroll/:token/passkey/options', requirePasskeys(), async (c) => {
    const { passkeys } = c.var;
    const { invites } = c.var.deps;
    const found = await invites.open(c.req.param('token'));
    if (!found) {
      audit(c, 'passkey', { ok: false, reason: 'invalid' });
      return jsonError(c, 'inviteInvalid');
    }
    const client = clientOf(c);
    return ceremonyAnswer(c, await passkeys.startRegistration(found.user, 'enroll', client.key), 'enroll', client);
  })

  .post('/login/enroll/:token/passkey/verify', requirePasskeys(), async (c) => {
    const { passkeys } = c.var;
    const { invites, config, logger } = c.var.deps;
    clearChallengeCookie(c, config);
    const body = jsonBody(c, RegisterBody);
    if (!body) {
      audit(c, 'passkey', { ok: false, reason: 'malformed' });
      return jsonError(c, 'badRequest');
    }
    const token = c.req.param('token');
    const found = await invites.open(token);
    if (!found) {
      audit(c, 'passkey', { ok: false, reason: 'invalid' });
      return jsonError(c, 'inviteInvalid');
    }
    const client = clientOf(c);
    const deviceType = deviceLabelFromUserAgent(c.req.header('user-agent'));
    const made = await passkeys.finishRegistration({
      handle: readChallengeCookie(c.req.header('cookie')),
      response: body.response,
      user: found.user,
      purpose: 'enroll',
      name: passkeyName(body.name, deviceType),
      client: client.key,
    });
    if (!made.ok) {
      audit(c, 'passkey', { ok: false, reason: made.reason, email: found.user.email });
      if (made.reason === 'unusable') return jsonError(c, 'passkeyUnusable');
      return jsonError(c, made.reason === 'throttled' ? 'tooManyAttempts' : 'passkeyRefused');
    }
    const result = await invites.redeemWithPasskey({ token, passkey: made.passkey, deviceType }, c.var.deadline);
    audit(c, 'passkey', result);
    if (!result.ok) {
      if (result.reason === 'duplicate') return jsonError(c, 'passkeyDuplicate');
      return jsonError(c, result.reason === 'throttled' ? 'tooManyAttempts' : 'inviteInvalid');
    }
    logger.info({ event: 'passkey.added', by: 'invite', email: result.email, client: client.address }, 'passkey added');
    setDeviceCookies(c, config, result.device);
    return jsonAnswer(c, redirectBody(returnUrl(c, body.rd) ?? config.landingUrl), 200);
  });
