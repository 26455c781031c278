// The account page: the signed-in user's devices, with their passkeys and authenticator-app sections.
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { accountAuthenticator } from './authenticator.js';
import { layout, when } from './pages.js';
import { type AccountPasskey, accountPasskeys } from './passkeys.js';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

interface AccountDevice {
  readonly id: string;
  readonly ref: string;
  readonly deviceType: string;
  readonly createdAt: number;
  readonly lastSeenAt: number | null;
  readonly current: boolean;
}

export interface AccountPageProps {
  readonly email: string;
  readonly devices: readonly AccountDevice[];
  readonly notice?: string | undefined;
  /** The passkeys section, when passkeys are on. */
  readonly passkeys?: Html | undefined;
  /** The authenticator-app section. */
  readonly authenticator: Html;
  /** LANDING_URL: the way back to the app. */
  readonly landingUrl: string;
}

function accountPage({ email, devices, notice, passkeys, authenticator, landingUrl }: AccountPageProps) {
  return layout(
    'Your devices',
    html`<p class="back"><a href="${landingUrl}">← Back to the app</a></p>
<h1>Your devices</h1>
<p>Signed in as <strong>${email}</strong>.</p>
${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
<table>
  <caption>Devices signed in to your account</caption>
  <thead><tr><th scope="col">Device</th><th scope="col">Added</th><th scope="col">Last seen</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
  <tbody>
  ${devices.map(
    (d) => html`<tr>
    <td><form method="post" action="/login/account/devices/${d.ref}/rename"><input name="name" value="${d.deviceType}" maxlength="64" required aria-label="Name of device ${d.deviceType} added ${when(d.createdAt)}"><button type="submit">Rename</button></form>${d.current ? html`<strong>(this device)</strong>` : ''}</td>
    <td>${when(d.createdAt)}</td>
    <td>${d.current ? 'now' : when(d.lastSeenAt)}</td>
    <td><form method="post" action="/login/account/devices/${d.ref}/revoke"><button type="submit" class="danger" aria-label="Sign out ${d.deviceType} added ${when(d.createdAt)}">Sign out</button></form></td>
  </tr>`,
  )}
  </tbody>
</table>
<form method="post" action="/login/account/sign-out-everywhere">
  <button type="submit" class="danger">Sign out everywhere</button>
</form>
${passkeys ?? ''}
${authenticator}`,
    passkeys !== undefined,
  );
}

/** What the account page shows: the user's devices (`currentDeviceId` is this browser's) and sign-in state. */
export interface AccountView {
  readonly email: string;
  readonly devices: readonly Omit<AccountDevice, 'current'>[];
  readonly currentDeviceId: string;
  readonly state: { passkeys: readonly AccountPasskey[]; passkeyOnly: boolean; hasTotp: boolean };
  /** Whether passkeys are on (PUBLIC_URL names a host): the passkeys section shows only then. */
  readonly passkeysOn: boolean;
  readonly landingUrl: string;
  readonly notice?: string | undefined;
}

export function accountView({ email, devices, currentDeviceId, state, passkeysOn, landingUrl, notice }: AccountView) {
  return accountPage({
    email,
    devices: devices.map((d) => ({ ...d, current: d.id === currentDeviceId })),
    notice,
    passkeys: passkeysOn ? accountPasskeys(state) : undefined,
    authenticator: accountAuthenticator({ hasTotp: state.hasTotp, passkeyCount: state.passkeys.length, passkeyOnly: state.passkeyOnly }),
    landingUrl,
  });
}
