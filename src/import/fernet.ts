// Fernet decryption (https://github.com/fernet/spec), for reading what the reference service encrypted with
// Python's `cryptography.fernet`. Only decryption: nothing here encrypts with Fernet.
import { createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';

export interface FernetKey {
  /** The first 16 bytes of the key: HMAC-SHA256 over the token. */
  readonly signingKey: Buffer;
  /** The last 16 bytes: AES-128-CBC. */
  readonly encryptionKey: Buffer;
}

const VERSION = 0x80;
const HEADER_BYTES = 1 + 8 + 16;
const HMAC_BYTES = 32;
const BLOCK_BYTES = 16;
/** 32 bytes as base64url (Python's `Fernet.generate_key()`), padded or not; the standard alphabet is accepted too. */
const KEY_SHAPE = /^[A-Za-z0-9_+/-]{43}=?$/;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]+={0,2}$/;

/** The key as `Fernet(key)` takes it, or `undefined` if it is not 32 bytes of base64url. */
export function parseFernetKey(text: string): FernetKey | undefined {
  const trimmed = text.trim();
  if (!KEY_SHAPE.test(trimmed)) return undefined;
  const bytes = Buffer.from(trimmed.replace(/\+/g, '-').replace(/\//g, '_'), 'base64url');
  if (bytes.length !== 32) return undefined;
  return { signingKey: bytes.subarray(0, 16), encryptionKey: bytes.subarray(16) };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The plaintext of a Fernet token as UTF-8, or `null` for anything that is not a genuine token under this key:
 * bad encoding, wrong version, too short, wrong HMAC (checked in constant time before any decryption), bad
 * padding, or bytes that are not UTF-8. The timestamp is not checked, as the reference decrypts without a TTL.
 */
export function fernetDecrypt(key: FernetKey, token: string): string | null {
  if (!TOKEN_SHAPE.test(token)) return null;
  const data = Buffer.from(token, 'base64url');
  const cipherBytes = data.length - HEADER_BYTES - HMAC_BYTES;
  if (cipherBytes < BLOCK_BYTES || cipherBytes % BLOCK_BYTES !== 0 || data[0] !== VERSION) return null;
  const signed = data.subarray(0, data.length - HMAC_BYTES);
  const expected = createHmac('sha256', key.signingKey).update(signed).digest();
  if (!timingSafeEqual(expected, data.subarray(data.length - HMAC_BYTES))) return null;
  try {
    const decipher = createDecipheriv('aes-128-cbc', key.encryptionKey, data.subarray(9, HEADER_BYTES));
    const plain = Buffer.concat([decipher.update(data.subarray(HEADER_BYTES, data.length - HMAC_BYTES)), decipher.final()]);
    return utf8.decode(plain);
  } catch {
    return null;
  }
}
