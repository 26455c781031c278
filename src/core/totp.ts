// RFC 6238 TOTP as every authenticator app does it: SHA-1, 6 digits, 30-second steps, base32 secret.
import { generateSecret, generateURI, verify } from 'otplib';

const TOTP_PERIOD_IN_SECONDS = 30;
/** The current step and one on either side: clock drift of a phone, and a code typed just as it changed. */
const TOTP_TOLERANCE_IN_SECONDS = TOTP_PERIOD_IN_SECONDS;

const SIX_ASCII_DIGITS = /^[0-9]{6}$/;

export function isWellFormedCode(code: unknown): code is string {
  return typeof code === 'string' && SIX_ASCII_DIGITS.test(code);
}

export function newTotpSecret(): string {
  return generateSecret();
}

export function totpUri(secret: string, account: string, issuer: string): string {
  return generateURI({ issuer, label: account, secret });
}

/**
 * The time step a code matched, or `null`. A step at or before `afterStep` never matches, which is what stops
 * a code (or any older one) from being used twice. Malformed codes are `null` without throwing, after the
 * same amount of work as a wrong code.
 */
export async function matchTotp(secret: string, code: string, nowInMs: number, afterStep: number | null): Promise<number | null> {
  const wellFormed = isWellFormedCode(code);
  try {
    const result = await verify({
      secret,
      token: wellFormed ? code : '000000',
      epoch: Math.floor(nowInMs / 1000),
      epochTolerance: TOTP_TOLERANCE_IN_SECONDS,
      ...(afterStep === null ? {} : { afterTimeStep: afterStep }),
    });
    return wellFormed && result.valid && 'timeStep' in result ? result.timeStep : null;
  } catch {
    return null;
  }
}
