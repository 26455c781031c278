// Reading the device cookies strictly: exact names, exact format, and no second copy of either.

export const DEVICE_ID_COOKIE = 'device_id';
export const HMAC_SECRET_COOKIE = 'hmac_secret';

export interface DeviceCredential {
  readonly deviceId: string;
  readonly secret: string;
}

/**
 * The device credential from a `Cookie` header, or `undefined` when it is missing or malformed, or when either
 * name appears twice (a second copy could come from a sibling domain; pairing one copy's id with another's secret
 * is never right). Values are taken as sent: no percent-decoding, since valid values are plain hex.
 */
export function readDeviceCookies(header: string | undefined | null): DeviceCredential | undefined {
  if (!header || header.length > 8192) return undefined;
  // One pass over the header by index, no substrings until the answer: it runs on every /verify. The same rules
  // as splitting on ";" and trimming each name and value (String.prototype.trim's white space).
  let idAt = -1;
  let secretAt = -1;
  let ids = 0;
  let secrets = 0;
  const n = header.length;
  let eq = header.indexOf('=');
  for (let start = 0; start <= n && eq !== -1; ) {
    let end = header.indexOf(';', start);
    if (end === -1) end = n;
    if (eq < start) eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end) {
      let a = start;
      let b = eq;
      while (a < b && isSpace(header.charCodeAt(a))) a++;
      while (b > a && isSpace(header.charCodeAt(b - 1))) b--;
      if (b - a === DEVICE_ID_COOKIE.length && header.startsWith(DEVICE_ID_COOKIE, a)) {
        ids++;
        idAt = hexValueAt(header, eq + 1, end);
      } else if (b - a === HMAC_SECRET_COOKIE.length && header.startsWith(HMAC_SECRET_COOKIE, a)) {
        secrets++;
        secretAt = hexValueAt(header, eq + 1, end);
      }
    }
    start = end + 1;
  }
  if (ids !== 1 || secrets !== 1 || idAt < 0 || secretAt < 0) return undefined;
  return { deviceId: header.slice(idAt, idAt + 32), secret: header.slice(secretAt, secretAt + 32) };
}

/** Where the value in `header[from, to)` starts if, trimmed and unquoted, it is 32 lowercase hex; else -1. */
function hexValueAt(header: string, from: number, to: number): number {
  let a = from;
  let b = to;
  while (a < b && isSpace(header.charCodeAt(a))) a++;
  while (b > a && isSpace(header.charCodeAt(b - 1))) b--;
  if (b - a === 34 && header.charCodeAt(a) === 0x22 && header.charCodeAt(b - 1) === 0x22) {
    a++;
    b--;
  }
  if (b - a !== 32) return -1;
  for (let i = a; i < b; i++) {
    const c = header.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return -1;
  }
  return a;
}

/** White space as String.prototype.trim removes it. */
export function isSpace(c: number): boolean {
  return (
    c === 0x20 ||
    (c >= 0x09 && c <= 0x0d) ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}
