// The proxy styles by the name in `?proxy=`.
import { authRequest } from './auth-request.js';
import { direct } from './direct.js';
import { forwardAuth } from './forward-auth.js';
import type { ProxyStyle } from './style.js';

const BY_NAME: ReadonlyMap<string, ProxyStyle> = new Map([
  ['nginx', authRequest],
  // The shipped nginx config's no-access page (its `error_page 403`): answered as Traefik and Caddy are.
  ['nginx-page', forwardAuth],
  ['traefik', forwardAuth],
  ['caddy', forwardAuth],
]);

/** The queries the shipped configs send, matched without parsing (this runs on every /verify). */
const EXACT: ReadonlyArray<readonly [string, ProxyStyle]> = [...BY_NAME].map(([name, style]) => [`?proxy=${name}`, style]);

/** The style a request names: `direct` without `?proxy=`, `undefined` when the name is unknown or repeated. */
export function styleOf(url: string): ProxyStyle | undefined {
  const q = url.indexOf('?');
  if (q < 0) return direct;
  for (const [query, style] of EXACT) if (url.length - q === query.length && url.endsWith(query)) return style;
  const values = new URLSearchParams(url.slice(q + 1)).getAll('proxy');
  if (values.length === 0) return direct;
  return values.length === 1 ? BY_NAME.get(values[0] as string) : undefined;
}
