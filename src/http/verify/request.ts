// Reading a /verify request, however it arrived: Node's raw header list on the fast path, a Fetch Request's
// headers in-process. The three headers every request needs are picked in one pass; the rest only when asked.

const VERIFY_PREFIX = '/verify/';

export interface VerifyRequest {
  /** Path and query as sent, e.g. `/verify/app?proxy=nginx`. */
  readonly url: string;
  /** The service name from the path, percent-decoded (as sent when it does not decode). */
  readonly service: string;
  /** Every value of these headers, in order: a repeated header is visible as such. */
  readonly authorization: readonly string[];
  readonly serviceToken: readonly string[];
  readonly cookie: readonly string[];
  /** Every value of any header (lower-case name), in order. */
  header(name: string): readonly string[];
  /** The socket peer's address. */
  readonly peer: string | undefined;
}

/**
 * The request if `url` is `/verify/<one segment>[?query]`, else `undefined` (the app then answers 404).
 * `rawHeaders` is `[name, value, name, value, ...]` as Node gives it.
 */
export function readVerifyRequest(url: string, rawHeaders: readonly string[], peer: string | undefined): VerifyRequest | undefined {
  if (!url.startsWith(VERIFY_PREFIX)) return undefined;
  const q = url.indexOf('?');
  const segment = url.slice(VERIFY_PREFIX.length, q < 0 ? undefined : q);
  if (segment === '' || segment.includes('/')) return undefined;
  let service = segment;
  if (segment.includes('%')) {
    try {
      service = decodeURIComponent(segment);
    } catch {
      // Not a name any service can have; it is refused as an unknown service after the caller's credential.
    }
  }
  let authorization: string[] | undefined;
  let serviceToken: string[] | undefined;
  let cookie: string[] | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    // Cheap first-letter test: most headers are none of the three.
    const c = name.charCodeAt(0) | 0x20;
    if (c !== 0x61 && c !== 0x78 && c !== 0x63) continue;
    const lower = name.toLowerCase();
    const value = rawHeaders[i + 1] as string;
    if (lower === 'cookie') cookie = add(cookie, value);
    else if (lower === 'authorization') authorization = add(authorization, value);
    else if (lower === 'x-service-token') serviceToken = add(serviceToken, value);
  }
  return new RawVerifyRequest(url, service, authorization ?? NONE, serviceToken ?? NONE, cookie ?? NONE, rawHeaders, peer);
}

const NONE: readonly string[] = Object.freeze([]);

/** Values of a header, allocated only when it is there. */
function add(values: string[] | undefined, value: string): string[] {
  if (values === undefined) return [value];
  values.push(value);
  return values;
}

class RawVerifyRequest implements VerifyRequest {
  constructor(
    readonly url: string,
    readonly service: string,
    readonly authorization: readonly string[],
    readonly serviceToken: readonly string[],
    readonly cookie: readonly string[],
    private readonly rawHeaders: readonly string[],
    readonly peer: string | undefined,
  ) {}

  header(wanted: string): readonly string[] {
    const values: string[] = [];
    for (let i = 0; i + 1 < this.rawHeaders.length; i += 2) {
      const name = this.rawHeaders[i] as string;
      // Most names differ in length: compared (and lower-cased) only when they could match.
      if (name.length === wanted.length && name.toLowerCase() === wanted) values.push(this.rawHeaders[i + 1] as string);
    }
    return values;
  }
}

/** A Fetch `Headers` as a raw header list. Repeated headers arrive joined there; each name appears once. */
export function rawHeadersOf(headers: Headers): string[] {
  const raw: string[] = [];
  headers.forEach((value, name) => {
    raw.push(name, value);
  });
  return raw;
}
