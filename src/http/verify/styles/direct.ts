// Direct callers (a service asking itself, without `?proxy=`): the reference's answers, byte for byte.
import { errorAnswer } from '../answer.js';
import type { ProxyStyle } from './style.js';

export const direct: ProxyStyle = {
  unauthenticated: () => errorAnswer('unauthenticated'),
  forbidden: (_req, denial) => errorAnswer(denial.kind === 'unknown-service' ? 'unknownService' : 'forbidden'),
};
