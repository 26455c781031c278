// Rule: every way into an account ends in exactly one audit line named for what it was (`login.*` or `invite.*`)
// and how it ended; one abandoned at its deadline says so (`login.abandoned`, `invite.abandoned`), never as a
// refusal or a failure: nothing was guessed wrong (examples/fail2ban counts `login.failure` lines as guesses).
import { describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/http/context.js';
import { auditLogin, type LoginOutcome } from '../../src/http/login-audit.js';
import { createLogger } from '../../src/logging.js';
import { jsonLines } from '../support/app.js';

function audited(kind: 'login' | 'invite', result: LoginOutcome): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'info' }, jsonLines(lines));
  const c = { var: { deps: { logger, metrics: undefined } } } as unknown as AppContext;
  auditLogin(c, { kind, method: 'totp', client: '192.0.2.7' }, result);
  return lines;
}

describe('the login audit line', () => {
  it.each([
    ['login', 'abandoned', 'login.abandoned'],
    ['invite', 'abandoned', 'invite.abandoned'],
    ['login', 'invalid', 'login.failure'],
    ['invite', 'wrong-code', 'invite.refused'],
    ['invite', 'throttled', 'invite.throttled'],
  ] as const)('%s ending as %s: %s', (kind, reason, event) => {
    const lines = audited(kind, { ok: false, reason, email: 'a@example.com' });
    expect(lines.map((l) => [l.event, l.reason, l.email, l.client])).toEqual([[event, reason, 'a@example.com', '192.0.2.7']]);
  });
});
