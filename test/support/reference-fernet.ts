// Fernet encryption as Python's `cryptography.fernet` does it, for building reference data in tests. The product
// only decrypts (src/import/fernet.ts); the unit tests check this against tokens Python made.
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';

/** A new key as `Fernet.generate_key()` prints it: 32 random bytes, base64url with padding. */
export function newFernetKey(): string {
  return randomBytes(32).toString('base64url').concat('=');
}

export function fernetEncrypt(keyText: string, plaintext: string | Buffer, parts: { iv?: Buffer; timeInSeconds?: number } = {}): string {
  const key = Buffer.from(keyText, 'base64url');
  if (key.length !== 32) throw new Error('a Fernet key is 32 bytes');
  const iv = parts.iv ?? randomBytes(16);
  const time = Buffer.alloc(8);
  time.writeBigUInt64BE(BigInt(parts.timeInSeconds ?? Math.floor(Date.now() / 1000)));
  const cipher = createCipheriv('aes-128-cbc', key.subarray(16), iv);
  const signed = Buffer.concat([
    Buffer.from([0x80]),
    time,
    iv,
    cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext),
    cipher.final(),
  ]);
  const mac = createHmac('sha256', key.subarray(0, 16)).update(signed).digest();
  // Python pads its base64url output; stored tokens therefore end in `=` where the length needs it.
  const body = Buffer.concat([signed, mac]).toString('base64url');
  return body.padEnd(Math.ceil(body.length / 4) * 4, '=');
}
