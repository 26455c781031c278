// Rule: passkeys belong to COOKIE_DOMAIN when it is set (so one passkey works on every app under it), else to
// PUBLIC_URL's host; a ceremony counts only from PUBLIC_URL's origin or a secure page under that domain; settings
// that cannot match stop the start with a clear message, and an IP-address PUBLIC_URL turns passkeys off.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { relyingParty } from '../../src/core/relying-party.js';

const KEY = 'k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
const load = (env: Record<string, string>) =>
  loadConfig({ env: { ENCRYPTION_KEYS: KEY, ...env }, cwd: mkdtempSync(join(tmpdir(), 'pa-rp-')) });

describe('the relying party', () => {
  it('is the cookie domain, and accepts secure pages under it and PUBLIC_URL itself', () => {
    const r = relyingParty({ publicUrl: 'https://auth.example.com', cookieDomain: 'example.com', insecureHttp: false, name: 'x' });
    if (!('relyingParty' in r)) throw new Error('expected a relying party');
    const rp = r.relyingParty;
    expect(rp.id).toBe('example.com');
    for (const ok of ['https://auth.example.com', 'https://app.example.com', 'https://example.com', 'https://a.b.example.com:8443'])
      expect(rp.isAllowedOrigin(ok), ok).toBe(true);
    for (const bad of [
      'http://app.example.com',
      'https://evil-example.com',
      'https://example.com.evil.net',
      'https://app.example.com/',
      'https://user@app.example.com',
      'null',
      '',
    ])
      expect(rp.isAllowedOrigin(bad), bad).toBe(false);
  });

  it("is PUBLIC_URL's host without a cookie domain, and accepts exactly its origin", () => {
    const r = relyingParty({ publicUrl: 'http://localhost:8080', cookieDomain: undefined, insecureHttp: false, name: 'x' });
    if (!('relyingParty' in r)) throw new Error('expected a relying party');
    expect(r.relyingParty.id).toBe('localhost');
    expect(r.relyingParty.isAllowedOrigin('http://localhost:8080')).toBe(true);
    expect(r.relyingParty.isAllowedOrigin('http://localhost:3000')).toBe(false);
    expect(r.relyingParty.isAllowedOrigin('http://app.localhost:8080')).toBe(false);
  });

  it('stops the start when COOKIE_DOMAIN does not contain PUBLIC_URL, naming both', () => {
    expect(() => load({ PUBLIC_URL: 'https://auth.other.org', COOKIE_DOMAIN: 'example.com' })).toThrow(ConfigError);
    try {
      load({ PUBLIC_URL: 'https://auth.other.org', COOKIE_DOMAIN: 'example.com' });
    } catch (err) {
      expect((err as ConfigError).problems.join('\n')).toMatch(
        /COOKIE_DOMAIN: example\.com does not contain PUBLIC_URL's host auth\.other\.org/,
      );
    }
    expect(load({ PUBLIC_URL: 'https://auth.example.com', COOKIE_DOMAIN: 'example.com' }).config.relyingParty?.id).toBe('example.com');
  });

  it('turns passkeys off, saying so, for an IP-address PUBLIC_URL or a default PUBLIC_URL outside the cookie domain', () => {
    const ip = load({ PUBLIC_URL: 'http://127.0.0.1:8080' });
    expect(ip.config.relyingParty).toBeUndefined();
    expect(ip.notices.join('\n')).toMatch(/IP address .*passkeys/);
    const reference = load({ cookie_domain: 'example.com' });
    expect(reference.config.relyingParty).toBeUndefined();
    expect(reference.notices.join('\n')).toMatch(/passkeys are off until PUBLIC_URL is set/);
  });

  it('reads INVITE_LIFETIME_HOURS (default 72, 1 to 720)', () => {
    expect(load({}).config.inviteLifetimeInHours).toBe(72);
    expect(load({ INVITE_LIFETIME_HOURS: '24' }).config.inviteLifetimeInHours).toBe(24);
    expect(() => load({ INVITE_LIFETIME_HOURS: '0' })).toThrow(/INVITE_LIFETIME_HOURS/);
    expect(() => load({ INVITE_LIFETIME_HOURS: '721' })).toThrow(/INVITE_LIFETIME_HOURS/);
  });
});
