// The self-service page, under /login/ so the proxies route it with the login pages: a signed-in user sees
// their devices, signs any of them out, or all of them.
import { type Context, Hono } from 'hono';
import * as v from 'valibot';
import { readDeviceCookies } from '../core/cookies.js';
import { accountAuthenticator } from '../views/authenticator.js';
import { accountPage } from '../views/pages.js';
import { accountPasskeys } from '../views/passkeys.js';
import type { AppEnv } from './context.js';
import { clearDeviceCookies } from './device-cookies.js';
import { clientOf, formFields, SIGNED_OUT_PATH } from './login.js';
import { PasskeyName } from './passkey-input.js';

const RenameForm = v.strictObject({ name: PasskeyName });

export async function signedIn(c: Context<AppEnv>) {
  return c.var.deps.devices.authenticate(readDeviceCookies(c.req.header('cookie')));
}

type Me = NonNullable<Awaited<ReturnType<typeof signedIn>>>;

/** The account page for `me`; passkeys and the authenticator app are read fresh, since `me` may come from the cache. */
export async function render(c: Context<AppEnv>, me: Me, notice?: string, status: 200 | 400 | 409 = 200) {
  const { deps } = c.var;
  const [found, state] = await Promise.all([deps.devices.of(me.user.id), deps.passkeyAccount.state(me.user.id)]);
  const devices = found.map((d) => ({ ...d, current: d.id === me.device.id }));
  const page = accountPage({
    email: me.user.email,
    devices,
    notice,
    passkeys: deps.passkeys ? accountPasskeys(state) : undefined,
    authenticator: accountAuthenticator({ hasTotp: state.hasTotp, passkeyCount: state.passkeys.length, passkeyOnly: state.passkeyOnly }),
    landingUrl: deps.config.landingUrl,
  });
  return c.html(page, status);
}

export const toLogin = (c: Context<AppEnv>) =>
  c.redirect(`/login?rd=${encodeURIComponent(`${c.var.deps.config.publicUrl}/login/account`)}`, 303);

export const accountRoutes = new Hono<AppEnv>()
  .get('/login/account', async (c) => {
    const me = await signedIn(c);
    if (!me) return toLogin(c);
    return render(c, me);
  })
  .post('/login/account/devices/:ref/revoke', async (c) => {
    const me = await signedIn(c);
    if (!me) return toLogin(c);
    const { devices, logger } = c.var.deps;
    const revoked = await devices.revokeOwn(me.user.id, c.req.param('ref'));
    if (revoked)
      logger.info(
        { event: 'device.revoked', by: 'account', email: me.user.email, client: clientOf(c).address },
        'device signed out from the account page',
      );
    if (revoked?.id === me.device.id) {
      clearDeviceCookies(c, c.var.deps.config);
      return c.redirect(SIGNED_OUT_PATH, 303);
    }
    return render(c, me, revoked ? 'The device was signed out.' : 'No such device.');
  })
  .post('/login/account/devices/:ref/rename', async (c) => {
    const me = await signedIn(c);
    if (!me) return toLogin(c);
    const form = v.safeParse(RenameForm, await formFields(c));
    if (!form.success) return render(c, me, 'Give the device a name of 1 to 64 characters.', 400);
    const renamed = await c.var.deps.devices.renameOwn(me.user.id, c.req.param('ref'), form.output.name);
    return render(c, me, renamed ? 'The device was renamed.' : 'No such device.');
  })
  .post('/login/account/sign-out-everywhere', async (c) => {
    const me = await signedIn(c);
    if (!me) return toLogin(c);
    const n = await c.var.deps.devices.revokeAll(me.user.id);
    c.var.deps.logger.info(
      { event: 'device.revoked', by: 'account-everywhere', email: me.user.email, count: n, client: clientOf(c).address },
      'signed out everywhere',
    );
    clearDeviceCookies(c, c.var.deps.config);
    return c.redirect(SIGNED_OUT_PATH, 303);
  });
