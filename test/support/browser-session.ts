// A browser for HTTP tests against a TestApp: a cookie jar (Set-Cookie in, Cookie out, Max-Age=0 deletes), the
// page's Origin on every POST as a browser sends it, and the passkey ceremonies driven with a SoftAuthenticator.

import type { TestApp } from './app.js';
import { SoftAuthenticator } from './authenticator.js';

export const ORIGIN = 'https://auth.example.com';
const RP_ID = 'example.com';

export class BrowserSession {
  readonly jar = new Map<string, string>();
  readonly authenticator: SoftAuthenticator;

  constructor(
    readonly t: TestApp,
    readonly origin = ORIGIN,
  ) {
    this.authenticator = new SoftAuthenticator(origin, RP_ID);
  }

  get cookie(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  absorb(res: Response): Response {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const gone = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (gone) this.jar.delete(name);
      else this.jar.set(name, pair.slice(eq + 1).trim());
    }
    return res;
  }

  async get(path: string): Promise<Response> {
    return this.absorb(await this.t.request(path, { headers: { Cookie: this.cookie } }));
  }

  async postJson(path: string, body: unknown = {}): Promise<Response> {
    return this.absorb(
      await this.t.request(path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Origin: this.origin, Cookie: this.cookie },
        body: JSON.stringify(body),
      }),
    );
  }

  async postForm(path: string, fields: Record<string, string>): Promise<Response> {
    return this.absorb(
      await this.t.request(path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: this.origin, Cookie: this.cookie },
        body: new URLSearchParams(fields).toString(),
      }),
    );
  }

  /** Signs in with a code (the device cookies land in the jar). */
  async loginWithCode(email: string, secret: string): Promise<void> {
    const res = await this.postForm('/login', { email, code: await this.t.nextCode(secret) });
    if (res.status !== 303) throw new Error(`code login failed: ${res.status}`);
  }

  /** Adds a passkey on the account page; returns the verify response. */
  async addPasskey(name = 'Test key'): Promise<Response> {
    const options = await this.postJson('/login/account/passkeys/options');
    if (options.status !== 200) throw new Error(`options: ${options.status} ${await options.text()}`);
    const json = (await options.json()) as Parameters<SoftAuthenticator['register']>[0];
    return this.postJson('/login/account/passkeys', { response: this.authenticator.register(json), name });
  }

  /** Fetches sign-in options: the challenge cookie lands in the jar. */
  async signInOptions(): Promise<{ challenge: string; rpId?: string }> {
    const res = await this.postJson('/login/passkey/options');
    if (res.status !== 200) throw new Error(`options: ${res.status} ${await res.text()}`);
    return (await res.json()) as { challenge: string; rpId?: string };
  }

  /** A whole passkey sign-in; `tamper` may change the assertion's inputs. */
  async signInWithPasskey(tamper: Parameters<SoftAuthenticator['authenticate']>[1] = {}, rd?: string): Promise<Response> {
    const options = await this.signInOptions();
    return this.postJson('/login/passkey/verify', { response: this.authenticator.authenticate(options, tamper), ...(rd ? { rd } : {}) });
  }
}
