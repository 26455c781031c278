// Encryption keys as written in ENCRYPTION_KEYS or a key file: `<id>:<32 bytes in base64>`, comma- or
// newline-separated. The first seals new values; all of them open (rotation).
import { type EncryptionKey, KEY_ID } from '../core/crypto.js';

/**
 * Keys published in `.env.testing`. They protect nothing, so production refuses them. Listed by value on
 * purpose: the check must work where `.env.testing` is not shipped (the Docker image).
 */
const PUBLIC_TEST_KEYS = ['Le3KcBetev2nVfFI9w1ZDPuPV9HpLpbF6th4waZ8ELg='];

const MAKE_ONE = `node -e "console.log('k1:'+require('crypto').randomBytes(32).toString('base64'))"`;

/** Adds the keys in `text` (from `source`, for messages) to `keys`, and a problem line for each bad entry. */
export function readKeys(source: string, text: string, production: boolean, keys: EncryptionKey[], problems: string[]): void {
  const entries = text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
  for (const [i, entry] of entries.entries()) {
    const colon = entry.indexOf(':');
    const id = entry.slice(0, colon);
    const encoded = entry.slice(colon + 1);
    const key =
      colon > 0 && KEY_ID.test(id) && /^[A-Za-z0-9+/_-]{43}=?$/.test(encoded)
        ? Buffer.from(encoded.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
        : undefined;
    if (key?.length !== 32) {
      problems.push(`${source}: entry ${i + 1} must be <id>:<32 bytes in base64> (make one with: ${MAKE_ONE})`);
      continue;
    }
    if (production && PUBLIC_TEST_KEYS.includes(encoded))
      problems.push(`${source}: key ${id} is a public test key from .env.testing; it protects nothing in production`);
    if (keys.some((k) => k.id === id)) problems.push(`${source}: key id ${id} appears twice`);
    keys.push({ id, key });
  }
}
