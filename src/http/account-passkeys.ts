// The passkeys section of the account page: add a passkey (the page script runs the ceremony), rename, remove,
// and turn code sign-in off or on. Only for the signed-in user, and only their own passkeys.
import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import * as v from 'valibot';
import { deviceLabelFromUserAgent } from '../core/identity.js';
import type { AppContext, AppEnv } from './context.js';
import { requirePasskeys, requireRecentSignIn, requireSignedIn } from './guards.js';
import { clearChallengeCookie, jsonBody, PasskeyName, passkeyName, RegisterBody, readChallengeCookie } from './passkey-input.js';
import { clientOf, formFields } from './request.js';
import { ceremonyAnswer, jsonAnswer, jsonError, redirectBody, accountAnswer as render } from './responses.js';

const PASSKEY_ID = '/:id{[1-9][0-9]{0,8}}';
const RenameForm = v.strictObject({ name: PasskeyName });
const PasskeyOnlyForm = v.strictObject({ passkey_only: v.picklist(['on', 'off']) });

function log(c: AppContext, event: string, email: string, extra: Record<string, unknown>, message: string) {
  c.var.deps.logger.info({ event, by: 'account', email, ...extra, client: clientOf(c).address }, message);
}

/** The challenge is single-use whatever happens next, signed in or not: its cookie goes first. */
const spendChallenge = createMiddleware<AppEnv>(async function spendChallenge(c, next) {
  clearChallengeCookie(c, c.var.deps.config);
  await next();
});

export const accountPasskeyRoutes = new Hono<AppEnv>()
  .post('/login/account/passkeys/options', requirePasskeys(), requireSignedIn('json'), requireRecentSignIn('json'), async (c) => {
    const { passkeys, me } = c.var;
    const client = clientOf(c);
    return ceremonyAnswer(c, await passkeys.startRegistration(me.user, 'register', client.key), 'register', client);
  })

  .post('/login/account/passkeys', requirePasskeys(), spendChallenge, requireSignedIn('json'), requireRecentSignIn('json'), async (c) => {
    const { passkeys, me } = c.var;
    const { logger } = c.var.deps;
    const body = jsonBody(c, RegisterBody);
    const client = clientOf(c);
    if (!body) {
      logger.warn(
        { event: 'passkey.refused', by: 'account', reason: 'malformed', email: me.user.email, client: client.address },
        'passkey refused',
      );
      return jsonError(c, 'badRequest');
    }
    const deviceType = deviceLabelFromUserAgent(c.req.header('user-agent'));
    const made = await passkeys.finishRegistration({
      handle: readChallengeCookie(c.req.header('cookie')),
      response: body.response,
      user: me.user,
      purpose: 'register',
      name: passkeyName(body.name, deviceType),
      client: client.key,
    });
    const added = made.ok ? await passkeys.add(made.passkey) : made;
    if (!added.ok) {
      logger.warn(
        { event: 'passkey.refused', by: 'account', reason: added.reason, email: me.user.email, client: client.address },
        'passkey refused',
      );
      if (added.reason === 'duplicate') return jsonError(c, 'passkeyDuplicate');
      if (added.reason === 'unusable') return jsonError(c, 'passkeyUnusable');
      return jsonError(c, added.reason === 'throttled' ? 'tooManyAttempts' : 'passkeyRefused');
    }
    log(c, 'passkey.added', me.user.email, { passkeyId: added.passkey.id }, 'passkey added');
    // No fragment: a change of fragment alone would not reload the page.
    return jsonAnswer(c, redirectBody('/login/account'), 200);
  })

  .post(`/login/account/passkeys${PASSKEY_ID}/rename`, requireSignedIn('page'), async (c) => {
    const { me } = c.var;
    const form = v.safeParse(RenameForm, await formFields(c));
    if (!form.success) return render(c, me, 'Give the passkey a name of 1 to 64 characters.', 400);
    const id = Number(c.req.param('id'));
    const renamed = await c.var.deps.passkeyAccount.rename(me.user.id, id, form.output.name);
    if (renamed) log(c, 'passkey.renamed', me.user.email, { passkeyId: id }, 'passkey renamed');
    return render(c, me, renamed ? 'The passkey was renamed.' : 'No such passkey.');
  })

  .post(`/login/account/passkeys${PASSKEY_ID}/remove`, requireSignedIn('page'), requireRecentSignIn('page'), async (c) => {
    const { me } = c.var;
    const id = Number(c.req.param('id'));
    const { passkeyAccount, logger } = c.var.deps;
    const removed = await passkeyAccount.remove(me.user.id, id);
    if (removed === 'removed') log(c, 'passkey.removed', me.user.email, { passkeyId: id }, 'passkey removed');
    if (removed === 'last') {
      const { passkeyOnly, hasTotp } = await passkeyAccount.state(me.user.id);
      logger.warn(
        {
          event: 'passkey.refused',
          by: 'account',
          reason: 'last-way-in',
          passkeyId: id,
          email: me.user.email,
          client: clientOf(c).address,
        },
        'passkey removal refused: the account would have no way to sign in',
      );
      const why =
        passkeyOnly && hasTotp
          ? 'This is your only passkey and codes are turned off: allow codes again first, or add another passkey.'
          : 'This is your only passkey, and this account cannot sign in with codes: add another passkey or an authenticator app first.';
      return render(c, me, why, 409);
    }
    return render(c, me, removed === 'removed' ? 'The passkey was removed; it cannot sign in any more.' : 'No such passkey.');
  })

  .post('/login/account/passkey-only', requireSignedIn('page'), requireRecentSignIn('page'), async (c) => {
    const { me } = c.var;
    const form = v.safeParse(PasskeyOnlyForm, await formFields(c));
    if (!form.success) return render(c, me, 'Please use the button on this page.', 400);
    const on = form.output.passkey_only === 'on';
    if (on && !(await c.var.deps.passkeyAccount.state(me.user.id)).hasTotp) {
      return render(c, me, 'This account has no authenticator app: it signs in with passkeys only already.');
    }
    const done = await c.var.deps.passkeyAccount.setPasskeyOnly(me.user.id, on);
    if (done === 'no-passkey') {
      c.var.deps.logger.warn(
        {
          event: 'account.passkey-only',
          by: 'account',
          refused: true,
          reason: 'no-passkey',
          email: me.user.email,
          client: clientOf(c).address,
        },
        'passkey-only refused: the account has no passkey',
      );
      return render(c, me, 'Add a passkey first: without one you could not sign in.', 409);
    }
    log(c, 'account.passkey-only', me.user.email, { passkeyOnly: on }, on ? 'codes turned off' : 'codes allowed again');
    return render(c, me, on ? 'Codes are turned off: sign in with a passkey from now on.' : 'Codes are allowed again.');
  });
