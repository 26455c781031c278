// `service add | list | delete | rotate-token` and `proxy-token add | list | delete`: the callers of /verify.
import { type Command, one } from './command.js';
import { iso, named, proxyJson, serviceJson, table } from './format.js';

const NAME_RULE = 'NAME: 1-63 of A-Z a-z 0-9 . _ -';

export const serviceCommands: readonly Command[] = [
  {
    name: 'service add',
    synopsis: 'NAME',
    summary: 'add a service; prints its token ONCE',
    help: `Adds a service and prints its token ONCE. ${NAME_RULE}`,
    audit: { event: 'admin.service.added', fields: named },
    async run({ runtime, args: { positionals }, out }) {
      const { service, token } = await (await runtime()).admin.addService(one(positionals, 'service name'));
      out.result({ ...serviceJson(service), token }, [`Added service ${service.name}.`, `Its token (shown only now): ${token}`]);
    },
  },
  {
    name: 'service list',
    synopsis: '',
    summary: 'list services',
    help: 'Lists services.',
    async run({ runtime, out }) {
      const services = await (await runtime()).admin.listServices();
      out.result(
        services.map(serviceJson),
        services.length === 0
          ? 'No services.'
          : table([['ID', 'NAME', 'CREATED'], ...services.map((s) => [String(s.id), s.name, iso(s.createdAt)])]),
      );
    },
  },
  {
    name: 'service delete',
    synopsis: 'NAME [--yes]',
    summary: 'delete a service and its grants',
    help: 'Deletes a service and its grants. Asks first unless --yes.',
    confirm: ({ positionals }) => `Delete service ${String(positionals[0])} and every grant for it?`,
    audit: { event: 'admin.service.deleted', fields: named },
    async run({ runtime, args: { positionals }, out }) {
      const name = one(positionals, 'service name');
      await (await runtime()).admin.deleteService(name);
      out.result({ deleted: name }, `Deleted service ${name} and its grants.`);
    },
  },
  {
    name: 'service rotate-token',
    synopsis: 'NAME [--yes]',
    summary: 'replace the service token; prints the new one ONCE',
    help: 'Replaces the token; the old one stops working at once. Prints the new one ONCE.',
    confirm: ({ positionals }) => `Replace the token of ${String(positionals[0])}? The old token stops working at once.`,
    audit: { event: 'admin.service.token-rotated', fields: named },
    async run({ runtime, args: { positionals }, out }) {
      const name = one(positionals, 'service name');
      const { token } = await (await runtime()).admin.rotateServiceToken(name);
      out.result({ name, token }, [`New token for ${name} (shown only now; the old one no longer works): ${token}`]);
    },
  },
];

export const proxyTokenCommands: readonly Command[] = [
  {
    name: 'proxy-token add',
    synopsis: 'NAME',
    summary: 'a token for a proxy that guards many services; printed ONCE',
    help: `Adds a token for a proxy that guards many services; prints it ONCE. ${NAME_RULE}`,
    audit: { event: 'admin.proxy-token.added', fields: named },
    async run({ runtime, args: { positionals }, out }) {
      const { proxyToken, token } = await (await runtime()).admin.addProxyToken(one(positionals, 'name'));
      out.result({ ...proxyJson(proxyToken), token }, [`Added proxy token ${proxyToken.name}.`, `The token (shown only now): ${token}`]);
    },
  },
  {
    name: 'proxy-token list',
    synopsis: '',
    summary: 'list proxy tokens',
    help: 'Lists proxy tokens.',
    async run({ runtime, out }) {
      const tokens = await (await runtime()).admin.listProxyTokens();
      out.result(
        tokens.map(proxyJson),
        tokens.length === 0
          ? 'No proxy tokens.'
          : table([['ID', 'NAME', 'CREATED'], ...tokens.map((p) => [String(p.id), p.name, iso(p.createdAt)])]),
      );
    },
  },
  {
    name: 'proxy-token delete',
    synopsis: 'NAME [--yes]',
    summary: 'delete a proxy token; proxies using it are refused',
    help: 'Deletes a proxy token; proxies using it are refused at once. Asks first unless --yes.',
    confirm: ({ positionals }) => `Delete proxy token ${String(positionals[0])}? Proxies using it will be refused.`,
    audit: { event: 'admin.proxy-token.deleted', fields: named },
    async run({ runtime, args: { positionals }, out }) {
      const name = one(positionals, 'name');
      await (await runtime()).admin.deleteProxyToken(name);
      out.result({ deleted: name }, `Deleted proxy token ${name}.`);
    },
  },
];
