// The bypass battery's request targets: ways to spell a protected path (/admin, /secure) so that a proxy, the
// sidecar and the app might each read a different path. Written as they go on the wire: a string of latin1
// characters, one per byte (so '\u00c0' is the raw byte 0xC0, not its UTF-8 encoding).
//
// Protected areas the battery's rules use: /admin/** (deny), /secure/** (passkey), /health and /hooks/* (public).
export interface PathProbe {
  readonly name: string;
  /** The request target as sent, byte for byte. */
  readonly target: string;
}

/** Replaced by the proxy's host:port when sent (absolute-form request targets). */
const HOST = '\u0000HOST\u0000';

/** The probe's target with the absolute form pointed at the proxy under test. */
export const wireTarget = (probe: PathProbe, hostHeader: string): string => probe.target.replaceAll(HOST, hostHeader);

const LONG_SEGMENT = 'a'.repeat(9000);

export const PATH_PROBES: readonly PathProbe[] = [
  { name: 'plain', target: '/admin/x' },
  { name: 'exact area root', target: '/admin' },
  { name: 'dot-dot out of the area', target: '/admin/../x' },
  { name: 'dot-dot into the area', target: '/x/../admin/x' },
  { name: 'dot-dot from a public path', target: '/health/../admin/x' },
  { name: 'dot-dot from a public prefix', target: '/hooks/a/../../admin/x' },
  { name: 'dot-dot above the root', target: '/../admin/x' },
  { name: 'percent-encoded letter', target: '/%61dmin/x' },
  { name: 'percent-encoded name', target: '/%61%64%6D%69%6E/x' },
  { name: 'double slash', target: '//admin/x' },
  { name: 'double slash inside', target: '/admin//x' },
  { name: 'matrix parameter', target: '/admin;x' },
  { name: 'matrix parameter on a segment', target: '/admin;x/y' },
  { name: 'matrix dot-dot from public', target: '/health/..;/admin/x' },
  { name: 'upper case', target: '/ADMIN/x' },
  { name: 'mixed case', target: '/Admin/x' },
  { name: 'encoded slash dot-dot', target: '/admin%2f..' },
  { name: 'encoded slash upper', target: '/admin%2Fx' },
  { name: 'encoded slash traversal from public', target: '/health%2f..%2fadmin/x' },
  { name: 'dot segment', target: '/./admin/x' },
  { name: 'trailing dot segment', target: '/admin/.' },
  { name: 'trailing dot', target: '/admin.' },
  { name: 'trailing dot on a segment', target: '/admin./x' },
  { name: 'encoded trailing dot', target: '/admin%2e/x' },
  { name: 'NUL at the end', target: '/admin%00' },
  { name: 'NUL inside', target: '/admin%00/x' },
  { name: 'public path, NUL, dot-dot', target: '/health%00/../admin/x' },
  { name: 'encoded dot-dot', target: '/health/%2e%2e/admin/x' },
  { name: 'encoded dot-dot upper', target: '/health/%2E%2E/admin/x' },
  { name: 'half-encoded dot-dot', target: '/health/.%2e/admin/x' },
  { name: 'double-encoded dot-dot', target: '/health/%252e%252e/admin/x' },
  { name: 'double-encoded letter', target: '/%2561dmin/x' },
  { name: 'double-encoded slash', target: '/health%252f..%252fadmin/x' },
  { name: 'backslash traversal', target: '/health\\..\\admin\\x' },
  { name: 'encoded backslash traversal', target: '/health%5c..%5cadmin/x' },
  { name: 'backslash separator', target: '/admin\\x' },
  { name: 'overlong UTF-8 dots, encoded', target: '/health/%c0%ae%c0%ae/admin/x' },
  { name: 'overlong UTF-8 slash, encoded', target: '/health/..%c0%afadmin/x' },
  { name: 'overlong UTF-8 dots, raw bytes', target: '/health/\u00c0\u00ae\u00c0\u00ae/admin/x' },
  { name: 'fragment', target: '/admin#x' },
  { name: 'fragment hiding a dot-dot', target: '/health#/../admin/x' },
  { name: 'query', target: '/admin?x' },
  { name: 'query hiding a dot-dot', target: '/health?/../admin/x' },
  { name: 'encoded question mark', target: '/health%3f/../admin/x' },
  { name: 'encoded hash', target: '/health%23/../admin/x' },
  { name: 'encoded tab', target: '/admin%09' },
  { name: 'encoded space', target: '/admin%20/x' },
  { name: 'raw tab', target: '/admin\t/x' },
  { name: 'unicode fullwidth A, encoded', target: '/%ef%bc%a1dmin/x' },
  { name: 'public path, then a long segment', target: `/health/${LONG_SEGMENT}` },
  { name: 'long segment, then dot-dot into the area', target: `/${LONG_SEGMENT}/../admin/x` },
  { name: 'absolute form', target: `http://${HOST}/admin/x` },
  { name: 'absolute form with dot-dot from public', target: `http://${HOST}/health/../admin/x` },
  { name: 'no leading slash', target: 'admin/x' },
  { name: 'passkey area, dot-dot from public', target: '/health/../secure/x' },
  { name: 'passkey area, encoded letter', target: '/%73ecure/x' },
  { name: 'passkey area, upper case', target: '/SECURE/x' },
  { name: 'public path, non-canonical but resolving to itself', target: '/health/.' },
  { name: 'public path, dot-dot back to itself', target: '/x/../health' },
  { name: 'public hook pattern with dot-dot', target: '/hooks/../admin' },
  { name: 'login route prefix, dot-dot into the area', target: '/login/../admin/x' },
  { name: 'login route prefix, encoded dot-dot', target: '/login/%2e%2e/admin/x' },
  { name: 'verify route prefix, dot-dot into the area', target: '/verify/../admin/x' },
];

/** The same probes aimed at the passkey area: every literal `admin` becomes `secure`. */
export const PASSKEY_PROBES: readonly PathProbe[] = PATH_PROBES.filter((probe) => probe.target.includes('admin')).map((probe) => ({
  name: `${probe.name} (passkey area)`,
  target: probe.target.replaceAll('admin', 'secure'),
}));

const percentDecode = (text: string): string =>
  text.replace(/%([0-9A-Fa-f]{2})/g, (_match, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));

/** Overlong UTF-8 spellings of `.` and `/` that old decoders accept (two- and three-byte forms). */
const decodeOverlong = (text: string): string =>
  text.replace(/\u00c0\u00ae|\u00e0\u0080\u00ae/g, '.').replace(/\u00c0\u00af|\u00e0\u0080\u00af/g, '/');

/** Resolves `.`, `..` and empty segments the way every app does once it has found its separators. */
function resolveSegments(path: string, stripTrailingDots: boolean): string {
  const out: string[] = [];
  for (let segment of path.split('/')) {
    if (stripTrailingDots && segment !== '.' && segment !== '..') segment = segment.replace(/[. ]+$/, '');
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return `/${out.join('/')}`;
}

/**
 * Every path some app might make of a request target it is asked for: decoded zero to two times, with or
 * without old overlong UTF-8, truncated at NUL or not, `\` as a separator or not, `;params` dropped or not, `#` as
 * a fragment or a character, trailing dots and spaces of a segment dropped or not (Windows), case kept or folded;
 * then `.`/`..`/empty segments resolved. The query (from the first `?`) is never part of the path.
 */
export function appReadings(target: string): Set<string> {
  let path = target.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/, '');
  path = path.split('?')[0] ?? '';
  const readings = new Set<string>();
  const flags = [false, true];
  for (const cutFragment of flags)
    for (const times of [0, 1, 2])
      for (const overlong of flags)
        for (const cutAtNul of flags)
          for (const backslash of flags)
            for (const dropParams of flags)
              for (const stripDots of flags) {
                let p = cutFragment ? (path.split('#')[0] ?? '') : path;
                for (let i = 0; i < times; i++) p = percentDecode(p);
                if (overlong) p = decodeOverlong(p);
                if (cutAtNul) p = p.split('\u0000')[0] ?? '';
                if (backslash) p = p.replaceAll('\\', '/');
                if (dropParams) p = p.replace(/;[^/]*/g, '');
                const resolved = resolveSegments(p, stripDots);
                readings.add(resolved);
                readings.add(resolved.toLowerCase());
              }
  return readings;
}

/** Whether a path lies under `area` (`/admin` itself or anything below it). */
export const isUnder = (path: string, area: string): boolean => path === area || path.startsWith(`${area}/`);
