// `user invite`, `user set --passkey-only`, `passkey list | remove`: invite links and passkeys from the command line.
import type { Runtime } from '../runtime.js';
import { type Command, need, UsageError, type Values } from './command.js';
import { emailAndService, iso, table } from './format.js';

interface Out {
  readonly json: boolean;
  result(value: unknown, text: string | readonly string[]): void;
}

/** Prints an invite: the one-time link and when it expires (`--json`: {"url", "expiresAt", …}). */
export async function printInvite(rt: Runtime, values: Values, out: Out, create: 'always' | 'if-missing'): Promise<void> {
  const { user, created, token, expiresAt } = await rt.admin.inviteUser({
    email: need(values, 'email'),
    username: values.username as string | undefined,
    admin: values.admin === true,
    create,
  });
  const url = `${rt.config.publicUrl}/login/enroll/${token}`;
  // A link only this machine can open is worth a word: the server may well have its own PUBLIC_URL elsewhere.
  const warning = rt.config.publicUrlIsDefault
    ? `PUBLIC_URL is not set here, so the link uses the default ${rt.config.publicUrl}. If browsers reach the server elsewhere, set PUBLIC_URL in the environment or in .env in this directory (the server reads the same file) and invite again.`
    : undefined;
  out.result({ url, expiresAt: iso(expiresAt), email: user.email, created, ...(warning ? { warning } : {}) }, [
    `${created ? `Added ${user.role} ${user.email} (id ${user.id}) and invited them` : `Invited ${user.email}`}.`,
    '',
    'Send them this link. It works once, until the time below; they create a passkey or set up an authenticator app there.',
    `  ${url}`,
    `  expires: ${iso(expiresAt)}`,
    ...(warning ? ['', `  note: ${warning}`] : []),
  ]);
}

function trueOrFalse(values: Values, name: string): boolean {
  const value = need(values, name);
  if (value !== 'true' && value !== 'false') throw new UsageError(`--${name} must be true or false`);
  return value === 'true';
}

export const passkeyCommands: readonly Command[] = [
  {
    name: 'user invite',
    synopsis: '--email E [--username U] [--admin]',
    summary: 'print a one-time link where the user sets up an authenticator app or a passkey',
    help:
      'Prints a one-time link PUBLIC_URL/login/enroll/<token>, valid for INVITE_LIFETIME_HOURS and once; a newer invite\n' +
      'voids older ones. The user opens it and creates a passkey or sets up an authenticator app there: no one else\n' +
      'sees the secret. Adds the user if new; for an existing user (a lost phone) the new secret replaces the old one\n' +
      'only once its first code confirms it. --json: {"url", "expiresAt", "email", "created"}.',
    options: { email: { type: 'string' }, username: { type: 'string' }, admin: { type: 'boolean' } },
    audit: { event: 'admin.user.invited', fields: emailAndService },
    async run({ runtime, args: { values }, out }) {
      await printInvite(await runtime(), values, out, 'if-missing');
    },
  },
  {
    name: 'user set',
    synopsis: '--email E --passkey-only true|false',
    summary: 'turn code sign-in off (passkeys only) or on again',
    help: 'Turns code sign-in off for a user with a passkey (a code then fails like a wrong one), or on again.',
    options: { email: { type: 'string' }, 'passkey-only': { type: 'string' } },
    audit: { event: 'admin.user.changed', fields: (args) => ({ ...emailAndService(args), passkeyOnly: args.values['passkey-only'] }) },
    async run({ runtime, args: { values }, out }) {
      const user = await (await runtime()).admin.setPasskeyOnly(need(values, 'email'), trueOrFalse(values, 'passkey-only'));
      out.result(
        { email: user.email, passkeyOnly: user.passkeyOnly },
        user.passkeyOnly ? `${user.email} signs in with a passkey only; codes are refused.` : `${user.email} may sign in with codes again.`,
      );
    },
  },
  {
    name: 'passkey list',
    synopsis: '[--email E]',
    summary: "list passkeys (all, or one user's)",
    help: "Lists passkeys (all, or one user's): id, email, name, added, last used.",
    options: { email: { type: 'string' } },
    async run({ runtime, args: { values }, out }) {
      const passkeys = await (await runtime()).admin.listPasskeys(values.email as string | undefined);
      out.result(
        passkeys.map((p) => ({ id: p.id, email: p.email, name: p.name, createdAt: iso(p.createdAt), lastUsedAt: iso(p.lastUsedAt) })),
        passkeys.length === 0
          ? 'No passkeys.'
          : table([
              ['ID', 'EMAIL', 'NAME', 'ADDED', 'LAST USED'],
              ...passkeys.map((p) => [String(p.id), p.email, p.name, iso(p.createdAt), iso(p.lastUsedAt)]),
            ]),
      );
    },
  },
  {
    name: 'passkey remove',
    synopsis: '--id N [--passkey-only false | --lock-out] [--yes]',
    summary: 'remove a passkey; it stops signing in at once',
    help:
      "Removes a passkey; it cannot sign in from that moment. Asks first unless --yes. The owner's last way in is\n" +
      'refused: their only passkey while they sign in with passkeys only (add --passkey-only false to allow their\n' +
      "authenticator app's codes again in the same step), or while they have no app (--lock-out removes it anyway;\n" +
      'then send them an invite).',
    options: { id: { type: 'string' }, 'passkey-only': { type: 'string' }, 'lock-out': { type: 'boolean' } },
    confirm: ({ values }) => `Remove passkey ${String(values.id)}? It stops signing in at once.`,
    audit: {
      event: 'admin.passkey.removed',
      fields: ({ values }) => ({
        passkeyId: values.id,
        ...(values['passkey-only'] === 'false' ? { passkeyOnly: false } : {}),
        ...(values['lock-out'] === true ? { lockOut: true } : {}),
      }),
    },
    async run({ runtime, args: { values }, out }) {
      const raw = need(values, 'id');
      if (!/^[1-9][0-9]{0,9}$/.test(raw)) throw new UsageError('--id must be a passkey id (a positive whole number)');
      const passkeyOnly = values['passkey-only'];
      if (passkeyOnly !== undefined && passkeyOnly !== 'false')
        throw new UsageError('--passkey-only can only be false here (codes on again)');
      const removed = await (await runtime()).admin.removePasskey(Number(raw), {
        passkeyOnlyOff: passkeyOnly === 'false',
        lockOut: values['lock-out'] === true,
      });
      out.result(
        {
          removed: Number(raw),
          ...(removed.passkeyOnlyTurnedOff ? { passkeyOnly: false } : {}),
          ...(removed.lockedOut ? { lockedOut: true } : {}),
        },
        [
          `Removed passkey ${raw}; it no longer signs in.`,
          ...(removed.passkeyOnlyTurnedOff ? [`${removed.email} may sign in with codes again.`] : []),
          ...(removed.lockedOut
            ? [`${removed.email} has no way to sign in now: send them an invite (user invite --email ${removed.email}).`]
            : []),
        ],
      );
    },
  },
];
