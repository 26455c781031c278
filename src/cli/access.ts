// `grant`, `grant list`, `revoke`, `device list` and `device revoke`: who may use what, and with which devices.
import { deviceRef } from '../core/crypto.js';
import { type Args, type Command, many, need, one } from './command.js';
import { deviceJson, emailAndService, grantJson, iso, table } from './format.js';

const SCOPES = 'read:email,read:username,read:user-role';

const emailOrGroupAndService = (args: Args) =>
  args.values.group !== undefined
    ? { group: many(args.values, 'group').join(','), serviceName: args.values.service }
    : emailAndService(args);

export const accessCommands: readonly Command[] = [
  {
    name: 'grant',
    synopsis: `--email E | --group G --service NAME [--scope ${SCOPES}]`,
    summary: 'give a user or a group access (or change the scope of an existing grant)',
    help:
      'Gives a user access, or changes the scope of an existing grant (the pseudonymous token stays).\n' +
      'With --group instead of --email: every member of the group gets access, with that scope.',
    options: { email: { type: 'string' }, service: { type: 'string' }, scope: { type: 'string' } },
    audit: { event: 'admin.grant.changed', fields: emailOrGroupAndService },
    async run({ runtime, args: { values }, out }) {
      if (values.group !== undefined) {
        const group = need(values, 'group');
        const service = need(values, 'service');
        const { scope } = await (await runtime()).admin.grantGroup({ group, service, scope: values.scope as string | undefined });
        out.result({ group, service, scope }, `Granted group ${group} access to ${service}${scope ? ` with scope ${scope}` : ''}.`);
        return;
      }
      const email = need(values, 'email');
      const service = need(values, 'service');
      const { grant, created } = await (await runtime()).admin.grant({ email, service, scope: values.scope as string | undefined });
      out.result(
        { email, service, scope: grant.scope, created },
        `${created ? 'Granted' : 'Updated'} ${email} access to ${service}${grant.scope ? ` with scope ${grant.scope}` : ' (no scopes: the service sees only a pseudonymous token)'}.`,
      );
    },
  },
  {
    name: 'revoke',
    synopsis: '--email E | --group G --service NAME [--yes]',
    summary: "take a user's (or a group's) access to a service away",
    help: "Takes a user's access away (or, with --group, a group's grant). Asks first unless --yes.",
    confirm: ({ values }) =>
      `Revoke ${values.group !== undefined ? `group ${String(values.group)}` : String(values.email)}'s access to ${String(values.service)}?`,
    audit: { event: 'admin.grant.revoked', fields: emailOrGroupAndService },
    async run({ runtime, args: { values }, out }) {
      if (values.group !== undefined) {
        const group = need(values, 'group');
        const service = need(values, 'service');
        await (await runtime()).admin.revokeGroup({ group, service });
        out.result({ group, service, revoked: true }, `Revoked group ${group}'s access to ${service}.`);
        return;
      }
      const email = need(values, 'email');
      const service = need(values, 'service');
      await (await runtime()).admin.revoke({ email, service });
      out.result({ email, service, revoked: true }, `Revoked ${email}'s access to ${service}.`);
    },
  },
  {
    name: 'grant list',
    synopsis: '',
    summary: 'list grants',
    help: 'Lists grants.',
    async run({ runtime, out }) {
      const grants = await (await runtime()).admin.listGrants();
      out.result(
        grants.map(grantJson),
        grants.length === 0
          ? 'No grants.'
          : table([['EMAIL', 'SERVICE', 'SCOPE', 'CREATED'], ...grants.map((g) => [g.email, g.service, g.scope || '-', iso(g.createdAt)])]),
      );
    },
  },
  {
    name: 'device list',
    synopsis: '[--email E]',
    summary: "list devices (all, or one user's)",
    help: "Lists devices (all, or one user's).",
    async run({ runtime, args: { values }, out }) {
      const devices = await (await runtime()).admin.listDevices(values.email as string | undefined);
      out.result(
        devices.map(deviceJson),
        devices.length === 0
          ? 'No devices.'
          : table([
              ['ID', 'USER', 'TYPE', 'ADDED', 'LAST SEEN'],
              ...devices.map((d) => [d.id, String(d.userId), d.deviceType, iso(d.createdAt), iso(d.lastSeenAt)]),
            ]),
      );
    },
  },
  {
    name: 'device revoke',
    synopsis: 'ID [--yes]',
    summary: 'sign a device out; its cookies stop working',
    help: 'Revokes a device; its cookies stop working (on every instance within a second, through the change feed). Asks first unless --yes.',
    confirm: ({ positionals }) => `Revoke device ${String(positionals[0])}?`,
    // The id is half of the device's credential: the audit line names it by its public reference only.
    audit: { event: 'device.revoked', fields: ({ positionals }) => ({ device: deviceRef(positionals[0] ?? '') }) },
    async run({ runtime, args: { positionals }, out }) {
      const id = one(positionals, 'device id');
      await (await runtime()).admin.revokeDevice(id);
      out.result({ revoked: id }, `Revoked device ${id}; its cookies no longer work.`);
    },
  },
];
