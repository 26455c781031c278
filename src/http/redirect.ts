// The one validator behind every redirect the service makes to a URL that came from a request.
import { type AllowedOrigin, isAllowedOrigin } from '../core/allowed-origins.js';

export interface RedirectPolicy {
  /** The allowed origins: scheme, host (or a domain with its subdomains) and port. */
  readonly allowedOrigins: readonly AllowedOrigin[];
  /** Entries without a scheme accept http:// targets too (plain-http development mode only). */
  readonly allowHttp: boolean;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
const CONTROL_OR_SPACE = /[\u0000-\u0020\u007f-\u009f\\]/;

/**
 * The target as an absolute URL string if it is safe to send a browser to, else `undefined`. Parsed with the
 * WHATWG URL parser (what browsers use), then: http(s) only, no userinfo, no control characters, spaces or
 * backslashes anywhere in the raw value, and an origin on the allow-list: same scheme, the host (or a subdomain
 * matched at a label boundary) and the same port.
 */
export function safeRedirect(raw: string | readonly string[] | undefined | null, policy: RedirectPolicy): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string') {
    if (raw.length !== 1) return undefined;
    return safeRedirect(raw[0], policy);
  }
  if (raw.length === 0 || raw.length > 2048 || CONTROL_OR_SPACE.test(raw)) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.username !== '' || url.password !== '') return undefined;
  if (!isAllowedOrigin(url, policy.allowedOrigins, policy.allowHttp)) return undefined;
  return url.href;
}
