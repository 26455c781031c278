// `user add | list | delete | unlock`.
import QRCode from 'qrcode';
import type { SignInMethods } from '../core/admin-users.js';
import { type Command, need } from './command.js';
import { emailAndService, iso, table, userJson } from './format.js';
import { printInvite } from './passkeys.js';

/** How a user signs in, for `user list`: `code, 1 passkey (only), invite pending`. */
const methodsText = (m: SignInMethods) =>
  [
    m.code ? 'code' : '',
    m.passkeys ? `${m.passkeys} passkey${m.passkeys === 1 ? '' : 's'}${m.passkeyOnly ? ' (only)' : ''}` : '',
    m.inviteExpiresAt ? 'invite pending' : '',
  ]
    .filter(Boolean)
    .join(', ') || 'none';

export const userCommands: readonly Command[] = [
  {
    name: 'user add',
    synopsis: '--email E [--username U] [--admin] [--invite]',
    summary: 'add a user; prints the TOTP secret and QR code ONCE (--invite: a one-time link instead)',
    help:
      'Adds a user and prints their TOTP secret, otpauth URI and a QR code ONCE. --admin may use every service.\n' +
      '--invite: prints a one-time link instead, where they set up their own sign-in (see user invite).',
    options: { email: { type: 'string' }, username: { type: 'string' }, admin: { type: 'boolean' }, invite: { type: 'boolean' } },
    audit: {
      event: 'admin.user.added',
      fields: (args) => ({ ...emailAndService(args), ...(args.values.invite === true ? { invite: true } : {}) }),
    },
    async run({ runtime, args: { values }, out }) {
      if (values.invite === true) return void (await printInvite(await runtime(), values, out, 'always'));
      const { user, totpSecret, otpauthUri } = await (await runtime()).admin.addUser({
        email: need(values, 'email'),
        username: values.username as string | undefined,
        admin: values.admin === true,
      });
      const qr = out.json ? '' : await QRCode.toString(otpauthUri, { type: 'terminal', small: true });
      out.result({ ...userJson(user), totpSecret, otpauthUri }, [
        `Added ${user.role} ${user.email} (id ${user.id}).`,
        '',
        'Scan this QR code with an authenticator app, or enter the secret by hand. It is shown only now.',
        qr,
        `  secret: ${totpSecret}`,
        `  uri:    ${otpauthUri}`,
      ]);
    },
  },
  {
    name: 'user list',
    synopsis: '',
    summary: 'list users, their groups and how they sign in (code, passkeys, pending invite)',
    help: 'Lists users and how each signs in: code, passkeys (and whether codes are off), a pending invite.',
    async run({ runtime, out }) {
      const admin = (await runtime()).admin;
      const [users, groups] = await Promise.all([admin.listUsersWithMethods(), admin.groupsByUser()]);
      out.result(
        users.map((u) => ({
          ...userJson(u),
          groups: groups.get(u.id) ?? [],
          signIn: {
            code: u.methods.code,
            passkeys: u.methods.passkeys,
            passkeyOnly: u.methods.passkeyOnly,
            inviteExpiresAt: u.methods.inviteExpiresAt === null ? null : iso(u.methods.inviteExpiresAt),
          },
        })),
        users.length === 0
          ? 'No users.'
          : table([
              ['ID', 'EMAIL', 'USERNAME', 'ROLE', 'GROUPS', 'SIGN-IN', 'CREATED'],
              ...users.map((u) => [
                String(u.id),
                u.email,
                u.username ?? '-',
                u.role,
                (groups.get(u.id) ?? []).join(',') || '-',
                methodsText(u.methods),
                iso(u.createdAt),
              ]),
            ]),
      );
    },
  },
  {
    name: 'user delete',
    synopsis: '--email E [--yes]',
    summary: 'delete a user with their devices and grants',
    help: 'Deletes a user with their devices and grants. Asks first unless --yes.',
    confirm: ({ values }) => `Delete user ${String(values.email)} with all their devices and grants?`,
    audit: { event: 'admin.user.deleted', fields: emailAndService },
    async run({ runtime, args: { values }, out }) {
      const email = need(values, 'email');
      await (await runtime()).admin.deleteUser(email);
      out.result({ deleted: email }, `Deleted user ${email} with their devices and grants.`);
    },
  },
  {
    name: 'user unlock',
    synopsis: '--email E',
    summary: 'clear failed sign-in attempts, after a lock-out',
    help: 'Clears failed sign-in attempts of an account locked by the guess budget.',
    audit: { event: 'admin.user.unlocked', fields: emailAndService },
    async run({ runtime, args: { values }, out }) {
      const email = need(values, 'email');
      const { cleared } = await (await runtime()).admin.unlockUser(email);
      out.result(
        { email, cleared },
        `Cleared ${cleared} failed sign-in attempt${cleared === 1 ? '' : 's'} of ${email}; they can sign in again.`,
      );
    },
  },
];
