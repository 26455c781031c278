// The pages of invites and passkeys: the enrolment page an invite link opens, and the passkeys section of the
// account page. Plain forms where they can be; the passkey buttons need the page script (see passkeys-script.ts).
import { html } from 'hono/html';
import { layout, when } from './pages.js';

export interface EnrollPageProps {
  readonly email: string;
  /** The link's path, `/login/enroll/<token>`: the forms post to it. */
  readonly path: string;
  readonly expiresAt: number;
  /** The authenticator-app setup: the QR code as an SVG data URI, and the secret for typing. */
  readonly totp: { readonly qrDataUri: string; readonly secret: string } | undefined;
  readonly passkeys: boolean;
  /** The account signs in with passkeys only: an app set up here turns codes on again, and the page says so. */
  readonly passkeyOnly?: boolean;
  readonly rd?: string | undefined;
  readonly error?: string | undefined;
}

/** The secret in groups of four, as people type it. */
const grouped = (secret: string) => secret.match(/.{1,4}/g)?.join(' ') ?? secret;

export function enrollPage(p: EnrollPageProps) {
  return layout(
    'Set up sign-in',
    html`<h1>Set up sign-in</h1>
<p>For <strong>${p.email}</strong>. This link works once, until ${when(p.expiresAt)}.</p>
${p.error ? html`<p class="error" role="alert" id="enroll-error">${p.error}</p>` : ''}
${
  p.passkeys
    ? html`<section data-passkey hidden>
  <h2>Create a passkey</h2>
  <p class="help">Your phone, computer or security key keeps it; you unlock it with your fingerprint, face or PIN.</p>
  <button type="button" data-passkey-enroll data-options="${p.path}/passkey/options" data-verify="${p.path}/passkey/verify" data-rd="${p.rd ?? ''}">Create a passkey</button>
  <p id="passkey-status" class="error" role="alert" hidden></p>
</section>`
    : ''
}
${
  p.totp
    ? html`<section>
  <h2>${p.passkeys ? 'Or set up an authenticator app' : 'Set up an authenticator app'}</h2>
  <p class="help">Scan this code with your authenticator app.</p>
  ${p.passkeyOnly ? html`<p class="help" id="codes-on-again">Your account signs in with passkeys only now. Setting up an app here allows codes from it again; your passkeys keep working.</p>` : ''}
  <img class="qr" src="${p.totp.qrDataUri}" alt="QR code for your authenticator app" width="192" height="192">
  <p class="help">Cannot scan it? Enter this key instead:</p>
  <p class="secret" id="totp-secret">${grouped(p.totp.secret)}</p>
  <form method="post" action="${p.path}" ${p.error ? html`aria-describedby="enroll-error"` : ''}>
    ${p.rd ? html`<input type="hidden" name="rd" value="${p.rd}">` : ''}
    <label for="code">First code from the app</label>
    <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" minlength="6" maxlength="6" required>
    <button type="submit">Confirm and sign in</button>
  </form>
</section>`
    : ''
}`,
    p.passkeys,
  );
}

export interface AccountPasskey {
  readonly id: number;
  readonly name: string;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
}

export function accountPasskeys({ passkeys, passkeyOnly }: { passkeys: readonly AccountPasskey[]; passkeyOnly: boolean }) {
  return html`<h2 id="passkeys">Passkeys</h2>
${
  passkeys.length === 0
    ? html`<p>No passkeys yet.</p>`
    : html`<table>
  <caption>Passkeys that sign in to your account</caption>
  <thead><tr><th scope="col">Name</th><th scope="col">Added</th><th scope="col">Last used</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
  <tbody>
  ${passkeys.map(
    (k) => html`<tr>
    <td><form method="post" action="/login/account/passkeys/${k.id}/rename"><input name="name" value="${k.name}" maxlength="64" required aria-label="Name of passkey ${k.name}"><button type="submit">Rename</button></form></td>
    <td>${when(k.createdAt)}</td>
    <td>${when(k.lastUsedAt)}</td>
    <td><form method="post" action="/login/account/passkeys/${k.id}/remove"><button type="submit" aria-label="Remove passkey ${k.name}">Remove</button></form></td>
  </tr>`,
  )}
  </tbody>
</table>`
}
<form data-passkey-register data-passkey hidden>
  <label for="passkey-name">Name of the new passkey</label>
  <input id="passkey-name" name="name" maxlength="64" placeholder="e.g. Work laptop">
  <button type="submit">Add a passkey</button>
</form>
<p id="passkey-status" class="error" role="alert" hidden></p>
${
  passkeys.length > 0 || passkeyOnly
    ? html`<form method="post" action="/login/account/passkey-only">
  <input type="hidden" name="passkey_only" value="${passkeyOnly ? 'off' : 'on'}">
  <p>${passkeyOnly ? 'Codes from an authenticator app are turned off: this account signs in with a passkey only.' : 'This account also signs in with codes from an authenticator app.'}</p>
  <button type="submit">${passkeyOnly ? 'Allow codes again' : 'Sign in with passkeys only'}</button>
</form>`
    : ''
}`;
}
