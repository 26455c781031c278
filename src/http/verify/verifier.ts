// The one seam of GET /verify/<service>: a request (however it arrived) in, an answer out. The decision comes from
// the core; the caller's style renders it; a failure anywhere is a logged 503, never a pass. Synchronous for warm
// answers (a few map look-ups), a promise only when the database must be asked, under a deadline.
import { isSpace, readDeviceCookies } from '../../core/cookies.js';
import type { VerifyOutcome } from '../../core/decisions.js';
import type { FactNeeds, RequestFacts } from '../../core/rules.js';
import type { AppDeps } from '../context.js';
import { withDeadline } from '../deadline.js';
import { trustList } from '../forwarded.js';
import { pageHeaders } from '../page-headers.js';
import { type Answer, allowAnswer, errorAnswer, PUBLIC_ANSWER, UNAVAILABLE } from './answer.js';
import { credentialProblem, credentialWarnings } from './credential-warnings.js';
import type { VerifyRequest } from './request.js';
import { styleOf } from './styles/index.js';
import type { ProxyStyle, StyleContext } from './styles/style.js';

/**
 * The caller's credential: a bearer token or X-Service-Token. Anything repeated, two different tokens, or a
 * malformed Authorization header is no credential at all.
 */
function readCredential(authorization: readonly string[], serviceToken: readonly string[]): string | undefined {
  if (authorization.length > 1 || serviceToken.length > 1) return undefined;
  let bearer: string | undefined;
  if (authorization.length === 1) {
    bearer = bearerToken((authorization[0] as string).trim());
    if (bearer === undefined) return undefined;
  }
  const header = serviceToken[0]?.trim();
  if (header !== undefined && (header === '' || header.includes(','))) return undefined;
  if (bearer !== undefined && header !== undefined && bearer !== header) return undefined;
  return bearer ?? header;
}

/** `Bearer <token>` (scheme in any case, one space) → the token: one or more characters, no white space or comma. */
function bearerToken(value: string): string | undefined {
  if (value.length < 8 || value.charCodeAt(6) !== 0x20 || value.slice(0, 6).toLowerCase() !== 'bearer') return undefined;
  for (let i = 7; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x2c || c <= 0x20 || (c >= 0x7f && c <= 0xa0) || isSpace(c)) return undefined;
  }
  return value.slice(7);
}

export type Verifier = (req: VerifyRequest) => Answer | Promise<Answer>;

export function createVerifier(deps: Pick<AppDeps, 'access' | 'config' | 'logger' | 'metrics'>): Verifier {
  const { access, config, logger, metrics } = deps;
  const ctx: StyleContext = { config, trusted: trustList(config.trustedProxies), pageHeaders: pageHeaders(config) };
  const debug = logger.isLevelEnabled('debug');
  // Each style's reader of what rules match on, bound once (the warm path allocates no closure per request).
  const factReaders = new Map<ProxyStyle, (req: VerifyRequest, needs: FactNeeds) => RequestFacts>();
  const readerOf = (style: ProxyStyle) => {
    let read = factReaders.get(style);
    if (read === undefined) {
      read = (req: VerifyRequest, needs: FactNeeds) => style.facts(req, ctx, needs);
      factReaders.set(style, read);
    }
    return read;
  };

  const warnCredential = credentialWarnings(logger);

  function render(req: VerifyRequest, style: ProxyStyle, outcome: VerifyOutcome, credential: string | undefined): Answer {
    switch (outcome.kind) {
      case 'allow':
        return allowAnswer(outcome.identity);
      case 'bad-credential':
        warnCredential(req, credentialProblem(req, credential));
        return style.badCredential?.(req, ctx) ?? errorAnswer('badServiceCredential');
      case 'unauthenticated':
        return style.unauthenticated(req, ctx);
      case 'public':
        return PUBLIC_ANSWER;
      case 'step-up':
        return style.signInAgain(req, 'step-up', ctx);
      case 'fresh-sign-in':
        return style.signInAgain(req, 'fresh', ctx);
      default:
        return style.forbidden(req, outcome, ctx);
    }
  }

  /** Every answer leaves through here: one request line at debug level, from the one seam. */
  function finish(req: VerifyRequest, a: Answer, started: number): Answer {
    if (debug) {
      const ms = Math.round((performance.now() - started) * 10) / 10;
      logger.debug({ method: 'GET', path: req.url.split('?', 1)[0], status: a.status, ms }, 'request');
    }
    return a;
  }

  function failed(req: VerifyRequest, err: unknown, started: number): Answer {
    metrics?.verified('error', started);
    logger.error({ err, path: req.url.split('?', 1)[0] }, 'verify failed');
    return finish(req, UNAVAILABLE, started);
  }

  function decided(req: VerifyRequest, style: ProxyStyle, outcome: VerifyOutcome, credential: string | undefined, started: number): Answer {
    metrics?.verified(outcome.kind, started);
    // A refusal by a rule names the rule, so "why was I refused" has an answer in the audit log.
    if (outcome.kind === 'denied') {
      logger.info({ event: 'access.denied', service: req.service, rule: outcome.rule, email: outcome.email }, 'refused by an access rule');
    }
    return finish(req, render(req, style, outcome, credential), started);
  }

  return function verify(req) {
    const started = performance.now();
    try {
      const style = styleOf(req.url);
      if (style === undefined) return finish(req, errorAnswer('unknownProxyStyle'), started);
      const credential = readCredential(req.authorization, req.serviceToken);
      const device = readDeviceCookies(req.cookie.length === 1 ? req.cookie[0] : req.cookie.join('; '));
      const outcome = access.verify(req.service, credential, device, req, readerOf(style));
      if (!(outcome instanceof Promise)) return decided(req, style, outcome, credential, started);
      return withDeadline(outcome, config.verifyDeadlineInMs)
        .then((o) => decided(req, style, o, credential, started))
        .catch((err: unknown) => failed(req, err, started));
    } catch (err) {
      return failed(req, err, started);
    }
  };
}
