// Direct callers (a service asking itself, without `?proxy=`): the reference's answers, byte for byte.
import { errorAnswer } from '../answer.js';
import { originalUrlFacts } from './facts.js';
import type { ProxyStyle } from './style.js';

export const direct: ProxyStyle = {
  unauthenticated: () => errorAnswer('unauthenticated'),
  forbidden: (_req, denial) => errorAnswer(denial.kind === 'unknown-service' ? 'unknownService' : 'forbidden'),
  // The reference has no such answers: a direct caller hears "no access" (401, as the reference says it).
  signInAgain: (_req, why) => errorAnswer(why === 'step-up' ? 'passkeyRequired' : 'freshSignInRequired'),
  // A service asking about its own request may say what it is, as nginx does (from a trusted address only).
  facts: originalUrlFacts,
};
