// A small client for services that call /verify/<service> themselves instead of sitting behind a forward-auth
// proxy (what the reference shipped as an ASP.NET Core authentication handler). No dependencies; Node >= 20.
//
//   const auth = createVerifyClient({ baseUrl: 'http://auth:8080', service: 'billing', serviceToken: process.env.BILLING_TOKEN });
//   const result = await auth.verify(request.headers.cookie);
//   if (result.kind === 'allowed') ... result.user.userServiceToken ...
//
// /verify must be reachable from this service only over the internal network; never expose it.

/** What the sidecar tells a service about its user, depending on the scopes granted to that service. */
export interface VerifiedUser {
  /** Stable, pseudonymous id of this user for this service (the reference's UserServiceToken). */
  readonly userServiceToken: string;
  /** Present with the scope read:email. */
  readonly email?: string;
  /** Present with the scope read:username. */
  readonly username?: string;
  /** `admin` or `user`; present with the scope read:user-role. */
  readonly role?: string;
}

export type VerifyResult =
  | { readonly kind: 'allowed'; readonly user: VerifiedUser }
  /** No device cookies, or invalid ones: send the browser to the login page. */
  | { readonly kind: 'unauthenticated' }
  /** Logged in, but no access to this service. */
  | { readonly kind: 'forbidden' }
  /** Anything else: a wrong service token, an unknown service name, the sidecar down. Deny, and alert. */
  | { readonly kind: 'error'; readonly status: number; readonly message: string };

export interface VerifyClientOptions {
  /** The sidecar on the internal network, e.g. http://auth:8080 */
  readonly baseUrl: string;
  /** The service name registered with `passwordless-auth service add`. */
  readonly service: string;
  /** The token printed by `passwordless-auth service add`. */
  readonly serviceToken: string;
  readonly timeoutInMs?: number;
  readonly fetch?: typeof globalThis.fetch;
}

export const DEVICE_COOKIES = ['device_id', 'hmac_secret'] as const;

/**
 * Only the two device cookies from a Cookie header, as a Cookie header; undefined if either is missing.
 * The app's other cookies (its own session, CSRF token) are none of the sidecar's business.
 */
export function deviceCookieHeader(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  const found = new Map<string, string>();
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    // The first occurrence wins, as in browsers' and most servers' parsing; values are hex, no decoding.
    if ((DEVICE_COOKIES as readonly string[]).includes(name) && !found.has(name)) found.set(name, part.slice(eq + 1).trim());
  }
  if (found.size !== DEVICE_COOKIES.length) return undefined;
  return DEVICE_COOKIES.map((name) => `${name}=${found.get(name)}`).join('; ');
}

/** The reference's success body: {"status code": 200, "status": "ok", "data": {UserServiceToken, Email?, Username?, UserRole?}}. */
export function userFromVerifyBody(body: unknown): VerifiedUser | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const { status, data } = body as { status?: unknown; data?: unknown };
  if (status !== 'ok' || data === null || typeof data !== 'object') return undefined;
  const { UserServiceToken, Email, Username, UserRole } = data as Record<string, unknown>;
  if (typeof UserServiceToken !== 'string' || UserServiceToken === '') return undefined;
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const user: { -readonly [K in keyof VerifiedUser]: VerifiedUser[K] } = { userServiceToken: UserServiceToken };
  const email = text(Email);
  const username = text(Username);
  const role = text(UserRole);
  if (email !== undefined) user.email = email;
  if (username !== undefined) user.username = username;
  if (role !== undefined) user.role = role;
  return user;
}

export function createVerifyClient(options: VerifyClientOptions) {
  if (!/^https?:\/\//.test(options.baseUrl)) throw new TypeError('baseUrl must be an absolute http(s) URL');
  if (!options.service || !options.serviceToken) throw new TypeError('service and serviceToken are required');
  const url = new URL(`/verify/${encodeURIComponent(options.service)}`, options.baseUrl);
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutInMs = options.timeoutInMs ?? 3000;

  return {
    async verify(cookieHeader: string | undefined): Promise<VerifyResult> {
      const cookies = deviceCookieHeader(cookieHeader);
      // Without both cookies the answer is known; save the round trip.
      if (cookies === undefined) return { kind: 'unauthenticated' };
      let response: Response;
      try {
        response = await doFetch(url, {
          headers: { Authorization: `Bearer ${options.serviceToken}`, Cookie: cookies, Accept: 'application/json' },
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutInMs),
        });
      } catch (error) {
        return { kind: 'error', status: 0, message: error instanceof Error ? error.message : String(error) };
      }
      const body: unknown = await response.json().catch(() => undefined);
      const message = typeof (body as { error?: unknown })?.error === 'string' ? (body as { error: string }).error : '';
      // The reference's answers for direct callers (no ?proxy=): 200 with data; 404 "Not Found" when the cookies
      // are missing or invalid; 404 "Service Not Found!" for an unknown service; 401 "User does not have access
      // to this service"; 401 "Could not verify service" for a wrong service token.
      if (response.status === 200) {
        const user = userFromVerifyBody(body);
        return user ? { kind: 'allowed', user } : { kind: 'error', status: 200, message: 'unexpected success body' };
      }
      if (response.status === 404 && message !== 'Service Not Found!') return { kind: 'unauthenticated' };
      if (response.status === 401 && message === 'User does not have access to this service') return { kind: 'forbidden' };
      return { kind: 'error', status: response.status, message: message || response.statusText };
    },
  };
}

export type VerifyClient = ReturnType<typeof createVerifyClient>;
