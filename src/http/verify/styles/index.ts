// The proxy styles by the name in `?proxy=`.
import { authRequest } from './auth-request.js';
import { direct } from './direct.js';
import { forwardAuth } from './forward-auth.js';
import type { ProxyStyle } from './style.js';

const BY_NAME: ReadonlyMap<string, ProxyStyle> = new Map([
  ['nginx', authRequest],
  ['traefik', forwardAuth],
  ['caddy', forwardAuth],
]);

/** The style a request names: `direct` without `?proxy=`, `undefined` when the name is unknown or repeated. */
export function styleOf(url: string): ProxyStyle | undefined {
  const q = url.indexOf('?');
  if (q < 0) return direct;
  const values = new URLSearchParams(url.slice(q + 1)).getAll('proxy');
  if (values.length === 0) return direct;
  return values.length === 1 ? BY_NAME.get(values[0] as string) : undefined;
}
