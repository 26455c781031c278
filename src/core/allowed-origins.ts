// Where the service may send a browser, and which pages may post its forms: an allow-list of origins (scheme,
// host and port), never of bare host names, so `https://app.example.com:8443` is not `https://app.example.com`.

export interface AllowedOrigin {
  /** `https:` or `http:` when the entry names one; otherwise https, and http too in plain-http development mode. */
  readonly scheme: 'https:' | 'http:' | undefined;
  /** Lower case, as the WHATWG URL parser writes it (IPv6 in brackets). */
  readonly host: string;
  /** `.example.com`: the host itself and every subdomain. */
  readonly subdomains: boolean;
  /** The port the entry names, or `undefined` for the scheme's default port. */
  readonly port: string | undefined;
}

const DEFAULT_PORT: Readonly<Record<string, string>> = { 'https:': '443', 'http:': '80' };
const HOST_AND_PORT = /^(\.?)(\[[0-9a-f:.]+\]|[^:/?#@[\]\s\\]+)(?::(\d{1,5}))?$/i;

/**
 * One allow-list entry: `example.com`, `.example.com` (with subdomains), either with `:port`, or a whole origin
 * such as `https://example.com:8443` or `http://localhost:8080`. `undefined` when it is none of these.
 */
export function parseAllowedOrigin(entry: string): AllowedOrigin | undefined {
  const raw = entry.trim();
  if (raw.includes('://')) {
    if (!URL.canParse(raw)) return undefined;
    const url = new URL(raw);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
    if (url.username || url.password || url.pathname !== '/' || url.search || url.hash || raw.endsWith('?') || raw.endsWith('#'))
      return undefined;
    return { scheme: url.protocol, host: url.hostname.replace(/\.$/, ''), subdomains: false, port: url.port || undefined };
  }
  const m = HOST_AND_PORT.exec(raw);
  if (!m) return undefined;
  const [, dot, name, port] = m as unknown as [string, string, string, string | undefined];
  if (!URL.canParse(`https://${name}`)) return undefined;
  const host = new URL(`https://${name}`).hostname.replace(/\.$/, '');
  if (host === '' || host.startsWith('.') || host.includes('..') || (port !== undefined && (Number(port) < 1 || Number(port) > 65535)))
    return undefined;
  if (dot && host.startsWith('[')) return undefined;
  return { scheme: undefined, host, subdomains: dot === '.', port: port === undefined ? undefined : String(Number(port)) };
}

/** Parses a whole list; throws naming the first entry that is not an origin (config validates first). */
export function allowList(entries: readonly string[]): AllowedOrigin[] {
  return entries.map((entry) => {
    const origin = parseAllowedOrigin(entry);
    if (!origin) throw new Error(`not an allowed-origin entry: ${entry}`);
    return origin;
  });
}

/** Whether a parsed URL's origin is on the list. `allowHttp`: entries without a scheme also allow http. */
export function isAllowedOrigin(url: URL, allowed: readonly AllowedOrigin[], allowHttp: boolean): boolean {
  const scheme = url.protocol;
  const defaultPort = DEFAULT_PORT[scheme];
  if (defaultPort === undefined) return false;
  const port = url.port || defaultPort;
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  if (host === '') return false;
  return allowed.some(
    (o) =>
      (o.scheme === undefined ? scheme === 'https:' || (allowHttp && scheme === 'http:') : scheme === o.scheme) &&
      (o.port ?? defaultPort) === port &&
      (host === o.host || (o.subdomains && host.endsWith(`.${o.host}`))),
  );
}

/** The list as CSP sources (`form-action`), which match scheme, host (with `*.` for subdomains) and port. */
export function cspSources(allowed: readonly AllowedOrigin[], allowHttp: boolean): string[] {
  return allowed.flatMap((o) => {
    const schemes = o.scheme ? [o.scheme] : allowHttp ? ['https:', 'http:'] : ['https:'];
    const port = o.port ? `:${o.port}` : '';
    return schemes.flatMap((s) => (o.subdomains ? [`${s}//${o.host}${port}`, `${s}//*.${o.host}${port}`] : [`${s}//${o.host}${port}`]));
  });
}
