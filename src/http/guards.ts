// The guards many routes share, as middleware: a signed-in user (`c.var.me`), and passkeys turned on
// (`c.var.passkeys`). Each ends a refusal with its ready answer, so a handler runs only when its guard passed.
import { createMiddleware } from 'hono/factory';
import type { PasskeysEnv, SignedInEnv } from './context.js';
import { signedIn } from './request.js';
import { jsonAnswer, jsonError, toFreshSignIn, toLogin } from './responses.js';

/**
 * Lets only a signed-in user through, as `c.var.me`. Anyone else is sent to sign in (`'page'`: a redirect that
 * comes back to the account page) or told to (`'json'`: 401 for the page script).
 */
export function requireSignedIn(refusal: 'page' | 'json') {
  return createMiddleware<SignedInEnv>(async function requireSignedIn(c, next) {
    const me = await signedIn(c);
    if (!me) return refusal === 'page' ? toLogin(c) : jsonError(c, 'signInRequiredJson');
    c.set('me', me);
    await next();
  });
}

/**
 * After `requireSignedIn`: lets through only a device that signed in within the last few minutes (see
 * `Devices.signedInRecently`), for the changes to how the account signs in. Any other is sent to sign in again
 * (`'page'`: a redirect to the fresh sign-in that renews this device and comes back; `'json'`: 401 with where the
 * page script sends the browser). `toBegin`: the first step of a two-step change, which needs the sign-in in the
 * first half of the window, so that the second step still falls inside it.
 */
export function requireRecentSignIn(refusal: 'page' | 'json', { toBegin = false } = {}) {
  return createMiddleware<SignedInEnv>(async function requireRecentSignIn(c, next) {
    if (!c.var.deps.devices.signedInRecently(c.var.me.device, { toBegin })) {
      const to = toFreshSignIn(c);
      if (refusal === 'page') return c.redirect(to, 303);
      return jsonAnswer(
        c,
        JSON.stringify({ 'status code': 401, error: 'Please sign in again to change how you sign in.', redirect: to }),
        401,
      );
    }
    await next();
  });
}

/** Lets a request through only when passkeys are on (PUBLIC_URL names a host), as `c.var.passkeys`; else 404. */
export function requirePasskeys() {
  return createMiddleware<PasskeysEnv>(async function requirePasskeys(c, next) {
    const { passkeys } = c.var.deps;
    if (!passkeys) return jsonError(c, 'notFound');
    c.set('passkeys', passkeys);
    await next();
  });
}
