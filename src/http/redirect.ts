// The one validator behind every redirect the service makes to a URL that came from a request.

export interface RedirectPolicy {
  /** `example.com` matches that host only; `.example.com` matches it and every subdomain. */
  readonly allowedHosts: readonly string[];
  /** Accept http:// targets too (plain-http development mode only). */
  readonly allowHttp: boolean;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
const CONTROL_OR_SPACE = /[\u0000-\u0020\u007f-\u009f\\]/;

/**
 * The target as an absolute URL string if it is safe to send a browser to, else `undefined`. Parsed with the
 * WHATWG URL parser (what browsers use), then: http(s) only, no userinfo, no control characters, spaces or
 * backslashes anywhere in the raw value, and a host on the allow-list matched at a label boundary.
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
  if (url.protocol !== 'https:' && !(policy.allowHttp && url.protocol === 'http:')) return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  if (!isAllowedHost(url.hostname, policy.allowedHosts)) return undefined;
  return url.href;
}

export function isAllowedHost(hostname: string, allowed: readonly string[]): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (host === '') return false;
  return allowed.some((entry) => {
    const a = entry.toLowerCase();
    if (a.startsWith('.')) return host === a.slice(1) || host.endsWith(a);
    return host === a;
  });
}
