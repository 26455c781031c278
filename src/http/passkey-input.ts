// Strict shapes of what the passkey routes accept, checked with valibot before any database work: the browser's
// WebAuthn JSON (as @simplewebauthn/browser sends it), a passkey's name, and the one-time challenge cookie.
import type { Context } from 'hono';
import { setCookie } from 'hono/cookie';
import * as v from 'valibot';
import type { Config } from '../config/config.js';
import { PASSKEY_BOUNDS } from '../core/passkey-key.js';
import { CHALLENGE_HANDLE, CHALLENGE_LIFETIME_IN_MS } from '../core/passkeys.js';
import type { AppContext } from './context.js';

const b64url = (max: number) => v.pipe(v.string(), v.minLength(1), v.maxLength(max), v.regex(/^[A-Za-z0-9_-]+$/));
/** A credential id is at most 1023 bytes (WebAuthn), so 1364 base64url characters. */
const credentialId = b64url(PASSKEY_BOUNDS.credentialIdChars);
const common = {
  id: credentialId,
  rawId: credentialId,
  type: v.literal('public-key'),
  authenticatorAttachment: v.optional(v.picklist(['platform', 'cross-platform'])),
  // Extension outputs are not used; only their container is allowed, and kept small by the body limit.
  clientExtensionResults: v.record(v.string(), v.unknown()),
};

const RegistrationSchema = v.strictObject({
  ...common,
  response: v.looseObject({
    clientDataJSON: b64url(4096),
    attestationObject: b64url(8192),
    transports: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(32))), v.maxLength(10))),
  }),
});

const AuthenticationSchema = v.strictObject({
  ...common,
  response: v.looseObject({
    clientDataJSON: b64url(4096),
    authenticatorData: b64url(4096),
    // Up to an RS256 signature with an 8192-bit key (1024 bytes).
    signature: b64url(1366),
    userHandle: v.optional(b64url(128)),
  }),
});

/** A passkey's name: printable, trimmed, 1–64 characters. */
export const PasskeyName = v.pipe(
  v.string(),
  v.transform((s) =>
    s
      .normalize('NFKC')
      .replace(/\p{Cc}/gu, '')
      .trim(),
  ),
  v.minLength(1),
  v.maxLength(PASSKEY_BOUNDS.nameChars),
);

const RdField = v.optional(v.pipe(v.string(), v.maxLength(2048)));

export const SignInBody = v.strictObject({ response: AuthenticationSchema, rd: RdField });
export const RegisterBody = v.strictObject({ response: RegistrationSchema, name: v.optional(v.string()), rd: RdField });

/** The JSON body as `schema` wants it, or `undefined` for anything else (not JSON, extra or missing fields). */
export function jsonBody<S extends v.GenericSchema>(c: AppContext, schema: S): v.InferOutput<S> | undefined {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(c.var.body));
  } catch {
    return undefined;
  }
  const parsed = v.safeParse(schema, body);
  return parsed.success ? parsed.output : undefined;
}

/** The name given, cleaned; when none (or none usable) was given, the device type ("Passkey" when unknown). */
export function passkeyName(raw: unknown, deviceType: string): string {
  const parsed = v.safeParse(PasskeyName, raw);
  return parsed.success ? parsed.output : deviceType === 'unknown' ? 'Passkey' : deviceType;
}

const CHALLENGE_COOKIE = 'webauthn_challenge';

/** The challenge handle cookie: exactly one, of the exact shape; else `undefined`. */
export function readChallengeCookie(header: string | undefined): string | undefined {
  if (!header || header.length > 8192) return undefined;
  const values = header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`${CHALLENGE_COOKIE}=`))
    .map((part) => part.slice(CHALLENGE_COOKIE.length + 1));
  return values.length === 1 && CHALLENGE_HANDLE.test(values[0] as string) ? values[0] : undefined;
}

/** Binds a ceremony to this browser: HttpOnly, Strict, only under /login/, gone after 5 minutes. */
export function setChallengeCookie(c: Context, config: Config, handle: string): void {
  setCookie(c, CHALLENGE_COOKIE, handle, {
    path: '/login/',
    httpOnly: true,
    secure: config.cookie.secure,
    sameSite: 'Strict',
    maxAge: CHALLENGE_LIFETIME_IN_MS / 1000,
  });
}

export function clearChallengeCookie(c: Context, config: Config): void {
  setCookie(c, CHALLENGE_COOKIE, '', { path: '/login/', httpOnly: true, secure: config.cookie.secure, sameSite: 'Strict', maxAge: 0 });
}
