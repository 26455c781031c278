// The path an access rule sees: the one canonical form of a request path, so that a rule about `/admin` meets
// every spelling an app might serve as `/admin`. Pure, no I/O; used by /verify, `access check` and rule checks.
//
// The canonical form of a raw path (as the client sent it, still percent-encoded; any query is dropped):
//   - percent-escapes of unreserved characters (A-Z a-z 0-9 - . _ ~) are decoded, other escapes are kept with
//     upper-case hex;
//   - `;` starts parameters that some servers drop (`/admin;x` is `/admin` to Tomcat): they are removed, up to the
//     next `/`;
//   - empty segments (`//`) and `.` segments go, `..` removes the segment before it;
//   - dots and encoded spaces at the end of a segment go (`/admin.` and `/admin%20` are `/admin` on Windows);
//   - a trailing `/` stays.
// A path is *unreadable* (answered `undefined`: the request fails closed) when it is longer than 8 KB, does not
// start with `/`, holds a byte outside printable ASCII, a backslash or a `#`, a malformed escape, an escaped `/`,
// `\`, `%`, control character or NUL (servers disagree on those), escapes that are not valid UTF-8 (overlong
// forms of `.` and `/`), a segment of only dots and spaces beyond `..`, or a `..` above the root.
// Case is kept: rules other than `public` compare it without regard to case, `public` rules exactly.

/** Longer raw paths are unreadable. */
const MAX_PATH_LENGTH = 8192;

export interface RequestPath {
  /** The canonical path. */
  readonly path: string;
  /** The raw path (query aside) already was that canonical path. */
  readonly canonical: boolean;
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const HEX = /^[0-9A-Fa-f]{2}$/;

/** The raw path's canonical form, or `undefined` when it is unreadable. `raw` may carry a query. */
export function normalizeRequestPath(raw: string): RequestPath | undefined {
  // `?` starts the query. A raw `#` is no fragment in a request target (nginx hands it to the app as it is, and
  // apps disagree on it): it is refused below like any other ambiguous character.
  let end = raw.length;
  for (let i = 0; i < raw.length; i++) {
    if (raw.charCodeAt(i) === 0x3f) {
      end = i;
      break;
    }
  }
  if (end > MAX_PATH_LENGTH || end === 0 || raw.charCodeAt(0) !== 0x2f) return undefined;
  // One pass that only looks: most paths are already canonical and then cost no copy.
  let simple = true;
  let prev = 0;
  for (let i = 0; i < end; i++) {
    const c = raw.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x5c || c === 0x23) return undefined;
    if (c === 0x25 || c === 0x3b || c === 0x2e || (c === 0x2f && prev === 0x2f)) simple = false;
    prev = c;
  }
  const path = end === raw.length ? raw : raw.slice(0, end);
  if (simple) return { path, canonical: true };
  const normal = normalizeSlowly(path);
  return normal === undefined ? undefined : { path: normal, canonical: normal === path };
}

function normalizeSlowly(path: string): string | undefined {
  // Decode what may be decoded, drop `;` parameters; `/` still separates segments after this.
  let decoded = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i] as string;
    if (ch === ';') {
      while (i + 1 < path.length && path[i + 1] !== '/') i++;
      continue;
    }
    if (ch !== '%') {
      decoded += ch;
      continue;
    }
    const hex = path.slice(i + 1, i + 3);
    if (!HEX.test(hex)) return undefined;
    const code = Number.parseInt(hex, 16);
    if (code < 0x20 || code === 0x7f || code === 0x2f || code === 0x5c || code === 0x25) return undefined;
    const char = String.fromCharCode(code);
    decoded += UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
    i += 2;
  }
  // Escaped bytes must spell valid UTF-8: an overlong `%C0%AE` is a `.` to some old decoders, and `%C0%AF` a `/`.
  try {
    decodeURIComponent(decoded);
  } catch {
    return undefined;
  }
  const segments: string[] = [];
  const parts = decoded.split('/');
  for (let i = 1; i < parts.length; i++) {
    let segment = parts[i] as string;
    const last = i === parts.length - 1;
    if (segment === '.' || segment === '') {
      // A trailing `/` (or `/.`) stays as one empty last segment.
      if (last) segments.push('');
      continue;
    }
    if (segment === '..') {
      if (segments.length === 0) return undefined;
      segments.pop();
      if (last) segments.push('');
      continue;
    }
    let trimmed = segment;
    while (trimmed.endsWith('.') || trimmed.endsWith('%20')) trimmed = trimmed.endsWith('.') ? trimmed.slice(0, -1) : trimmed.slice(0, -3);
    // Only dots and spaces: no name at all, and what a server makes of it is anyone's guess.
    if (trimmed === '') return undefined;
    segment = trimmed;
    segments.push(segment);
  }
  return `/${segments.join('/')}`;
}

/** The path (with any query) of an absolute URL exactly as written: no parsing that would decode or resolve it. */
export function rawPathOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const scheme = url.indexOf('://');
  if (scheme <= 0) return undefined;
  const slash = url.indexOf('/', scheme + 3);
  return slash < 0 ? undefined : url.slice(slash);
}
