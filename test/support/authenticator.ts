// A software WebAuthn authenticator for tests: an EC P-256 key from node:crypto, attestation "none" and assertions
// built by hand (authenticator data, CBOR, signatures), so tests can also make what a real one never would: a
// wrong origin or RP ID, a counter going backwards, no user verification, a replayed assertion.
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';

export type Cbor = number | string | Uint8Array | Map<number | string, Cbor>;

function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 256) return Buffer.from([(major << 5) | 24, n]);
  if (n < 65536) return Buffer.from([(major << 5) | 25, n >> 8, n & 255]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

/** The little CBOR WebAuthn needs: integers, text, bytes and maps. */
export function cbor(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}

const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;

export interface Credential {
  readonly id: Buffer;
  readonly key: KeyObject;
  readonly publicKey: KeyObject;
  readonly userHandle: string;
  counter: number;
}

export interface CeremonyOptions {
  /** The page's origin as the browser reports it. */
  readonly origin?: string;
  /** The RP ID whose hash goes into the authenticator data. */
  readonly rpId?: string;
  /** User verification performed (default true). */
  readonly uv?: boolean;
  /** The counter to report; by default one more than the last. */
  readonly counter?: number;
  /** Sign over this challenge instead of the one in the options. */
  readonly challenge?: string;
  /** Registration: this COSE public key instead of the real one (a broken key no real authenticator makes). */
  readonly cose?: Uint8Array;
  /** Registration: this credential id in the authenticator data (and, unless `reportedId`, in the JSON). */
  readonly credentialId?: Uint8Array;
  /** Registration: the id the JSON reports, whatever the authenticator data holds. */
  readonly reportedId?: string;
}

export class SoftAuthenticator {
  readonly credentials: Credential[] = [];

  constructor(
    readonly origin: string,
    readonly rpId: string,
  ) {}

  /** navigator.credentials.create() with attestation "none", as @simplewebauthn/browser sends the result. */
  register(options: { challenge: string; rp: { id?: string }; user: { id: string } }, o: CeremonyOptions = {}) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cose =
      o.cose ??
      cbor(
        new Map<number, Cbor>([
          [1, 2], // kty: EC2
          [3, -7], // alg: ES256
          [-1, 1], // crv: P-256
          [-2, Buffer.from(jwk.x as string, 'base64url')],
          [-3, Buffer.from(jwk.y as string, 'base64url')],
        ]),
      );
    const id = Buffer.from(o.credentialId ?? randomBytes(16));
    const counter = o.counter ?? 0;
    const credIdLength = Buffer.from([id.length >> 8, id.length & 255]);
    const authData = Buffer.concat([
      sha256(o.rpId ?? options.rp.id ?? this.rpId),
      Buffer.from([FLAG_UP | (o.uv === false ? 0 : FLAG_UV) | FLAG_AT]),
      uint32(counter),
      Buffer.alloc(16), // AAGUID
      credIdLength,
      id,
      cose,
    ]);
    const clientData = {
      type: 'webauthn.create',
      challenge: o.challenge ?? options.challenge,
      origin: o.origin ?? this.origin,
      crossOrigin: false,
    };
    const attestationObject = cbor(
      new Map<string, Cbor>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]),
    );
    this.credentials.push({ id, key: privateKey, publicKey, userHandle: options.user.id, counter });
    return {
      id: o.reportedId ?? b64url(id),
      rawId: o.reportedId ?? b64url(id),
      type: 'public-key' as const,
      authenticatorAttachment: 'platform' as const,
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64url(Buffer.from(JSON.stringify(clientData))),
        attestationObject: b64url(attestationObject),
        transports: ['internal'],
      },
    };
  }

  /** navigator.credentials.get() with a discoverable credential (the newest one unless told). */
  authenticate(options: { challenge: string; rpId?: string }, o: CeremonyOptions & { credential?: Credential } = {}) {
    const credential = o.credential ?? this.credentials.at(-1);
    if (!credential) throw new Error('no credential to sign with');
    credential.counter = o.counter ?? credential.counter + 1;
    const authData = Buffer.concat([
      sha256(o.rpId ?? options.rpId ?? this.rpId),
      Buffer.from([FLAG_UP | (o.uv === false ? 0 : FLAG_UV)]),
      uint32(credential.counter),
    ]);
    const clientData = {
      type: 'webauthn.get',
      challenge: o.challenge ?? options.challenge,
      origin: o.origin ?? this.origin,
      crossOrigin: false,
    };
    const clientDataJSON = Buffer.from(JSON.stringify(clientData));
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), credential.key);
    return {
      id: b64url(credential.id),
      rawId: b64url(credential.id),
      type: 'public-key' as const,
      authenticatorAttachment: 'platform' as const,
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: credential.userHandle,
      },
    };
  }
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
