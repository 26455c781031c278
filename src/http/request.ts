import { readDeviceCookies } from '../core/cookies.js';
import { clientKey } from '../core/throttle.js';
import type { AppContext } from './context.js';
import { clientAddress } from './forwarded.js';
import { safeRedirect } from './redirect.js';
import { headerValues } from './request-headers.js';

/** The device cookies of this request, unchecked. */
export function deviceOf(c: AppContext) {
  return readDeviceCookies(c.req.header('cookie'));
}

/** The signed-in user and device of this request, else `null`. */
export async function signedIn(c: AppContext) {
  return c.var.deps.devices.authenticate(deviceOf(c));
}

/** The validated return URL of this request (query or form), else `undefined`. */
export function returnUrl(c: AppContext, raw: string | readonly string[] | undefined): string | undefined {
  const { config } = c.var.deps;
  return safeRedirect(raw, { allowedOrigins: config.allowedOrigins, allowHttp: config.insecureHttp });
}

/** Form fields as single strings; a field sent twice, or a file, counts as absent. */
export async function formFields(c: AppContext): Promise<Record<string, string | undefined>> {
  const type = c.req.header('content-type') ?? '';
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(type)) return {};
  try {
    // The body was read before the handler ran (see body.ts); parsed here by the Fetch API's own form parser.
    const form = await new Response(c.var.body, { headers: { 'Content-Type': type } }).formData();
    const out: Record<string, string | undefined> = {};
    for (const key of new Set(form.keys())) {
      const values = form.getAll(key);
      out[key] = values.length === 1 && typeof values[0] === 'string' ? values[0] : undefined;
    }
    return out;
  } catch {
    return {};
  }
}

/** The client's budget key: its address (through trusted proxies only), IPv6 grouped by /64. */
export function clientOf(c: AppContext): { address: string | undefined; key: string } {
  const { deps, trusted } = c.var;
  const address = clientAddress(deps.peerAddress(c), headerValues(c, 'x-forwarded-for'), trusted);
  return { address, key: clientKey(address) };
}
