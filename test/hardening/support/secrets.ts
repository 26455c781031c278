// What must never appear in a log line: TOTP secrets and codes, device cookie values, service and proxy tokens,
// user-service tokens, the encryption keys, invite tokens, WebAuthn challenges and their cookie handles. Tests note every such value they create or see, then scan output.

export type SecretKind =
  | 'totp-secret'
  | 'totp-code'
  | 'device-id'
  | 'hmac-secret'
  | 'service-token'
  | 'proxy-token'
  | 'user-service-token'
  | 'encryption-key'
  | 'invite-token'
  | 'webauthn-challenge'
  | 'challenge-handle';

export interface Finding {
  readonly kind: SecretKind;
  /** Only the first characters of the value, so a failure message is no leak of its own. */
  readonly valueStart: string;
  readonly line: string;
}

export class SecretLedger {
  readonly #values = new Map<string, SecretKind>();

  add(kind: SecretKind, value: string | undefined | null): void {
    if (value) this.#values.set(value, kind);
  }

  /** The device cookies of a `Cookie` header (`device_id=…; hmac_secret=…`). */
  addCookies(cookieHeader: string): void {
    for (const part of cookieHeader.split(';')) {
      const [name, value] = part.trim().split('=');
      if (name === 'device_id') this.add('device-id', value);
      if (name === 'hmac_secret') this.add('hmac-secret', value);
    }
  }

  /** `ENCRYPTION_KEYS` (`id:base64,…`): each key in base64, base64url and hex. */
  addEncryptionKeys(keys: string): void {
    for (const entry of keys.split(',')) {
      const b64 = entry.slice(entry.indexOf(':') + 1).trim();
      const bytes = Buffer.from(b64, 'base64');
      this.add('encryption-key', b64.replace(/=+$/, ''));
      this.add('encryption-key', bytes.toString('base64url'));
      this.add('encryption-key', bytes.toString('hex'));
    }
  }

  get size(): number {
    return this.#values.size;
  }

  /** Every line of `text` that contains a noted value. Codes count only as whole 6-digit numbers. */
  scan(text: string): Finding[] {
    const findings: Finding[] = [];
    const lines = text.split('\n');
    for (const [value, kind] of this.#values) {
      const matches =
        kind === 'totp-code'
          ? // A code is six digits: inside a longer word (a hex id, an email's random part) it is a coincidence.
            (line: string) => new RegExp(`(?<![0-9A-Za-z])${value}(?![0-9A-Za-z])`).test(line)
          : (line: string) => line.includes(value);
      for (const line of lines) {
        if (matches(line)) findings.push({ kind, valueStart: `${value.slice(0, 4)}…`, line: line.slice(0, 300) });
      }
    }
    return findings;
  }
}
