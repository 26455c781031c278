// Setting and clearing the two device cookies with the configured attributes.
import type { Context } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import type { CookieOptions } from 'hono/utils/cookie';
import type { Config } from '../config/config.js';
import { DEVICE_ID_COOKIE, type DeviceCredential, HMAC_SECRET_COOKIE } from '../core/cookies.js';

function attributes(config: Config): CookieOptions {
  const { domain, lifetimeInDays, sameSite, secure } = config.cookie;
  return {
    path: '/',
    httpOnly: true,
    secure,
    sameSite,
    maxAge: lifetimeInDays * 24 * 60 * 60,
    ...(domain ? { domain } : {}),
  };
}

export function setDeviceCookies(c: Context, config: Config, credential: DeviceCredential): void {
  const opts = attributes(config);
  setCookie(c, DEVICE_ID_COOKIE, credential.deviceId, opts);
  setCookie(c, HMAC_SECRET_COOKIE, credential.secret, opts);
}

export function clearDeviceCookies(c: Context, config: Config): void {
  const { maxAge: _, ...opts } = attributes(config);
  deleteCookie(c, DEVICE_ID_COOKIE, opts);
  deleteCookie(c, HMAC_SECRET_COOKIE, opts);
}
