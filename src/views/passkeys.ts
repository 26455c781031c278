// The pages of invites and passkeys: the enrolment page an invite link opens, and the passkeys section of the
// account page. Plain forms where they can be; the passkey buttons need the page script (see passkeys-script.ts).
import { html } from 'hono/html';
import { type TotpSetup, totpSetupSection } from './authenticator.js';
import { layout, when } from './pages.js';

export interface EnrollPageProps {
  readonly email: string;
  /** The link's path, `/login/enroll/<token>`: the forms post to it. */
  readonly path: string;
  readonly expiresAt: number;
  /** The authenticator-app setup: the QR code, the secret for typing and the link for phones. */
  readonly totp: TotpSetup | undefined;
  readonly passkeys: boolean;
  /** The account signs in with passkeys only: an app set up here turns codes on again, and the page says so. */
  readonly passkeyOnly?: boolean;
  readonly rd?: string | undefined;
  readonly error?: string | undefined;
}

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
    ? totpSetupSection({
        heading: p.passkeys ? 'Or set up an authenticator app' : 'Set up an authenticator app',
        totp: p.totp,
        action: p.path,
        hidden: { rd: p.rd },
        submit: 'Confirm and sign in',
        describedBy: p.error ? 'enroll-error' : undefined,
        note: p.passkeyOnly
          ? 'Your account signs in with passkeys only now. Setting up an app here allows codes from it again; your passkeys keep working.'
          : undefined,
      })
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

export function accountPasskeys({ passkeys }: { passkeys: readonly AccountPasskey[] }) {
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
    <td><form method="post" action="/login/account/passkeys/${k.id}/remove"><button type="submit" class="danger" aria-label="Remove passkey ${k.name}">Remove</button></form></td>
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
<p id="passkey-status" class="error" role="alert" hidden></p>`;
}
