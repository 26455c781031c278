import { describe, expect, it } from 'vitest';
import { deviceSignature, hashToken, KeyRing, newSaltedHash, safeEqual, sealContext, tokenMatches } from '../../src/core/crypto.js';

const key = (id: string, byte: number) => ({ id, key: Buffer.alloc(32, byte) });

describe('device signature (the reference formula)', () => {
  // Vectors computed with Python: hmac.new(bytes.fromhex(secret), device_id.encode(), hashlib.sha256).hexdigest()
  it.each([
    [
      '00112233445566778899aabbccddeeff',
      'ffeeddccbbaa99887766554433221100',
      '4a579f7efe28d0c8f8f9620825e2555b3d2f874c0ec685cf7e324922483fbee6',
    ],
    [
      '0123456789abcdef0123456789abcdef',
      'deadbeefdeadbeefdeadbeefdeadbeef',
      '230eeaefe3be7fa0bdf06c98966fad48f1c648a1eb1257c51bfa9407e5381977',
    ],
  ])('HMAC-SHA256(key = hex-decoded %s…, message = id)', (id, secret, expected) => {
    expect(deviceSignature(id, secret)).toBe(expected);
  });
});

describe('token hashes', () => {
  it('matches the reference SHA-512(token + salt) for imported service tokens', () => {
    expect(hashToken('3f2504e0-4f89-11d3-9a0c-0305e82c3301', '0123456789abcdef0123456789abcdef', 'sha512-ref')).toBe(
      '6d3be56bc6ef7185a9ced937b0ca5f0e593b8cb4867895ebdd6be8bdbaffd203ce9cc0425f9a942dbb67c9d747e4502d1a712a8b6352b1a9d1aba55b7c48fdc9',
    );
  });

  it('salts every hash and accepts only the exact token', () => {
    const a = newSaltedHash('token-one-xxxxxxxxxxxx');
    const b = newSaltedHash('token-one-xxxxxxxxxxxx');
    expect(a.hash).not.toBe(b.hash);
    expect(a.salt).toMatch(/^[0-9a-f]{32}$/);
    expect(tokenMatches('token-one-xxxxxxxxxxxx', a)).toBe(true);
    expect(tokenMatches('token-one-xxxxxxxxxxxX', a)).toBe(false);
    expect(tokenMatches('', a)).toBe(false);
  });

  it('compares strings of different lengths as unequal', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('abd', 'abc')).toBe(false);
  });
});

describe('KeyRing (AES-256-GCM)', () => {
  const ring = new KeyRing([key('k1', 1)]);
  const ctx = sealContext.totpSecret(7);

  it('round-trips and uses a fresh nonce every time', () => {
    const a = ring.seal('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', ctx);
    const b = ring.seal('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', ctx);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^v1\.k1\./);
    expect(ring.open(a, ctx)).toBe('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP');
  });

  it('refuses a value moved to another row (associated data)', () => {
    const sealed = ring.seal('secret', sealContext.totpSecret(7));
    expect(ring.open(sealed, sealContext.totpSecret(8))).toBeNull();
    expect(ring.open(sealed, sealContext.grantToken(7, 1))).toBeNull();
  });

  it('detects tampering with any byte', () => {
    const sealed = ring.seal('secret', ctx);
    const body = Buffer.from(sealed.split('.')[2] as string, 'base64url');
    for (const i of [0, 12, body.length - 1]) {
      const copy = Buffer.from(body);
      copy[i] = (copy[i] as number) ^ 1;
      expect(ring.open(`v1.k1.${copy.toString('base64url')}`, ctx)).toBeNull();
    }
    expect(ring.open('v2.k1.AAAA', ctx)).toBeNull();
    expect(ring.open('garbage', ctx)).toBeNull();
  });

  it('rotates: the first key seals, older keys still open, unknown keys do not', () => {
    const old = new KeyRing([key('k1', 1)]);
    const sealed = old.seal('v', ctx);
    const rotated = new KeyRing([key('k2', 2), key('k1', 1)]);
    expect(rotated.open(sealed, ctx)).toBe('v');
    expect(rotated.isStale(sealed)).toBe(true);
    expect(rotated.seal('v', ctx)).toMatch(/^v1\.k2\./);
    expect(new KeyRing([key('k2', 2)]).open(sealed, ctx)).toBeNull();
    // Same id, different key material: authentication fails.
    expect(new KeyRing([key('k1', 9)]).open(sealed, ctx)).toBeNull();
  });

  it('rejects keys of the wrong size', () => {
    expect(() => new KeyRing([{ id: 'k', key: Buffer.alloc(16) }])).toThrow(/32 bytes/);
    expect(() => new KeyRing([])).toThrow();
  });
});
