// Rule: a new passkey is stored only if it could sign in: its COSE public key imports with node:crypto (on every
// Node version CI runs: 20 and 24), is of an algorithm registration offers, and fits the column; its credential id
// holds 1 to 1023 bytes. An attestation of type "none" vouches for none of it.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isUsablePasskey, PASSKEY_BOUNDS } from '../../src/core/passkey-key.js';
import { type Cbor, cbor } from '../support/authenticator.js';

const cose = (entries: Array<[number, Cbor]>) => cbor(new Map<number, Cbor>(entries));
const b = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');
const ID = 'AAECAwQFBgcICQoLDA0ODw';

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
const es256 = cose([
  [1, 2],
  [3, -7],
  [-1, 1],
  [-2, b(ec.x)],
  [-3, b(ec.y)],
]);
const eddsa = cose([
  [1, 1],
  [3, -8],
  [-1, 6],
  [-2, b(ed.x)],
]);
const rs256 = cose([
  [1, 3],
  [3, -257],
  [-1, b(rsa.n)],
  [-2, b(rsa.e)],
]);

describe('a new passkey is usable', () => {
  it('accepts real ES256, Ed25519 and RS256 keys', () => {
    for (const key of [es256, eddsa, rs256]) expect(isUsablePasskey(ID, key)).toBe(true);
  });

  it('refuses keys that do not import or are not what registration offers', () => {
    const offCurve = b(ec.y);
    offCurve[0] = (offCurve[0] ?? 0) ^ 1;
    const refused: Record<string, Uint8Array> = {
      'an unknown key type': cose([
        [1, 99],
        [3, -7],
        [-1, 1],
        [-2, b(ec.x)],
        [-3, b(ec.y)],
      ]),
      'an EC point off the curve': cose([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, b(ec.x)],
        [-3, offCurve],
      ]),
      'a P-384 curve under ES256': cose([
        [1, 2],
        [3, -7],
        [-1, 2],
        [-2, b(ec.x)],
        [-3, b(ec.y)],
      ]),
      'an EC key under RS256': cose([
        [1, 2],
        [3, -257],
        [-1, 1],
        [-2, b(ec.x)],
        [-3, b(ec.y)],
      ]),
      'an algorithm not offered (ES384)': cose([
        [1, 2],
        [3, -35],
        [-1, 1],
        [-2, b(ec.x)],
        [-3, b(ec.y)],
      ]),
      'a 31-byte Ed25519 key': cose([
        [1, 1],
        [3, -8],
        [-1, 6],
        [-2, b(ed.x).subarray(0, 31)],
      ]),
      'a 1-byte RSA modulus': cose([
        [1, 3],
        [3, -257],
        [-1, Buffer.from([0xc3])],
        [-2, b(rsa.e)],
      ]),
      'an RSA exponent of 1': cose([
        [1, 3],
        [3, -257],
        [-1, b(rsa.n)],
        [-2, Buffer.from([1])],
      ]),
      'an even RSA modulus': cose([
        [1, 3],
        [3, -257],
        [-1, Buffer.concat([b(rsa.n).subarray(0, 255), Buffer.from([2])])],
        [-2, b(rsa.e)],
      ]),
      'a key too long for its column': cose([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.alloc(1000, 1)],
        [-3, Buffer.alloc(1000, 2)],
      ]),
      'no key at all': new Uint8Array(0),
      'not CBOR': Buffer.from([0xff, 0x00, 0x13]),
      'a CBOR number': cbor(7),
    };
    for (const [what, key] of Object.entries(refused)) expect(isUsablePasskey(ID, key), what).toBe(false);
  });

  it('refuses empty and over-long credential ids, and allows the longest WebAuthn allows', () => {
    expect(isUsablePasskey('', es256)).toBe(false);
    expect(isUsablePasskey(Buffer.alloc(1023, 1).toString('base64url'), es256)).toBe(true);
    expect(Buffer.alloc(1023).toString('base64url')).toHaveLength(PASSKEY_BOUNDS.credentialIdChars);
    expect(isUsablePasskey(Buffer.alloc(1024, 1).toString('base64url'), es256)).toBe(false);
  });
});
