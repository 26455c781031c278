// The authenticator-app part of the account page: a signed-in user without one sets one up (the enrolment page's
// QR code, key and first code), and one with a passkey can remove it.
import { Hono } from 'hono';
import * as v from 'valibot';
import { addAuthenticatorPage, totpSetup } from '../views/authenticator.js';
import type { AppEnv } from './context.js';
import { requireRecentSignIn, requireSignedIn } from './guards.js';
import { clientOf, formFields } from './request.js';
import { accountAnswer as render } from './responses.js';

const ConfirmForm = v.strictObject({
  offer: v.pipe(v.string(), v.maxLength(512)),
  code: v.pipe(v.string(), v.maxLength(32)),
});

export const accountAuthenticatorRoutes = new Hono<AppEnv>()
  .get('/login/account/authenticator', requireSignedIn('page'), requireRecentSignIn('page', { toBegin: true }), async (c) => {
    const { me } = c.var;
    const { passkeyAccount, authenticatorApp } = c.var.deps;
    if ((await passkeyAccount.state(me.user.id)).hasTotp) return render(c, me, 'This account has an authenticator app already.');
    const offer = authenticatorApp.offer(me.user);
    return c.html(addAuthenticatorPage({ email: me.user.email, totp: await totpSetup(offer.secret, offer.uri), sealed: offer.sealed }));
  })

  .post('/login/account/authenticator', requireSignedIn('page'), requireRecentSignIn('page'), async (c) => {
    const { me } = c.var;
    const { authenticatorApp, logger } = c.var.deps;
    const form = v.safeParse(ConfirmForm, await formFields(c));
    const offer = form.success ? authenticatorApp.reopen(me.user, form.output.offer) : undefined;
    if (!form.success || !offer) return render(c, me, 'Please start again with the button on this page.', 400);
    const done = await authenticatorApp.confirm(me.user, offer, form.output.code);
    if (done === 'wrong-code') {
      const page = addAuthenticatorPage({
        email: me.user.email,
        totp: await totpSetup(offer.secret, offer.uri),
        sealed: offer.sealed,
        error: "That code did not match. Check that the app's clock is right and enter the newest code.",
      });
      return c.html(page, 400);
    }
    if (done === 'added') {
      logger.info({ event: 'totp.added', by: 'account', email: me.user.email, client: clientOf(c).address }, 'authenticator app added');
    }
    return render(
      c,
      me,
      done === 'added'
        ? 'The authenticator app is set up: you can sign in with its codes.'
        : 'This account has an authenticator app already.',
    );
  })

  .post('/login/account/authenticator/remove', requireSignedIn('page'), requireRecentSignIn('page'), async (c) => {
    const { me } = c.var;
    const removed = await c.var.deps.authenticatorApp.remove(me.user.id);
    if (removed === 'removed') {
      c.var.deps.logger.info(
        { event: 'totp.removed', by: 'account', email: me.user.email, client: clientOf(c).address },
        'authenticator app removed',
      );
    } else if (removed === 'no-passkey') {
      c.var.deps.logger.warn(
        { event: 'totp.removed', by: 'account', refused: true, reason: 'last-way-in', email: me.user.email, client: clientOf(c).address },
        'authenticator app removal refused: the account would have no way to sign in',
      );
    }
    const notice = {
      removed: 'The authenticator app was removed: its codes no longer sign in. Sign in with a passkey.',
      none: 'This account has no authenticator app.',
      'no-passkey': 'Add a passkey first: without it or the app you could not sign in.',
    }[removed];
    return render(c, me, notice, removed === 'no-passkey' ? 409 : 200);
  });
