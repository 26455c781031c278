import { describe, expect, it } from 'vitest';
import {
  canonicalEmail,
  deviceLabel,
  deviceLabelFromUserAgent,
  isServiceName,
  normaliseScope,
  parseScope,
} from '../../src/core/identity.js';

describe('identifiers', () => {
  it('canonicalises emails: trimmed, case-folded, NFKC', () => {
    expect(canonicalEmail('  Alice@Example.COM ')).toBe('alice@example.com');
    expect(canonicalEmail('ａｌｉｃｅ@example.com')).toBe('alice@example.com');
    for (const bad of ['', 'alice', '@example.com', 'a b@example.com', 'alice@', 42, null, `${'a'.repeat(300)}@x.y`]) {
      expect(canonicalEmail(bad)).toBeUndefined();
    }
  });

  it('accepts the reference service names and nothing outside the charset', () => {
    for (const ok of ['EmailService', 'a', 'app.v2', 'my_app-1', 'A'.repeat(63)]) expect(isServiceName(ok)).toBe(true);
    for (const bad of ['', '.hidden', '-x', 'a/b', 'a b', 'ä', 'A'.repeat(64), '..', 'a%2f']) expect(isServiceName(bad)).toBe(false);
  });

  it('parses the reference scope format with its trailing comma', () => {
    expect([...parseScope('read:user-role,read:username,')]).toEqual(['read:user-role', 'read:username']);
    expect([...parseScope('')]).toEqual([]);
    expect([...parseScope('read:everything,read:email')]).toEqual(['read:email']);
    expect(normaliseScope('read:email, read:email,read:username')).toEqual({ scope: 'read:email,read:username' });
    expect(normaliseScope('read:email,write:all')).toEqual({ unknown: ['write:all'] });
  });

  it('makes short printable device labels', () => {
    expect(deviceLabel('Windows Firefox')).toBe('Windows Firefox');
    expect(deviceLabel('x'.repeat(100))).toHaveLength(32);
    expect(deviceLabel('\u0000\u0007')).toBe('unknown');
    expect(deviceLabel(42)).toBe('unknown');
    expect(deviceLabelFromUserAgent('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0')).toBe('Linux Firefox');
  });
});
