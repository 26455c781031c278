// The operator's clue when a proxy asks /verify without a usable credential (the proxy token unset, or a typo):
// a warning naming the proxy style, the peer and what was wrong, never the value. At most one line per
// (style, peer, reason) a minute, so a misconfigured proxy under load cannot flood the log; the next line says
// how many were left out.
import type { Logger } from 'pino';
import type { VerifyRequest } from './request.js';

const INTERVAL_IN_MS = 60_000;
/** Distinct (style, peer, reason) keys remembered; past this the memory starts over. */
const MAX_KEYS = 1_000;

export type CredentialProblem = 'missing' | 'malformed' | 'unknown';

const WHAT: Record<CredentialProblem, string> = {
  missing: 'no credential (neither X-Service-Token nor Authorization: Bearer)',
  malformed: 'a malformed or repeated credential header',
  unknown: 'a token that is neither a service token nor a proxy token in this database',
};

export function credentialProblem(req: VerifyRequest, credential: string | undefined): CredentialProblem {
  if (credential !== undefined) return 'unknown';
  return req.authorization.length + req.serviceToken.length === 0 ? 'missing' : 'malformed';
}

/** The `?proxy=` style named in a /verify URL, for the log (`direct` without one). */
function styleName(url: string): string {
  const q = url.indexOf('?');
  const name = q < 0 ? undefined : new URLSearchParams(url.slice(q + 1)).get('proxy');
  return name === null || name === undefined ? 'direct' : name.slice(0, 32);
}

export function credentialWarnings(logger: Logger, now: () => number = () => performance.now()) {
  const last = new Map<string, { at: number; suppressed: number }>();
  return function warn(req: VerifyRequest, problem: CredentialProblem): void {
    const proxy = styleName(req.url);
    const key = `${proxy}\u0000${req.peer ?? ''}\u0000${problem}`;
    const t = now();
    const seen = last.get(key);
    if (seen !== undefined && t - seen.at < INTERVAL_IN_MS) {
      seen.suppressed++;
      return;
    }
    if (seen === undefined && last.size >= MAX_KEYS) last.clear();
    last.set(key, { at: t, suppressed: 0 });
    logger.warn(
      {
        event: 'verify.bad-credential',
        proxy,
        peer: req.peer ?? null,
        problem,
        ...(seen?.suppressed ? { suppressed: seen.suppressed } : {}),
      },
      `caller credential refused: ${WHAT[problem]}; check the token the ${proxy === 'direct' ? 'caller' : `${proxy} proxy`} sends`,
    );
  };
}
