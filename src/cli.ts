#!/usr/bin/env node
// The admin command line: the same wiring as main.ts, no HTTP. Text for people, --json for scripts.
import { parseArgs } from 'node:util';
import QRCode from 'qrcode';
import { ConfigError, loadConfig } from './config.js';
import { AdminError } from './core/admin.js';
import type { Device, Grant, ProxyToken, Service, User } from './core/ports.js';
import { isEntryPoint, openRuntime, type Runtime } from './runtime.js';

const USAGE = `Usage: passwordless-auth <command> [options]    (add --json to any command for JSON output)

  serve                                   run the server (same as npm start)
  migrate                                 apply database migrations
  user add --email E [--username U] [--admin]
                                          add a user; prints the TOTP secret and QR code ONCE
  user list
  user delete --email E
  user unlock --email E                   clear failed sign-in attempts, after a lock-out
  service add NAME                        add a service; prints its token ONCE
  service list
  service delete NAME
  service rotate-token NAME               replace the service token; prints the new one ONCE
  grant --email E --service NAME [--scope read:email,read:username,read:user-role]
                                          give a user access (or change the scope of an existing grant)
  revoke --email E --service NAME
  grant list
  device list [--email E]
  device revoke ID
  proxy-token add NAME                    a token for a proxy that guards many services; printed ONCE
  proxy-token list
  proxy-token delete NAME

Configuration comes from the environment and .env (see .env.example). Exit codes: 0 ok, 1 failed, 2 usage.`;

class UsageError extends Error {}

interface Output {
  readonly json: boolean;
  /** A result: JSON as is, or the text lines for people. */
  result(value: unknown, text: string | string[]): void;
}

const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

const userJson = (u: User) => ({ id: u.id, email: u.email, username: u.username, role: u.role, createdAt: iso(u.createdAt) });
const serviceJson = (s: Service) => ({ id: s.id, name: s.name, createdAt: iso(s.createdAt) });
const deviceJson = (d: Device) => ({
  id: d.id,
  userId: d.userId,
  deviceType: d.deviceType,
  createdAt: iso(d.createdAt),
  lastSeenAt: iso(d.lastSeenAt),
});
const proxyJson = (p: ProxyToken) => ({ id: p.id, name: p.name, createdAt: iso(p.createdAt) });
const grantJson = (g: Grant & { email: string; service: string }) => ({
  email: g.email,
  service: g.service,
  scope: g.scope,
  createdAt: iso(g.createdAt),
});

type Handler = (
  rt: Runtime,
  args: { positionals: string[]; values: Record<string, string | boolean | undefined> },
  out: Output,
) => Promise<void>;

function need(values: Record<string, string | boolean | undefined>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

function one(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected exactly one ${what}`);
  return positionals[0] as string;
}

const commands: Record<string, Handler> = {
  async 'user add'(rt, { values }, out) {
    const { user, totpSecret, otpauthUri } = await rt.admin.addUser({
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
  async 'user list'(rt, _, out) {
    const users = await rt.admin.listUsers();
    out.result(
      users.map(userJson),
      users.length === 0
        ? 'No users.'
        : table([
            ['ID', 'EMAIL', 'USERNAME', 'ROLE', 'CREATED'],
            ...users.map((u) => [String(u.id), u.email, u.username ?? '-', u.role, iso(u.createdAt)]),
          ]),
    );
  },
  async 'user delete'(rt, { values }, out) {
    const email = need(values, 'email');
    await rt.admin.deleteUser(email);
    out.result({ deleted: email }, `Deleted user ${email} with their devices and grants.`);
  },
  async 'user unlock'(rt, { values }, out) {
    const email = need(values, 'email');
    const { cleared } = await rt.admin.unlockUser(email);
    out.result(
      { email, cleared },
      `Cleared ${cleared} failed sign-in attempt${cleared === 1 ? '' : 's'} of ${email}; they can sign in again.`,
    );
  },
  async 'service add'(rt, { positionals }, out) {
    const { service, token } = await rt.admin.addService(one(positionals, 'service name'));
    out.result({ ...serviceJson(service), token }, [`Added service ${service.name}.`, `Its token (shown only now): ${token}`]);
  },
  async 'service list'(rt, _, out) {
    const services = await rt.admin.listServices();
    out.result(
      services.map(serviceJson),
      services.length === 0
        ? 'No services.'
        : table([['ID', 'NAME', 'CREATED'], ...services.map((s) => [String(s.id), s.name, iso(s.createdAt)])]),
    );
  },
  async 'service delete'(rt, { positionals }, out) {
    const name = one(positionals, 'service name');
    await rt.admin.deleteService(name);
    out.result({ deleted: name }, `Deleted service ${name} and its grants.`);
  },
  async 'service rotate-token'(rt, { positionals }, out) {
    const name = one(positionals, 'service name');
    const { token } = await rt.admin.rotateServiceToken(name);
    out.result({ name, token }, [`New token for ${name} (shown only now; the old one no longer works): ${token}`]);
  },
  async grant(rt, { values }, out) {
    const { grant, created } = await rt.admin.grant({
      email: need(values, 'email'),
      service: need(values, 'service'),
      scope: values.scope as string | undefined,
    });
    const email = need(values, 'email');
    const service = need(values, 'service');
    out.result(
      { email, service, scope: grant.scope, created },
      `${created ? 'Granted' : 'Updated'} ${email} access to ${service}${grant.scope ? ` with scope ${grant.scope}` : ' (no scopes: the service sees only a pseudonymous token)'}.`,
    );
  },
  async 'grant list'(rt, _, out) {
    const grants = await rt.admin.listGrants();
    out.result(
      grants.map(grantJson),
      grants.length === 0
        ? 'No grants.'
        : table([['EMAIL', 'SERVICE', 'SCOPE', 'CREATED'], ...grants.map((g) => [g.email, g.service, g.scope || '-', iso(g.createdAt)])]),
    );
  },
  async revoke(rt, { values }, out) {
    const email = need(values, 'email');
    const service = need(values, 'service');
    await rt.admin.revoke({ email, service });
    out.result({ email, service, revoked: true }, `Revoked ${email}'s access to ${service}.`);
  },
  async 'device list'(rt, { values }, out) {
    const devices = await rt.admin.listDevices(values.email as string | undefined);
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
  async 'device revoke'(rt, { positionals }, out) {
    const id = one(positionals, 'device id');
    await rt.admin.revokeDevice(id);
    out.result({ revoked: id }, `Revoked device ${id}; its cookies no longer work.`);
  },
  async 'proxy-token add'(rt, { positionals }, out) {
    const { proxyToken, token } = await rt.admin.addProxyToken(one(positionals, 'name'));
    out.result({ ...proxyJson(proxyToken), token }, [`Added proxy token ${proxyToken.name}.`, `The token (shown only now): ${token}`]);
  },
  async 'proxy-token list'(rt, _, out) {
    const tokens = await rt.admin.listProxyTokens();
    out.result(
      tokens.map(proxyJson),
      tokens.length === 0
        ? 'No proxy tokens.'
        : table([['ID', 'NAME', 'CREATED'], ...tokens.map((p) => [String(p.id), p.name, iso(p.createdAt)])]),
    );
  },
  async 'proxy-token delete'(rt, { positionals }, out) {
    const name = one(positionals, 'name');
    await rt.admin.deleteProxyToken(name);
    out.result({ deleted: name }, `Deleted proxy token ${name}.`);
  },
};

const GROUPS = new Set(['user', 'service', 'device', 'proxy-token']);

export async function runCli(argv: string[], io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let json = argv.includes('--json');
  const fail = (message: string, code: number) => {
    if (json) io.stdout.write(`${JSON.stringify({ error: message })}\n`);
    else io.stderr.write(`passwordless-auth: ${message}\n`);
    return code;
  };
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  const OPTIONS = {
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
    email: { type: 'string' },
    username: { type: 'string' },
    admin: { type: 'boolean' },
    service: { type: 'string' },
    scope: { type: 'string' },
  } as const;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    return fail(`${(err as Error).message}\n\n${USAGE}`, 2);
  }
  json = parsed.values.json === true;
  const [first, ...rest] = parsed.positionals;
  if (!first || parsed.values.help) {
    io.stdout.write(`${USAGE}\n`);
    return first || parsed.values.help ? 0 : 2;
  }
  if (first === 'serve') {
    const { startServer } = await import('./main.js');
    const stop = await startServer();
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void stop().then(() => process.exit(0)));
    return new Promise<number>(() => {});
  }
  const name = GROUPS.has(first) || (first === 'grant' && rest[0] === 'list') ? `${first} ${rest[0] ?? ''}` : first;
  const positionals = GROUPS.has(first) || name === 'grant list' ? rest.slice(1) : rest;
  const handler = commands[name.trim()];
  if (!handler && first !== 'migrate') return fail(`unknown command: ${name.trim()}\n\n${USAGE}`, 2);

  let runtime: Runtime | undefined;
  try {
    const { config, notices } = loadConfig();
    if (!json) for (const n of notices) io.stderr.write(`note: ${n}\n`);
    runtime = await openRuntime(config);
    const out: Output = {
      json,
      result(value, text) {
        io.stdout.write(json ? `${JSON.stringify(value)}\n` : `${Array.isArray(text) ? text.join('\n') : text}\n`);
      },
    };
    if (first === 'migrate') {
      const report = runtime.migrations ?? { applied: [], alreadyApplied: [] };
      out.result(report, report.applied.length ? `Applied: ${report.applied.join(', ')}` : 'Database is up to date.');
    } else {
      await (handler as Handler)(runtime, { positionals, values: parsed.values }, out);
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) return fail(`${err.message}\n\n${USAGE}`, 2);
    if (err instanceof AdminError || err instanceof ConfigError) return fail(err.message, 1);
    return fail(`failed: ${err instanceof Error ? err.message : String(err)}`, 1);
  } finally {
    await runtime?.close();
  }
}

if (isEntryPoint(import.meta.url)) {
  runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
