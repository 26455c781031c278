// Rule: a Fernet token opens only if it is genuine under the key (version, length, HMAC, padding); every other
// token is `null`, never an exception and never a partial plaintext.
import { describe, expect, it } from 'vitest';
import { fernetDecrypt, parseFernetKey } from '../../src/import/fernet.js';
import { fernetEncrypt, newFernetKey } from '../support/reference-fernet.js';

// The Fernet spec's own vector (github.com/fernet/spec, generate.json), and tokens made with Python's
// cryptography 48: Fernet(KEY)._encrypt_from_parts(plaintext, 1767225600, iv).
const KEY = 'cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=';
const VECTORS = [
  {
    what: 'the spec vector',
    plaintext: 'hello',
    time: 499162800,
    iv: Buffer.from(Array.from({ length: 16 }, (_, i) => i)),
    token: 'gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==',
  },
  {
    what: 'a TOTP secret',
    plaintext: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
    time: 1767225600,
    iv: Buffer.from(Array.from({ length: 16 }, (_, i) => 16 + i)),
    token:
      'gAAAAABpVbkAEBESExQVFhcYGRobHB0eHyDXB7ck67lN8IPkTPABfYWHADzWNm9u27dGxLwOs1gKlNG6foIbjzAGFLmen3tUZ46YJamnmnbH2AeZmxP8s5Qrqsg-B79J69-H3O92rKQt',
  },
  {
    what: 'a user-service token (UUID)',
    plaintext: '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
    time: 1767225600,
    iv: Buffer.from(Array.from({ length: 16 }, (_, i) => 32 + i)),
    token:
      'gAAAAABpVbkAICEiIyQlJicoKSorLC0uL-YyIW4QhmEUK-xYRBSu44ckpfXo8enLPl_9VuroPIGuQUsv1BH2gdKPXPsX21DY_4PssKNp9MSo4T3oURJSv6EUCWw5EbGZBFL8E4AOYymy',
  },
  {
    what: 'the empty string',
    plaintext: '',
    time: 1767225600,
    iv: Buffer.alloc(16),
    token: 'gAAAAABpVbkAAAAAAAAAAAAAAAAAAAAAAG8fBjZFQ_nFMMy3I3_0HaXIWPzx4E9s-QvGo2iFBOxiVVwgeV9u98ybVmA1u-kC3A==',
  },
  {
    what: 'exactly one block (a whole block of padding follows)',
    plaintext: '0123456789abcdef',
    time: 1767225600,
    iv: Buffer.alloc(16),
    token: 'gAAAAABpVbkAAAAAAAAAAAAAAAAAAAAAAFIvyVgUe36CdXj62IA_NgT7Dlq5jSvQahlbU2NTwAnqT-qfwwLHDAzn6YpwKnwIVabyc_lrtPHT4fiud9VBMJw=',
  },
  {
    what: 'UTF-8 beyond ASCII',
    plaintext: 'päßwörd✓',
    time: 1767225600,
    iv: Buffer.alloc(16),
    token: 'gAAAAABpVbkAAAAAAAAAAAAAAAAAAAAAAIqoV6XylVxD68E7RJHr_eL_TOHvRE5LkkvatpjCszASv5Gv2fOK6O2ArhlU1FvRkg==',
  },
];

const key = parseFernetKey(KEY);
if (!key) throw new Error('the test key must parse');

/** The token with one byte of its decoded form changed, re-encoded as Python would. */
function flipByte(token: string, index: number): string {
  const data = Buffer.from(token, 'base64url');
  data[index] = (data[index] ?? 0) ^ 0x01;
  const body = data.toString('base64url');
  return body.padEnd(Math.ceil(body.length / 4) * 4, '=');
}

describe('Fernet decryption against Python-made tokens', () => {
  it.each(VECTORS)('opens $what', ({ plaintext, token }) => {
    expect(fernetDecrypt(key, token)).toBe(plaintext);
  });

  it.each(VECTORS)('the test encrypter makes the same token for $what', ({ plaintext, time, iv, token }) => {
    expect(fernetEncrypt(KEY, plaintext, { iv, timeInSeconds: time })).toBe(token);
  });

  it('round-trips with random IVs and keys', () => {
    for (let i = 0; i < 50; i++) {
      const k = newFernetKey();
      const plaintext = 'x'.repeat(i);
      const parsed = parseFernetKey(k);
      expect(parsed).toBeDefined();
      expect(fernetDecrypt(parsed as NonNullable<typeof parsed>, fernetEncrypt(k, plaintext))).toBe(plaintext);
    }
  });

  it('accepts a token without its base64 padding (the HMAC is what authenticates)', () => {
    const token = VECTORS[0]?.token ?? '';
    expect(fernetDecrypt(key, token.replace(/=+$/, ''))).toBe('hello');
  });
});

describe('Fernet rejects everything that is not genuine', () => {
  const token = VECTORS[2]?.token ?? '';
  const length = Buffer.from(token, 'base64url').length;

  it('a wrong key', () => {
    const other = parseFernetKey(newFernetKey());
    expect(fernetDecrypt(other as NonNullable<typeof other>, token)).toBeNull();
  });

  it.each([
    ['the version byte', 0],
    ['the timestamp', 3],
    ['the IV', 12],
    ['the ciphertext', 30],
    ['the last ciphertext byte', length - 33],
    ['the HMAC', length - 1],
  ])('one changed bit in %s', (_, index) => {
    expect(fernetDecrypt(key, flipByte(token, index))).toBeNull();
  });

  it('truncated, extended, empty or malformed tokens', () => {
    const data = Buffer.from(token, 'base64url');
    for (const bad of [
      '',
      'gAAAAA',
      data.subarray(0, data.length - 1).toString('base64url'),
      data.subarray(0, data.length - 16).toString('base64url'),
      data.subarray(0, 57).toString('base64url'),
      Buffer.concat([data, Buffer.alloc(16)]).toString('base64url'),
      `${token}AAAA`,
      `${token} `,
      token.replace(/-/g, '+'),
      '\u0000'.repeat(120),
    ]) {
      expect(fernetDecrypt(key, bad), JSON.stringify(bad.slice(0, 20))).toBeNull();
    }
  });

  it('a genuine token whose plaintext is not UTF-8', () => {
    expect(fernetDecrypt(key, fernetEncrypt(KEY, Buffer.from([0x41, 0xff, 0xfe])))).toBeNull();
  });
});

describe('Fernet keys', () => {
  it('takes the key as Python prints it, with or without padding, in either base64 alphabet', () => {
    expect(parseFernetKey(KEY)).toBeDefined();
    expect(parseFernetKey(KEY.replace(/=$/, ''))).toBeDefined();
    expect(parseFernetKey(` ${KEY}\n`)).toBeDefined();
    const standard = Buffer.from(KEY, 'base64url').toString('base64');
    expect(parseFernetKey(standard)?.signingKey).toEqual(key.signingKey);
    expect(key.signingKey).toEqual(Buffer.from(KEY, 'base64url').subarray(0, 16));
    expect(key.encryptionKey).toEqual(Buffer.from(KEY, 'base64url').subarray(16));
  });

  it.each([
    ['empty', ''],
    ['too short', KEY.slice(0, 40)],
    ['too long', `${KEY.slice(0, 43)}AAAA`],
    ['not base64', `${KEY.slice(0, 42)}!=`],
    ['an AES key in hex', 'ab'.repeat(32)],
  ])('refuses a key that is %s', (_, text) => {
    expect(parseFernetKey(text)).toBeUndefined();
  });
});
