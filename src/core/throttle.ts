// The guess budget. With the current step and one on either side accepted, one guess at a 6-digit code wins
// with probability 3 / 1,000,000. At most 30 failed codes per account in any 30 days keeps an attacker's chance
// against one account below 30 × 3e-6 = 9e-5 < 1 / 10,000 per month, however many addresses they use. The
// shorter windows slow bursts down, and the per-address limits stop one client from spraying many accounts.

export interface Limit {
  readonly windowInMs: number;
  readonly max: number;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

export const LOGIN_LIMITS = {
  account: [
    { windowInMs: 15 * MINUTE, max: 5 },
    { windowInMs: 30 * DAY, max: 30 },
  ],
  address: [
    { windowInMs: 15 * MINUTE, max: 20 },
    { windowInMs: DAY, max: 100 },
  ],
} as const satisfies Record<string, readonly Limit[]>;

/** Rows older than this can go: no window looks further back. */
export const LONGEST_WINDOW_IN_MS = 30 * DAY;

export const accountSubject = (email: string | undefined) => `acct:${email ?? '-'}`;
export const addressSubject = (clientKey: string) => `addr:${clientKey}`;

/** Whether counts (one per limit, same order) stay within the limits; the current attempt is counted in. */
export function withinLimits(counts: readonly number[], limits: readonly Limit[]): boolean {
  return limits.every((limit, i) => (counts[i] ?? 0) <= limit.max);
}

/** When counts (as for `withinLimits`) exceed limits: the longest window among those exceeded, else `undefined`. */
export function exceededWindowInMs(counts: readonly number[], limits: readonly Limit[]): number | undefined {
  let longest: number | undefined;
  limits.forEach((limit, i) => {
    if ((counts[i] ?? 0) > limit.max) longest = Math.max(longest ?? 0, limit.windowInMs);
  });
  return longest;
}

/**
 * The key a client's attempts are counted under: an IPv4 address as it is, an IPv6 address by its /64, since one
 * subscriber usually has a whole /64 to rotate through.
 */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return mapped;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
