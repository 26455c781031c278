// Reading a few request headers on the hot path. On Node, `c.req.header()` makes the adapter build a full
// WHATWG Headers object for every request, which costs as much as the rest of a warm /verify; scanning the raw
// header list for the few names we need is cheaper, and sees every copy of a repeated header.
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';

/** Every value of each wanted header (lower-case names), in order; absent names map to an empty list. */
export function pickHeaders<const N extends string>(c: Context, names: readonly N[]): Record<N, string[]> {
  const out = Object.fromEntries(names.map((n) => [n, [] as string[]])) as Record<N, string[]>;
  const raw = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.rawHeaders;
  if (raw) return pickRawHeaders(raw, names);
  // Outside Node (tests through app.request): the Headers object already joined repeated values.
  for (const n of names) {
    const v = c.req.raw.headers.get(n);
    if (v !== null) out[n].push(v);
  }
  return out;
}

/** The same from Node's raw header list (`[name, value, name, value, ...]`). */
export function pickRawHeaders<const N extends string>(raw: readonly string[], names: readonly N[]): Record<N, string[]> {
  const out = Object.fromEntries(names.map((n) => [n, [] as string[]])) as Record<N, string[]>;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase() as N;
    out[name]?.push(raw[i + 1] as string);
  }
  return out;
}
