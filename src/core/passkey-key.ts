// What a new passkey must be before it is stored: a credential id of a size WebAuthn allows, and a public key that
// node:crypto imports, of an algorithm offered, within the sizes the columns hold. An attestation of type "none"
// vouches for nothing, so a key that cannot sign in (an unknown key type, a point off the curve, a 1-byte RSA
// modulus, a 31-byte Ed25519 key) would otherwise be stored, spend an invite, and never work.
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { cose, decodeCredentialPublicKey } from '@simplewebauthn/server/helpers';

/**
 * Bounds of what is stored for a passkey, in characters as stored (base64url), matching the columns on every
 * dialect (sql/*\/003_passkeys_invites.sql: credential_id 1400, public_key 2048, name 64).
 */
export const PASSKEY_BOUNDS = {
  /** WebAuthn: at most 1023 bytes, 1364 characters of base64url. */
  credentialIdChars: 1364,
  /** 1536 bytes of COSE key: an RS256 key with a 8192-bit modulus takes about 1040. */
  publicKeyChars: 2048,
  nameChars: 64,
} as const;

const RSA_MIN_BITS = 2048;
const RSA_MAX_BITS = 8192;

/** COSE algorithm → the key type and curve it needs. Ed25519, ES256 (P-256) and RS256: what registration offers. */
const ALGORITHMS = new Map<number, { kty: number; crv?: number }>([
  [cose.COSEALG.EdDSA, { kty: cose.COSEKTY.OKP, crv: cose.COSECRV.ED25519 }],
  [cose.COSEALG.ES256, { kty: cose.COSEKTY.EC2, crv: cose.COSECRV.P256 }],
  [cose.COSEALG.RS256, { kty: cose.COSEKTY.RSA }],
]);

const b64 = (bytes: unknown) => (bytes instanceof Uint8Array ? Buffer.from(bytes).toString('base64url') : undefined);

/** The COSE key as a JWK node:crypto can import, or `undefined` when it is not one of the three kinds offered. */
function toJwk(key: Map<number, unknown>): JsonWebKey | undefined {
  const alg = key.get(cose.COSEKEYS.alg);
  const wanted = typeof alg === 'number' ? ALGORITHMS.get(alg) : undefined;
  if (!wanted || key.get(cose.COSEKEYS.kty) !== wanted.kty) return undefined;
  if (wanted.crv !== undefined && key.get(cose.COSEKEYS.crv) !== wanted.crv) return undefined;
  if (wanted.kty === cose.COSEKTY.OKP) {
    const x = b64(key.get(cose.COSEKEYS.x));
    return x === undefined ? undefined : { kty: 'OKP', crv: 'Ed25519', x };
  }
  if (wanted.kty === cose.COSEKTY.EC2) {
    const x = b64(key.get(cose.COSEKEYS.x));
    const y = b64(key.get(cose.COSEKEYS.y));
    return x === undefined || y === undefined ? undefined : { kty: 'EC', crv: 'P-256', x, y };
  }
  const n = key.get(cose.COSEKEYS.n);
  const e = key.get(cose.COSEKEYS.e);
  if (!(n instanceof Uint8Array) || !(e instanceof Uint8Array)) return undefined;
  // node:crypto imports any modulus and exponent (even 1 byte, even e = 1): the sizes are checked here.
  const modulus = BigInt(`0x${Buffer.from(n).toString('hex') || '0'}`);
  const exponent = BigInt(`0x${Buffer.from(e).toString('hex') || '0'}`);
  const bits = modulus.toString(2).length;
  if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS || modulus % 2n === 0n) return undefined;
  if (exponent < 3n || exponent % 2n === 0n || exponent >= modulus) return undefined;
  return { kty: 'RSA', n: b64(n), e: b64(e) };
}

/**
 * Whether a new passkey can be stored: its credential id (base64url) holds 1 to 1023 bytes, and its COSE public
 * key is within bounds, of an offered algorithm, and imports with node:crypto (on Node 20 as on 24).
 */
export function isUsablePasskey(credentialId: string, publicKey: Uint8Array): boolean {
  if (credentialId.length === 0 || credentialId.length > PASSKEY_BOUNDS.credentialIdChars) return false;
  if (publicKey.byteLength === 0 || Buffer.from(publicKey).toString('base64url').length > PASSKEY_BOUNDS.publicKeyChars) return false;
  try {
    const decoded: unknown = decodeCredentialPublicKey(new Uint8Array(publicKey));
    if (!(decoded instanceof Map)) return false;
    const jwk = toJwk(decoded as Map<number, unknown>);
    if (!jwk) return false;
    createPublicKey({ key: jwk, format: 'jwk' });
    return true;
  } catch {
    return false;
  }
}
