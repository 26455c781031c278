// Who passkeys belong to: the WebAuthn relying-party ID and the page origins a ceremony may come from, derived
// from PUBLIC_URL and COOKIE_DOMAIN. With a cookie domain the RP ID is that domain, so one passkey works on every
// app under it (as the device cookies do); without one it is PUBLIC_URL's host.
import { isIP } from 'node:net';

export interface RelyingParty {
  /** The RP ID: a domain name, never an address. */
  readonly id: string;
  /** The name authenticators show next to the account. */
  readonly name: string;
  /** Whether a ceremony made on a page of this origin (`https://host[:port]`) counts. */
  isAllowedOrigin(origin: string): boolean;
}

const isLoopbackName = (host: string) => host === 'localhost' || host.endsWith('.localhost');

/**
 * The relying party, or why there cannot be one: `problem` when the settings contradict each other (a start-up
 * error), `unavailable` when PUBLIC_URL names an IP address, which WebAuthn does not accept as an RP ID (codes
 * still work then).
 */
export function relyingParty(input: {
  readonly publicUrl: string;
  readonly cookieDomain: string | undefined;
  readonly insecureHttp: boolean;
  readonly name: string;
}): { readonly relyingParty: RelyingParty } | { readonly problem: string } | { readonly unavailable: string } {
  const own = new URL(input.publicUrl);
  const host = own.hostname;
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0) {
    return { unavailable: `PUBLIC_URL names an IP address (${host}); passkeys need a host name, so they are off` };
  }
  const domain = input.cookieDomain;
  if (domain !== undefined && host !== domain && !host.endsWith(`.${domain}`)) {
    return {
      problem: `${domain} does not contain PUBLIC_URL's host ${host}; the device cookies and passkeys (relying party ${domain}) cannot work from the login page`,
    };
  }
  const id = domain ?? host;
  const isAllowedOrigin = (origin: string): boolean => {
    if (origin === own.origin) return true;
    if (domain === undefined || !URL.canParse(origin)) return false;
    const url = new URL(origin);
    // An origin is scheme, host and port only; anything more is not what a browser reports.
    if (url.origin !== origin) return false;
    const secure = url.protocol === 'https:' || (url.protocol === 'http:' && (input.insecureHttp || isLoopbackName(url.hostname)));
    return secure && (url.hostname === domain || url.hostname.endsWith(`.${domain}`));
  };
  return { relyingParty: { id, name: input.name, isAllowedOrigin } };
}
