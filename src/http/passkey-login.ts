// Signing in with a passkey: the options (a challenge bound to this browser by a cookie), the check of the
// assertion, and the two scripts the pages load from this origin (@simplewebauthn/browser's bundle and ours).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type Context, Hono } from 'hono';
import { readDeviceCookies } from '../core/cookies.js';
import { deviceLabelFromUserAgent } from '../core/identity.js';
import type { PasskeySignInResult } from '../core/passkeys.js';
import { PASSKEYS_SCRIPT, PASSKEYS_SCRIPT_PATH, WEBAUTHN_SCRIPT_PATH } from '../views/passkeys-script.js';
import type { AppContext, AppEnv } from './context.js';
import { setDeviceCookies } from './device-cookies.js';
import { requirePasskeys } from './guards.js';
import { auditLogin } from './login-audit.js';
import { clearChallengeCookie, jsonBody, readChallengeCookie, SignInBody } from './passkey-input.js';
import { clientOf, returnUrl } from './request.js';
import { ceremonyAnswer, jsonAnswer, jsonError, redirectBody } from './responses.js';

let bundle: string | undefined;
/** @simplewebauthn/browser's UMD bundle, read once (its package exports no path to it, so from its main file). */
function browserBundle(): string {
  const main = createRequire(import.meta.url).resolve('@simplewebauthn/browser');
  bundle ??= readFileSync(join(dirname(main), '../dist/bundle/index.umd.min.js'), 'utf8');
  return bundle;
}

const script = (c: Context, text: string) => c.body(text, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });

/** The audit line of a passkey sign-in, after a warning when its counter went backwards. */
function audit(c: AppContext, result: PasskeySignInResult | { ok: false; reason: 'malformed' }, client: string | undefined) {
  if (!result.ok && result.reason === 'counter') {
    c.var.deps.logger.warn(
      { event: 'passkey.counter', email: result.email ?? null, passkeyId: result.passkeyId, client },
      'passkey counter went backwards: possibly a cloned authenticator',
    );
  }
  auditLogin(c, { kind: 'login', method: 'passkey', client }, result);
}

export const passkeyLoginRoutes = new Hono<AppEnv>()
  .get(WEBAUTHN_SCRIPT_PATH, (c) => script(c, browserBundle()))
  .get(PASSKEYS_SCRIPT_PATH, (c) => script(c, PASSKEYS_SCRIPT))

  .post('/login/passkey/options', requirePasskeys(), async (c) => {
    const { passkeys } = c.var;
    const client = clientOf(c);
    return ceremonyAnswer(c, await passkeys.startSignIn(client.key), 'sign-in', client);
  })

  .post('/login/passkey/verify', requirePasskeys(), async (c) => {
    const { passkeys } = c.var;
    const { config, devices } = c.var.deps;
    const client = clientOf(c);
    // A signed-in device (a step-up for a `passkey` rule, a fresh sign-in) is renewed and keeps its cookies.
    const credential = readDeviceCookies(c.req.header('cookie'));
    const signedIn = await devices.authenticate(credential);
    const renew = signedIn && credential ? { ...credential, userId: signedIn.user.id } : undefined;
    // The challenge is single-use whatever happens next; the cookie goes too.
    clearChallengeCookie(c, config);
    const body = jsonBody(c, SignInBody);
    if (!body) {
      audit(c, { ok: false, reason: 'malformed' }, client.address);
      return jsonError(c, 'badRequest');
    }
    const result = await passkeys.finishSignIn(
      {
        handle: readChallengeCookie(c.req.header('cookie')),
        response: body.response,
        deviceType: deviceLabelFromUserAgent(c.req.header('user-agent')),
        client: client.key,
        renew,
      },
      c.var.deadline,
    );
    audit(c, result, client.address);
    if (!result.ok) return jsonError(c, result.reason === 'throttled' ? 'tooManyAttempts' : 'passkeyRefused');
    setDeviceCookies(c, config, result.device);
    return jsonAnswer(c, redirectBody(returnUrl(c, body.rd) ?? config.landingUrl), 200);
  });
