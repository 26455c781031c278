// nginx `auth_request`: it understands 2xx, 401 and 403 only (anything else becomes a 500), and never passes the
// body on. The shipped config turns a 401 into a redirect to the `Location` sent here; a 403 is nginx's own page.

import { isTrustedPeer, singleValue } from '../../forwarded.js';
import { errorAnswer } from '../answer.js';
import type { VerifyRequest } from '../request.js';
import { originalUrlFacts } from './facts.js';
import { loginUrl } from './login-url.js';
import type { OriginalRequest, ProxyStyle, StyleContext } from './style.js';

/** `X-Original-URL` and `X-Original-Method`, as the shipped config sets them; only from a trusted proxy. */
export function readOriginal(req: VerifyRequest, { trusted }: StyleContext): OriginalRequest {
  if (!isTrustedPeer(req.peer, trusted)) return { url: undefined, method: 'GET' };
  const method = (singleValue(req.header('x-original-method'), true) ?? 'GET').toUpperCase();
  const url = singleValue(req.header('x-original-url'));
  return { url: url !== undefined && URL.canParse(url) ? url : undefined, method };
}

export const authRequest: ProxyStyle = {
  unauthenticated: (req, ctx) => errorAnswer('signInRequired', { Location: loginUrl(readOriginal(req, ctx), ctx) }),
  forbidden: (_req, denial) =>
    errorAnswer(denial.kind === 'unknown-service' ? 'unknownServiceForProxy' : denial.kind === 'denied' ? 'closedByRule' : 'noAccess'),
  // The shipped config turns any 401 into a redirect to its Location: here the step-up or fresh sign-in page.
  signInAgain: (req, why, ctx) =>
    errorAnswer(why === 'step-up' ? 'passkeyRequired' : 'freshSignInRequired', { Location: loginUrl(readOriginal(req, ctx), ctx, why) }),
  facts: originalUrlFacts,
};
