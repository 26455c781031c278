// The shapes of user-supplied identifiers: emails, service names, scopes, device types.

const EMAIL_SHAPE = /^[^\s@]{1,64}@[^\s@]{1,252}$/u;

/** One canonical form for lookups and limits: Unicode NFKC, trimmed, case-folded. `undefined` if not an email. */
export function canonicalEmail(input: unknown): string | undefined {
  if (typeof input !== 'string' || input.length > 320) return undefined;
  const email = input.normalize('NFKC').trim().toLowerCase();
  if (email.length > 254 || !EMAIL_SHAPE.test(email)) return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(email)) return undefined;
  return email;
}

/** Service names as they appear in `/verify/<service>`: ASCII, exact, case-sensitive. */
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function isServiceName(name: unknown): name is string {
  return typeof name === 'string' && SERVICE_NAME.test(name);
}

const SCOPES = ['read:email', 'read:username', 'read:user-role'] as const;
export type Scope = (typeof SCOPES)[number];

/** The reference's comma-separated scope list, which may end with a comma. Unknown entries are ignored. */
export function parseScope(scope: string): Set<Scope> {
  const known = new Set<string>(SCOPES);
  return new Set(
    scope
      .split(',')
      .map((s) => s.trim())
      .filter((s): s is Scope => known.has(s)),
  );
}

/** A scope list as given on the command line: every entry must be known. */
export function normaliseScope(input: string): { scope: string } | { unknown: string[] } {
  const parts = input
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = parts.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0) return { unknown };
  return { scope: [...new Set(parts)].join(',') };
}

/** A short printable label such as `Linux Firefox`; anything else becomes `unknown`. */
export function deviceLabel(input: unknown): string {
  if (typeof input !== 'string') return 'unknown';
  const label = input
    .replace(/[^\x20-\x7e]/g, '')
    .trim()
    .slice(0, 32);
  return label === '' ? 'unknown' : label;
}

/** A label from a User-Agent header, for logins through the HTML form. */
export function deviceLabelFromUserAgent(ua: string | undefined): string {
  if (!ua) return 'unknown';
  const os = /iPhone|iPad|Android|Windows|Mac OS X|Linux|CrOS/.exec(ua)?.[0]?.replace('Mac OS X', 'macOS');
  const browser = /Edg|Firefox|Chrome|Safari|curl/.exec(ua)?.[0]?.replace('Edg', 'Edge');
  return deviceLabel([os, browser].filter(Boolean).join(' '));
}
