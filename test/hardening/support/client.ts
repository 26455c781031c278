// Talking to a real server the way a browser and a proxy would: log in, call /verify, sign out.
import { generate } from 'otplib';

/** The current TOTP code of `secret` by the real clock (the server runs on the real clock too). */
export function codeNow(secret: string, offsetInSeconds = 0): Promise<string> {
  return generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetInSeconds });
}

/** The `Cookie` header a browser would send back after this response. */
export function cookieHeader(res: Response): string {
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
}

export interface Timed {
  readonly res: Response;
  readonly body: string;
  readonly ms: number;
}

/** A request with its elapsed time; network errors count as status 0 so a test can assert on them. */
export async function timedFetch(url: string, init: RequestInit = {}, timeoutInMs = 30_000): Promise<Timed> {
  const start = performance.now();
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutInMs) });
    const body = await res.text();
    return { res, body, ms: performance.now() - start };
  } catch (err) {
    return { res: new Response(String(err), { status: 599 }), body: `${err} ${(err as Error).cause ?? ''}`, ms: performance.now() - start };
  }
}

/** The reference's JSON login. */
export function jsonLogin(base: string, email: string, code: string, headers: Record<string, string> = {}, timeoutInMs?: number) {
  return timedFetch(
    `${base}/device/add`,
    {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify({ email, device_registration_code: code, device_type: 'Hardening Test' }),
    },
    timeoutInMs,
  );
}

/** The HTML form login, as a browser posts it (no redirects followed). */
export function formLogin(base: string, email: string, code: string, headers: Record<string, string> = {}, timeoutInMs?: number) {
  return timedFetch(
    `${base}/login`,
    {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ email, code }).toString(),
    },
    timeoutInMs,
  );
}

export function verify(base: string, service: string, token: string, cookie: string, timeoutInMs?: number) {
  return timedFetch(`${base}/verify/${service}`, { headers: { Authorization: `Bearer ${token}`, Cookie: cookie } }, timeoutInMs);
}
