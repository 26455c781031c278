// Reading the device cookies strictly: exact names, exact format, and no second copy of either.
import { HEX32 } from './crypto.js';

export const DEVICE_ID_COOKIE = 'device_id';
export const HMAC_SECRET_COOKIE = 'hmac_secret';

export interface DeviceCredential {
  readonly deviceId: string;
  readonly secret: string;
}

/**
 * The device credential from a `Cookie` header, or `undefined` when it is missing or malformed, or when either
 * name appears twice (a second copy could come from a sibling domain; pairing one copy's id with another's secret
 * is never right). Values are taken as sent: no percent-decoding, since valid values are plain hex.
 */
export function readDeviceCookies(header: string | undefined | null): DeviceCredential | undefined {
  if (!header || header.length > 8192) return undefined;
  let deviceId: string | undefined;
  let secret: string | undefined;
  let idCount = 0;
  let secretCount = 0;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name === DEVICE_ID_COOKIE) {
      idCount++;
      deviceId = unquote(part.slice(eq + 1).trim());
    } else if (name === HMAC_SECRET_COOKIE) {
      secretCount++;
      secret = unquote(part.slice(eq + 1).trim());
    }
  }
  if (idCount !== 1 || secretCount !== 1 || !deviceId || !secret) return undefined;
  if (!HEX32.test(deviceId) || !HEX32.test(secret)) return undefined;
  return { deviceId, secret };
}

function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}
