// The HTML pages: plain forms that work without JavaScript, one stylesheet, no inline script or style.
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { PASSKEYS_SCRIPT_PATH, WEBAUTHN_SCRIPT_PATH } from './passkeys-script.js';

export const STYLESHEET_PATH = '/login/static/style.css';
/** Under /login/ so that the proxies route it to this service with the other login pages. */
export const FAVICON_PATH = '/login/static/favicon.svg';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** A page; `scripts` adds the passkey scripts (from this origin, deferred: the CSP allows nothing inline). */
export function layout(title: string, body: Html, scripts = false) {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title}</title>
<link rel="stylesheet" href="${STYLESHEET_PATH}">
<link rel="icon" href="${FAVICON_PATH}" type="image/svg+xml">
${
  scripts
    ? html`<script src="${WEBAUTHN_SCRIPT_PATH}" defer></script>
<script src="${PASSKEYS_SCRIPT_PATH}" defer></script>`
    : ''
}
</head>
<body>
<main>
${body}
</main>
</body>
</html>`;
}

export interface LoginPageProps {
  readonly rd?: string | undefined;
  readonly email?: string | undefined;
  readonly error?: string | undefined;
  /** A notice that is no error, e.g. "You have signed out." */
  readonly notice?: string | undefined;
  /** Offer "Sign in with a passkey" and passkeys in the email field's autofill. */
  readonly passkeys?: boolean | undefined;
  /** A signed-in device asked to sign in again (a `recent:N` rule): it keeps its cookies. */
  readonly fresh?: boolean | undefined;
}

export function loginPage({ rd, email, error, notice, passkeys, fresh = false }: LoginPageProps) {
  return layout(
    fresh ? 'Sign in again' : 'Sign in',
    html`<h1>${fresh ? 'Sign in again' : 'Sign in'}</h1>
${fresh ? html`<p id="fresh-help">This page needs a recent sign-in. Enter a new code${passkeys ? ' or use your passkey' : ''} to continue.</p>` : ''}
${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
${error ? html`<p class="error" role="alert" id="login-error">${error}</p>` : ''}
<form method="post" action="/login" ${error ? html`aria-describedby="login-error"` : ''}>
  ${rd ? html`<input type="hidden" name="rd" value="${rd}">` : ''}
  ${fresh ? html`<input type="hidden" name="fresh" value="1">` : ''}
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="${passkeys ? 'username webauthn' : 'username'}" required maxlength="254" value="${email ?? ''}" ${email ? '' : 'autofocus'}>
  <label for="code">Code</label>
  <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" minlength="6" maxlength="6" required aria-describedby="code-help" ${email ? 'autofocus' : ''}>
  <p id="code-help" class="help">The 6-digit code from your authenticator app.</p>
  <button type="submit">Sign in</button>
</form>
${
  passkeys
    ? html`<div data-passkey hidden>
  <p class="or">or</p>
  <button type="button" class="secondary" data-passkey-login data-rd="${rd ?? ''}">Sign in with a passkey</button>
</div>
<p id="passkey-status" class="error" role="alert" hidden></p>`
    : ''
}`,
    passkeys,
  );
}

/**
 * A `passkey` access rule met a device signed in with a code: sign in again with a passkey (the device keeps its
 * cookies), or, for an account without one, how to add one.
 */
export function stepUpPage({
  rd,
  email,
  hasPasskey,
  passkeys,
}: {
  rd: string | undefined;
  email: string;
  hasPasskey: boolean;
  passkeys: boolean;
}) {
  const ready = passkeys && hasPasskey;
  return layout(
    'Passkey needed',
    html`<h1>This page needs your passkey</h1>
<p>You are signed in as <strong>${email}</strong> with a code. To open this page, confirm it is you with your passkey.</p>
${
  ready
    ? html`<div data-passkey hidden>
  <button type="button" data-passkey-login data-rd="${rd ?? ''}">Continue with your passkey</button>
</div>
<p id="passkey-status" class="error" role="alert" hidden></p>`
    : passkeys
      ? html`<p id="no-passkey">Your account has no passkey yet. Add one on <a href="/login/account">your account page</a> (Passkeys, Add a passkey), then come back to this page.</p>`
      : html`<p id="no-passkey">Passkeys are not available on this sign-in server. Ask whoever runs it.</p>`
}`,
    ready,
  );
}

export function signedInPage({ email, deviceType }: { email: string; deviceType: string }) {
  return layout(
    'Signed in',
    html`<h1>Signed in</h1>
<p>You are signed in as <strong>${email}</strong> on this device (${deviceType}).</p>
<p><a href="/login/account">Your devices</a></p>
<form method="post" action="/logout">
  <button type="submit">Sign out</button>
</form>`,
  );
}

export const when = (ms: number | null) =>
  ms === null
    ? 'never'
    : new Date(ms)
        .toISOString()
        .replace('T', ' ')
        .replace(/:\d\d\.\d+Z$/, ' UTC');

/**
 * What a signed-in user sees when a proxy refuses them a service (Traefik and Caddy pass /verify's page on): who
 * they are signed in as, and a way to sign out and in as someone else. Served under the app's own origin, so
 * its stylesheet and the sign-out form go through the proxy's routes to the sidecar.
 */
export function noAccessPage({
  email,
  service,
  unknown,
  closed = false,
}: {
  email: string | undefined;
  service: string;
  unknown: boolean;
  /** Refused by an access rule (a `deny` rule, or a path that cannot be read), whoever asks. */
  closed?: boolean;
}): string {
  if (closed) {
    return layout(
      'No access',
      html`<h1>No access</h1>
<p>This address of <code>${service}</code> is closed${email === undefined ? '' : html` (you are signed in as <strong>${email}</strong>)`}.</p>
<p>If you should be able to open it, ask whoever runs it.</p>`,
    ).toString();
  }
  return layout(
    'No access',
    html`<h1>No access</h1>
<p>You are signed in as <strong>${email ?? ''}</strong>, ${
      unknown
        ? html`but this site is not set up for sign-in here yet (no service named <code>${service}</code>). Please tell whoever runs it.`
        : html`and that account has no access to this service (<code>${service}</code>).`
    }</p>
<p>If you should have access, ask whoever runs it to grant it, or sign in with another account.</p>
<p><a href="/login/account">Your account</a></p>
<form method="post" action="/logout">
  <button type="submit">Sign out</button>
</form>`,
  ).toString();
}

/**
 * What a person sees when the proxy in front of a site asks this service without a usable token (Traefik and
 * Caddy pass /verify's page on): nothing they can fix, so it speaks to whoever runs the site.
 */
export function proxyNotSetUpPage(): string {
  return layout(
    'Sign-in is not set up correctly',
    html`<h1>Sign-in is not set up correctly</h1>
<p>This site's proxy could not check who you are, so the site cannot be opened right now. Please tell whoever runs it.</p>
<h2>For whoever runs this site</h2>
<p>The proxy asked passwordless-auth's <code>/verify</code> without a token it accepts. Check that the proxy sends
<code>X-Service-Token</code> (or <code>Authorization: Bearer</code>) with a token from
<code>passwordless-auth proxy-token add</code> (or <code>service add</code>), that the value came through (an unset
environment variable leaves it empty), and that the sidecar uses the database the token was made in. The sidecar's
log has a <code>verify.bad-credential</code> warning naming the proxy, its address and what was wrong.</p>`,
  ).toString();
}

export function messagePage(title: string, message: string) {
  return layout(title, html`<h1>${title}</h1><p>${message}</p>`);
}

export const STYLESHEET = `
:root { color-scheme: light dark; font-family: system-ui, sans-serif; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: Canvas; color: CanvasText; }
main { width: min(40rem, 92vw); box-sizing: border-box; margin: 2rem 0; padding: 2rem; border: 1px solid color-mix(in srgb, CanvasText 20%, transparent); border-radius: .75rem; }
h1 { margin-top: 0; font-size: 1.5rem; }
form { display: grid; gap: .5rem; }
label { font-weight: 600; margin-top: .5rem; }
input { font: inherit; padding: .6rem; border-radius: .4rem; border: 1px solid GrayText; }
button { font: inherit; margin-top: 1rem; padding: .7rem; border-radius: .4rem; border: 0; background: #2457c5; color: white; cursor: pointer; }
button:focus-visible, input:focus-visible { outline: 3px solid #7aa2ff; outline-offset: 2px; }
.help { margin: 0; font-size: .85rem; color: GrayText; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { text-align: left; padding: .4rem; border-bottom: 1px solid color-mix(in srgb, CanvasText 20%, transparent); }
caption { text-align: left; font-weight: 600; }
td button { margin: 0; padding: .3rem .6rem; white-space: nowrap; }
.notice { padding: .6rem; border-radius: .4rem; background: #e6f4ea; color: #14532d; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
[hidden] { display: none !important; }
.or { text-align: center; margin: 1rem 0 0; color: GrayText; }
button.secondary { background: transparent; color: inherit; border: 1px solid GrayText; width: 100%; }
h2 { font-size: 1.15rem; margin-top: 2rem; }
.qr { display: block; width: 12rem; height: 12rem; margin: .5rem 0; background: white; padding: .5rem; border-radius: .4rem; }
.secret { font-family: ui-monospace, monospace; font-size: 1.1rem; letter-spacing: .05em; word-spacing: .4em; }
td form { display: flex; gap: .3rem; }
td input { padding: .3rem; width: 9rem; }
.error { padding: .6rem; border-radius: .4rem; background: #fde8e8; color: #8a1111; }
button.danger { background: #b42318; }
button.danger:focus-visible { outline-color: #f29b93; }
a.button { display: inline-block; padding: .7rem; border-radius: .4rem; background: #2457c5; color: white; text-decoration: none; }
.back { margin: 0 0 1rem; }
`;

/** A key on a blue tile. */
export const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#2457c5"/><circle cx="12" cy="16" r="6" fill="none" stroke="#fff" stroke-width="3"/><path d="M18 16h10M24 16v5M28 16v4" stroke="#fff" stroke-width="3" fill="none"/></svg>`;
