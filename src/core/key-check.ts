// Do the configured encryption keys open the stored secrets? Checked at start-up (the server refuses to run with
// keys that open nothing: every sign-in and /verify would fail) and by `doctor`. It samples a few values per key
// id instead of opening every row, so it costs a few queries on any database size.
import { KEY_ID, type KeyRing, sealContext } from './crypto.js';
import type { SealedKeyGroup, SealedValue, SealedValueStore } from './ports.js';

/** How many stored values per key id are tried. One that opens proves the key; a damaged row alone is not a key problem. */
const SAMPLES_PER_KEY = 3;

interface KeyCount {
  readonly keyId: string;
  readonly count: number;
}

export interface KeyCheck {
  /** Sealed values stored. */
  readonly total: number;
  /** Values naming a key id that is not configured. */
  readonly missing: readonly KeyCount[];
  /** Values naming a configured key id whose samples none open: the key under that id is not the one they were sealed with. */
  readonly wrong: readonly KeyCount[];
  /** Values sealed with a configured key other than the first (after a rotation): readable, but keep that key. */
  readonly stale: readonly KeyCount[];
}

const contextOf = (v: SealedValue) =>
  v.column === 'users.totp_secret' ? sealContext.totpSecret(v.userId) : sealContext.grantToken(v.userId, v.serviceId);

export async function checkKeys(store: SealedValueStore, keys: KeyRing): Promise<KeyCheck> {
  const groups = await store.groupByKeyId(SAMPLES_PER_KEY);
  const count = ({ keyId, count }: SealedKeyGroup): KeyCount => ({ keyId, count });
  const opens = (g: SealedKeyGroup) => g.samples.some((s) => keys.open(s.sealed, contextOf(s)) !== null);
  const configured = groups.filter((g) => KEY_ID.test(g.keyId) && keys.has(g.keyId));
  return {
    total: groups.reduce((sum, g) => sum + g.count, 0),
    missing: groups.filter((g) => !configured.includes(g)).map(count),
    wrong: configured.filter((g) => !opens(g)).map(count),
    stale: configured.filter((g) => g.keyId !== keys.primaryId && opens(g)).map(count),
  };
}

const ids = (counts: readonly KeyCount[]) =>
  counts.map((c) => `${JSON.stringify(c.keyId)} (${c.count} value${c.count === 1 ? '' : 's'})`).join(', ');

/** What is wrong, for people, when the configured keys cannot open some stored values; `undefined` when they can. */
export function keyProblem(check: KeyCheck): string | undefined {
  const parts: string[] = [];
  if (check.missing.length > 0)
    parts.push(`missing key id(s) ${ids(check.missing)}: add those keys to ENCRYPTION_KEYS, after the key that seals new values`);
  if (check.wrong.length > 0)
    parts.push(`key id(s) ${ids(check.wrong)} hold other keys than the ones those values were sealed with: put the original keys back`);
  if (parts.length === 0) return undefined;
  const unreadable = [...check.missing, ...check.wrong].reduce((sum, c) => sum + c.count, 0);
  return `${unreadable} of ${check.total} stored secret(s) do not decrypt with the configured keys (ENCRYPTION_KEYS or its file): ${parts.join('; ')}.`;
}

/** The server does not start with keys that cannot open the stored secrets: sign-ins and /verify would all fail. */
export class KeyCheckError extends Error {
  override readonly name = 'KeyCheckError';
}
