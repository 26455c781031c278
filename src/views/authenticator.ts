// Setting up an authenticator app, the same on the enrolment page and the account page: the QR code (drawn on the
// server as SVG), the key in groups for typing, a link that opens the app on a phone, and the first code.
import { html } from 'hono/html';
import QRCode from 'qrcode';
import { layout } from './pages.js';

export interface TotpSetup {
  readonly secret: string;
  /** The otpauth:// URI: in the QR code, and the link a phone opens its authenticator app with. */
  readonly uri: string;
  /** The QR code as an SVG data URI. */
  readonly qrDataUri: string;
}

export async function totpSetup(secret: string, uri: string): Promise<TotpSetup> {
  const svg = await QRCode.toString(uri, { type: 'svg', margin: 1 });
  return { secret, uri, qrDataUri: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` };
}

/** The secret in groups of four, as people type it. */
const grouped = (secret: string) => secret.match(/.{1,4}/g)?.join(' ') ?? secret;

export interface TotpFormProps {
  readonly heading: string;
  readonly totp: TotpSetup;
  /** Where the form posts, and the hidden fields it carries besides the code. */
  readonly action: string;
  readonly hidden: Readonly<Record<string, string | undefined>>;
  readonly submit: string;
  /** The id of an error message the form refers to. */
  readonly describedBy?: string | undefined;
  /** A sentence on what setting up the app changes, shown above the code. */
  readonly note?: string | undefined;
}

export function totpSetupSection(p: TotpFormProps) {
  return html`<section>
  <h2>${p.heading}</h2>
  <p class="help">Scan this code with your authenticator app.</p>
  ${p.note ? html`<p class="help">${p.note}</p>` : ''}
  <img class="qr" src="${p.totp.qrDataUri}" alt="QR code for your authenticator app" width="192" height="192">
  <p class="help">Cannot scan it? Enter this key instead:</p>
  <p class="secret" id="totp-secret">${grouped(p.totp.secret)}</p>
  <p class="help">On this phone? <a href="${p.totp.uri}">Open it in your authenticator app</a>.</p>
  <form method="post" action="${p.action}" ${p.describedBy ? html`aria-describedby="${p.describedBy}"` : ''}>
    ${Object.entries(p.hidden).map(([name, value]) => (value ? html`<input type="hidden" name="${name}" value="${value}">` : ''))}
    <label for="code">First code from the app</label>
    <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" minlength="6" maxlength="6" required>
    <button type="submit">${p.submit}</button>
  </form>
</section>`;
}

/** The account page's "add an authenticator app" page. */
export function addAuthenticatorPage({
  email,
  totp,
  sealed,
  error,
}: {
  email: string;
  totp: TotpSetup;
  sealed: string;
  error?: string | undefined;
}) {
  return layout(
    'Add an authenticator app',
    html`<h1>Add an authenticator app</h1>
<p>For <strong>${email}</strong>. Once the first code is confirmed, you can sign in with a code from the app as well as with your passkeys.</p>
${error ? html`<p class="error" role="alert" id="totp-error">${error}</p>` : ''}
${totpSetupSection({
  heading: 'Set up the app',
  totp,
  action: '/login/account/authenticator',
  hidden: { offer: sealed },
  submit: 'Confirm the app',
  describedBy: error ? 'totp-error' : undefined,
})}
<p><a href="/login/account">Back to your account</a></p>`,
  );
}

/**
 * The account page's section on the authenticator app: what the account really has, turning codes off (only when
 * there are both codes and a passkey) or on, and removing the app while a passkey remains.
 */
export function accountAuthenticator({
  hasTotp,
  passkeyCount,
  passkeyOnly,
}: {
  hasTotp: boolean;
  passkeyCount: number;
  passkeyOnly: boolean;
}) {
  if (!hasTotp) {
    return html`<h2 id="authenticator">Authenticator app</h2>
<p>No authenticator app is set up${passkeyCount > 0 ? html`: this account signs in with ${passkeyCount === 1 ? 'its passkey' : 'its passkeys'} only` : ''}.</p>
<p><a class="button" href="/login/account/authenticator">Add an authenticator app</a></p>`;
  }
  const toggle =
    passkeyCount > 0 || passkeyOnly
      ? html`<form method="post" action="/login/account/passkey-only">
  <input type="hidden" name="passkey_only" value="${passkeyOnly ? 'off' : 'on'}">
  <button type="submit" class="secondary">${passkeyOnly ? 'Allow codes again' : 'Sign in with passkeys only'}</button>
</form>`
      : '';
  return html`<h2 id="authenticator">Authenticator app</h2>
<p>${
    passkeyOnly
      ? 'An authenticator app is set up, but codes are turned off: this account signs in with a passkey only.'
      : 'This account signs in with codes from an authenticator app.'
  }</p>
${toggle}
${
  passkeyCount > 0
    ? html`<form method="post" action="/login/account/authenticator/remove">
  <button type="submit" class="danger">Remove the authenticator app</button>
</form>`
    : html`<p class="help">Add a passkey to turn codes off or remove the app: without either you could not sign in.</p>`
}`;
}
