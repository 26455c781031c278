// The one audit line (and metric) of every way into an account: a code, a passkey, an invite. Never the code,
// the cookies, the challenge, the token or the secret.
import type { AppContext } from './context.js';

/** What a sign-in or an invite redemption came to, as far as the audit trail is concerned. */
export type LoginOutcome =
  | {
      readonly ok: true;
      readonly email: string;
      readonly deviceType: string;
      readonly passkeyId?: number;
      /** An invite's new authenticator app turned codes on again for a passkey-only account. */
      readonly passkeyOnlyTurnedOff?: boolean;
    }
  | { readonly ok: false; readonly reason: string; readonly email?: string | undefined; readonly passkeyId?: number };

/**
 * Counts the outcome (success, throttled, failure) and logs it: `login.*` events for a sign-in, `invite.*` for
 * an invite's redemption; `method` names a passkey or an invite's authenticator app (a code sign-in has none).
 */
export function auditLogin(
  c: AppContext,
  by: { kind: 'login' | 'invite'; method?: 'totp' | 'passkey' | undefined; client: string | undefined },
  result: LoginOutcome,
): void {
  const { logger, metrics } = c.var.deps;
  const { kind, method, client } = by;
  metrics?.login(result.ok ? 'success' : result.reason === 'throttled' ? 'throttled' : 'failure');
  if (result.ok) {
    const codesOn = result.passkeyOnlyTurnedOff === true;
    const fields = {
      event: kind === 'login' ? 'login.success' : 'invite.redeemed',
      ...(method ? { method } : {}),
      email: result.email,
      ...(result.passkeyId !== undefined ? { passkeyId: result.passkeyId } : {}),
      deviceType: result.deviceType,
      ...(codesOn ? { passkeyOnly: false } : {}),
      client,
    };
    const message =
      kind === 'login'
        ? 'device added'
        : codesOn
          ? 'invite redeemed, device added; passkey-only turned off (the new app signs in with codes)'
          : 'invite redeemed, device added';
    logger.info(fields, message);
    return;
  }
  const fields = { ...(method ? { method } : {}), reason: result.reason, email: result.email ?? null, client, passkeyId: result.passkeyId };
  if (result.reason === 'abandoned') {
    // The request already failed at its deadline: nothing was committed, and the code or invite is still unused.
    logger.warn({ event: `${kind}.abandoned`, ...fields }, `${kind} abandoned at its deadline`);
  } else if (kind === 'invite') {
    logger.warn({ event: result.reason === 'throttled' ? 'invite.throttled' : 'invite.refused', ...fields }, 'invite refused');
  } else {
    logger.warn({ event: result.reason === 'throttled' ? 'login.throttled' : 'login.failure', ...fields }, 'login refused');
  }
}
