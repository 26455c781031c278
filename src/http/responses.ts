// What the routes answer: every JSON error in one table, in the reference's shape ({"status code": N, "error":
// ...}, the status sent always the one in the body), JSON answers, a ceremony's first step, the account page and
// the ways to the login page.
import type { Context } from 'hono';
import type { Ceremony } from '../core/passkeys.js';
import { accountView } from '../views/account.js';
import type { AppContext, SignedIn } from './context.js';
import { setChallengeCookie } from './passkey-input.js';

export const ERRORS = {
  // The reference's answers (direct callers of /verify, and /device/add).
  loginFailed: { status: 401, error: 'Invalid email or password' },
  badServiceCredential: { status: 401, error: 'Could not verify service' },
  unauthenticated: { status: 404, error: 'Not Found' },
  unknownService: { status: 404, error: 'Service Not Found!' },
  forbidden: { status: 401, error: 'User does not have access to this service' },
  // What proxies get (`?proxy=`): they understand 401 and 403 only.
  signInRequired: { status: 401, error: 'Not signed in' },
  noAccess: { status: 403, error: 'User does not have access to this service' },
  unknownServiceForProxy: { status: 403, error: 'Service Not Found!' },
  unknownProxyStyle: { status: 400, error: 'Unknown proxy style' },
  // Access rules.
  passkeyRequired: { status: 401, error: 'This page needs a sign-in with a passkey' },
  freshSignInRequired: { status: 401, error: 'This page needs a recent sign-in' },
  closedByRule: { status: 403, error: 'This address is closed' },
  // Everything else.
  badRequest: { status: 400, error: 'Bad Request' },
  bodyTimeout: { status: 408, error: 'Request body not received in time' },
  tooLarge: { status: 413, error: 'Request body too large' },
  notFound: { status: 404, error: 'Not Found' },
  unavailable: { status: 503, error: 'Service temporarily unavailable' },
  unauthorized: { status: 401, error: 'Unauthorized' },
  // Passkeys and invites (JSON for the page script).
  passkeyRefused: { status: 401, error: 'That passkey was not accepted. Please try again.' },
  passkeyDuplicate: { status: 409, error: 'This passkey is registered already.' },
  passkeyUnusable: { status: 400, error: 'This passkey cannot be used: its key or id is not valid. Please try another authenticator.' },
  inviteInvalid: { status: 404, error: 'This invite link cannot be used.' },
  tooManyAttempts: { status: 429, error: 'Too many attempts. Please wait a few minutes and try again.' },
  signInRequiredJson: { status: 401, error: 'Please sign in again.' },
} as const satisfies Record<string, { status: number; error: string }>;

export type ErrorName = keyof typeof ERRORS;

/** The exact bytes of an error body. */
export function errorBody(name: ErrorName): string {
  const { status, error } = ERRORS[name];
  return JSON.stringify({ 'status code': status, error });
}

export const OK_BODY = JSON.stringify({ 'status code': 200, status: 'ok' });

/** A success for the page script: where the browser goes next. */
export const redirectBody = (to: string) => JSON.stringify({ 'status code': 200, status: 'ok', redirect: to });

/** Where the browser goes once this device is signed out: the login page, saying so. */
export const SIGNED_OUT_PATH = '/login?signed_out=1';

export function jsonAnswer(c: Context, body: string, status: number) {
  return c.body(body, status as 200, { 'Content-Type': 'application/json' });
}

export const jsonError = (c: Context, name: ErrorName) => jsonAnswer(c, errorBody(name), ERRORS[name].status);

/**
 * The answer to a ceremony's first step: its options, with the cookie that binds its challenge to this browser;
 * or 429 (and a warning) when this address has started too many ceremonies.
 */
export function ceremonyAnswer(
  c: AppContext,
  ceremony: Ceremony<unknown> | undefined,
  purpose: 'sign-in' | 'register' | 'enroll',
  client: { address: string | undefined },
) {
  const { config, logger } = c.var.deps;
  if (!ceremony) {
    logger.warn({ event: 'passkey.throttled', purpose, client: client.address }, 'too many passkey ceremonies');
    return jsonError(c, 'tooManyAttempts');
  }
  setChallengeCookie(c, config, ceremony.handle);
  return jsonAnswer(c, JSON.stringify(ceremony.options), 200);
}

/** The login page, with `query` before the return address: `path` on this service's PUBLIC_URL. */
const loginBackTo = (c: AppContext, path: string, query = '') =>
  `/login?${query}rd=${encodeURIComponent(`${c.var.deps.config.publicUrl}${path}`)}`;

/**
 * The fresh sign-in that renews this device (a code or a passkey, as a `recent:N` rule asks), then back to this
 * page if it is one (a GET), else to the account page.
 */
export const toFreshSignIn = (c: AppContext): string => loginBackTo(c, c.req.method === 'GET' ? c.req.path : '/login/account', 'fresh=1&');

/** The way to sign in and come back to the account page. */
export const toLogin = (c: AppContext) => c.redirect(loginBackTo(c, '/login/account'), 303);

/** The account page for `me`; passkeys and the authenticator app are read fresh, since `me` may come from the cache. */
export async function accountAnswer(c: AppContext, me: SignedIn, notice?: string, status: 200 | 400 | 409 = 200) {
  const { deps } = c.var;
  const [devices, state] = await Promise.all([deps.devices.of(me.user.id), deps.passkeyAccount.state(me.user.id)]);
  const page = accountView({
    email: me.user.email,
    devices,
    currentDeviceId: me.device.id,
    state,
    passkeysOn: deps.passkeys !== undefined,
    landingUrl: deps.config.landingUrl,
    notice,
  });
  return c.html(page, status);
}
