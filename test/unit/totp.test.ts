import { generate } from 'otplib';
import { describe, expect, it } from 'vitest';
import { isWellFormedCode, matchTotp, newTotpSecret, totpUri } from '../../src/core/totp.js';

const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const T0 = 1_800_000_015_000; // 15 s into a 30 s step
const codeAt = (ms: number) => generate({ secret, epoch: Math.floor(ms / 1000) });
const step = (ms: number) => Math.floor(ms / 30_000);

describe('TOTP window (current step ± 1)', () => {
  it('accepts the current code and those of the neighbouring steps', async () => {
    expect(await matchTotp(secret, await codeAt(T0), T0, null)).toBe(step(T0));
    expect(await matchTotp(secret, await codeAt(T0 - 30_000), T0, null)).toBe(step(T0) - 1);
    expect(await matchTotp(secret, await codeAt(T0 + 30_000), T0, null)).toBe(step(T0) + 1);
  });

  it('rejects codes two steps away', async () => {
    expect(await matchTotp(secret, await codeAt(T0 - 60_000), T0, null)).toBeNull();
    expect(await matchTotp(secret, await codeAt(T0 + 60_000), T0, null)).toBeNull();
  });

  it('never accepts a step at or before the last one used (replay)', async () => {
    const code = await codeAt(T0);
    expect(await matchTotp(secret, code, T0, step(T0))).toBeNull();
    expect(await matchTotp(secret, await codeAt(T0 - 30_000), T0, step(T0))).toBeNull();
    expect(await matchTotp(secret, await codeAt(T0 + 30_000), T0, step(T0))).toBe(step(T0) + 1);
  });

  it('treats malformed codes as wrong without throwing', async () => {
    const good = await codeAt(T0);
    for (const bad of ['', '12345', '1234567', `${good} `, ` ${good}`, '١٢٣٤٥٦', 'abcdef', '12 456']) {
      expect(await matchTotp(secret, bad, T0, null)).toBeNull();
    }
    expect(await matchTotp('not base32!', good, T0, null)).toBeNull();
  });

  it('knows a well-formed code: exactly six ASCII digits', () => {
    expect(isWellFormedCode('012345')).toBe(true);
    for (const bad of [123456, ['123456'], '１２３４５６', '12345', '1234567', null]) expect(isWellFormedCode(bad)).toBe(false);
  });
});

describe('secrets and URIs', () => {
  it('makes 32-character base32 secrets and otpauth URIs authenticator apps read', () => {
    const s = newTotpSecret();
    expect(s).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(totpUri(s, 'alice@example.com', 'passwordless-auth'));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.searchParams.get('secret')).toBe(s);
    expect(uri.searchParams.get('issuer')).toBe('passwordless-auth');
  });
});
