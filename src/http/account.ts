// The self-service page, under /login/ so the proxies route it with the login pages: a signed-in user sees
// their devices, signs any of them out, or all of them.
import { Hono } from 'hono';
import * as v from 'valibot';
import type { AppEnv } from './context.js';
import { clearDeviceCookies } from './device-cookies.js';
import { requireSignedIn } from './guards.js';
import { PasskeyName } from './passkey-input.js';
import { clientOf, formFields } from './request.js';
import { accountAnswer as render, SIGNED_OUT_PATH } from './responses.js';

const RenameForm = v.strictObject({ name: PasskeyName });

export const accountRoutes = new Hono<AppEnv>()
  .get('/login/account', requireSignedIn('page'), (c) => render(c, c.var.me))
  .post('/login/account/devices/:ref/revoke', requireSignedIn('page'), async (c) => {
    const { me } = c.var;
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
  .post('/login/account/devices/:ref/rename', requireSignedIn('page'), async (c) => {
    const { me } = c.var;
    const form = v.safeParse(RenameForm, await formFields(c));
    if (!form.success) return render(c, me, 'Give the device a name of 1 to 64 characters.', 400);
    const renamed = await c.var.deps.devices.renameOwn(me.user.id, c.req.param('ref'), form.output.name);
    return render(c, me, renamed ? 'The device was renamed.' : 'No such device.');
  })
  .post('/login/account/sign-out-everywhere', requireSignedIn('page'), async (c) => {
    const { me } = c.var;
    const n = await c.var.deps.devices.revokeAll(me.user.id);
    c.var.deps.logger.info(
      { event: 'device.revoked', by: 'account-everywhere', email: me.user.email, count: n, client: clientOf(c).address },
      'signed out everywhere',
    );
    clearDeviceCookies(c, c.var.deps.config);
    return c.redirect(SIGNED_OUT_PATH, 303);
  });
