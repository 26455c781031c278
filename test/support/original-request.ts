// What a proxy style reads as the original request, from plain header pairs (repeated names stay repeated, as on
// Node's raw header list), for the unit and property tests of the style modules.
import { trustList } from '../../src/http/forwarded.js';
import { readVerifyRequest } from '../../src/http/verify/request.js';
import { readOriginal as readAuthRequest } from '../../src/http/verify/styles/auth-request.js';
import { readOriginal as readForwardAuth } from '../../src/http/verify/styles/forward-auth.js';
import type { OriginalRequest, StyleContext } from '../../src/http/verify/styles/style.js';

const PROXY = '10.0.0.2';
const ctx = { trusted: trustList([PROXY]) } as StyleContext;

export function readOriginalRequest(
  headers: Record<string, string> | ReadonlyArray<readonly [string, string]>,
  fromTrustedProxy: boolean,
  style: 'nginx' | 'forward',
): OriginalRequest {
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  const req = readVerifyRequest('/verify/x', pairs.flat(), fromTrustedProxy ? PROXY : '203.0.113.1');
  if (req === undefined) throw new Error('not a verify request');
  return (style === 'nginx' ? readAuthRequest : readForwardAuth)(req, ctx);
}
