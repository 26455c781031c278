// Every value of a request header. On Node the raw header list shows a repeated header as such (a Fetch Headers
// object joins the copies with commas) and is cheaper than the adapter's Headers object.
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';

/** Every value of the header `name` (lower case), in order. */
export function headerValues(c: Context, name: string): string[] {
  const raw = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.rawHeaders;
  if (!raw) {
    // Outside Node (tests through app.request): the Headers object already joined repeated values.
    const v = c.req.raw.headers.get(name);
    return v === null ? [] : [v];
  }
  const values: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if ((raw[i] as string).toLowerCase() === name) values.push(raw[i + 1] as string);
  return values;
}
