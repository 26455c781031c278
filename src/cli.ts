#!/usr/bin/env node
// The admin command line: the same wiring as main.ts, no HTTP. Text for people, --json for scripts.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import QRCode from 'qrcode';
import { ConfigError, loadConfig } from './config/config.js';
import { AdminError } from './core/admin.js';
import { deviceRef, sealContext } from './core/crypto.js';
import type { Device, Grant, ProxyToken, Service, User } from './core/ports.js';
import { importReferenceCommand } from './import-command.js';
import { loadConfigWithLocalKey } from './local-key.js';
import { safeMessage } from './logging.js';
import { isEntryPoint, openRuntime, type Runtime } from './runtime.js';

const USAGE = `Usage: passwordless-auth <command> [options]    (add --json to any command for JSON output)

  serve                                   run the server (same as npm start)
  migrate                                 apply database migrations
  doctor                                  check configuration, database, migrations and keys
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
  import-reference --from URL --fernet-key KEY [--apply]
                                          copy a reference deployment's data (a dry run unless --apply)

Destructive commands ask first; --yes skips the question (needed without a terminal).
passwordless-auth <command> --help explains one command.
Configuration comes from the environment and .env (see .env.example). Exit codes: 0 ok, 1 failed, 2 usage.`;

/** Help per command: `passwordless-auth <command> --help`. */
const HELP: Record<string, string> = {
  serve: 'serve\n  Runs the server (the same as `npm start`): applies migrations, then listens on PORT.',
  migrate: 'migrate\n  Applies database migrations and exits. The server also applies them at start.',
  doctor:
    'doctor\n  Checks configuration, database reachability, migrations and encryption keys, and says what to fix.\n  Exit code 1 if any check fails.',
  'user add':
    'user add --email E [--username U] [--admin]\n  Adds a user and prints their TOTP secret, otpauth URI and a QR code ONCE. --admin may use every service.',
  'user list': 'user list\n  Lists users.',
  'user delete': 'user delete --email E [--yes]\n  Deletes a user with their devices and grants. Asks first unless --yes.',
  'user unlock': 'user unlock --email E\n  Clears failed sign-in attempts of an account locked by the guess budget.',
  'service add': 'service add NAME\n  Adds a service and prints its token ONCE. NAME: 1-63 of A-Z a-z 0-9 . _ -',
  'service list': 'service list\n  Lists services.',
  'service delete': 'service delete NAME [--yes]\n  Deletes a service and its grants. Asks first unless --yes.',
  'service rotate-token':
    'service rotate-token NAME [--yes]\n  Replaces the token; the old one stops working at once. Prints the new one ONCE.',
  grant:
    'grant --email E --service NAME [--scope read:email,read:username,read:user-role]\n  Gives a user access, or changes the scope of an existing grant (the pseudonymous token stays).',
  'grant list': 'grant list\n  Lists grants.',
  revoke: "revoke --email E --service NAME [--yes]\n  Takes a user's access away.",
  'device list': "device list [--email E]\n  Lists devices (all, or one user's).",
  'device revoke':
    'device revoke ID [--yes]\n  Revokes a device; its cookies stop working (on other instances within VERIFY_CACHE_TTL_SECONDS).',
  'proxy-token add': 'proxy-token add NAME\n  Adds a token for a proxy that guards many services; prints it ONCE.',
  'proxy-token list': 'proxy-token list\n  Lists proxy tokens.',
  'import-reference':
    'import-reference --from mysql://USER:PASS@HOST:3306/Auth_service --fernet-key KEY [--apply]\n  Copies users, devices, services and grants from a reference deployment. A dry run unless --apply; safe to run again.\n  A value written @path is read from that file. See docs/migrating.md.',
  'proxy-token delete': 'proxy-token delete NAME [--yes]\n  Deletes a proxy token; proxies using it are refused at once.',
};

/** Commands that destroy something, with the question to ask first. */
const CONFIRM: Record<string, (positionals: string[], values: Record<string, string | boolean | undefined>) => string> = {
  'user delete': (_, v) => `Delete user ${String(v.email)} with all their devices and grants?`,
  'service delete': (p) => `Delete service ${String(p[0])} and every grant for it?`,
  'service rotate-token': (p) => `Replace the token of ${String(p[0])}? The old token stops working at once.`,
  revoke: (_, v) => `Revoke ${String(v.email)}'s access to ${String(v.service)}?`,
  'device revoke': (p) => `Revoke device ${String(p[0])}?`,
  'proxy-token delete': (p) => `Delete proxy token ${String(p[0])}? Proxies using it will be refused.`,
};

async function confirm(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

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
  'import-reference': (rt, { values }, out) =>
    importReferenceCommand(rt, values as { from?: string; 'fernet-key'?: string; apply?: boolean }, out),
  async 'proxy-token delete'(rt, { positionals }, out) {
    const name = one(positionals, 'name');
    await rt.admin.deleteProxyToken(name);
    out.result({ deleted: name }, `Deleted proxy token ${name}.`);
  },
};

const GROUPS = new Set(['user', 'service', 'device', 'proxy-token']);

interface Check {
  readonly name: string;
  readonly status: 'ok' | 'warn' | 'fail';
  readonly detail: string;
}

/** Checks configuration, database, migrations and keys, and says what to fix. */
async function runDoctor(io: { stdout: NodeJS.WritableStream }, json: boolean): Promise<number> {
  const checks: Check[] = [];
  const add = (name: string, status: Check['status'], detail: string) => checks.push({ name, status, detail });
  let runtime: Runtime | undefined;
  try {
    const { config, notices } = loadConfig();
    add('configuration', 'ok', `valid; database ${config.databaseLabel}`);
    for (const n of notices) add('configuration', 'warn', n);
    if (config.insecureHttp)
      add('cookies', config.production ? 'fail' : 'warn', 'INSECURE_HTTP=true: cookies lack Secure. Turn it off behind HTTPS.');
    if (!config.cookie.domain) add('cookies', 'warn', 'COOKIE_DOMAIN is not set: the cookies are host-only and reach no other subdomain.');
    if (!config.production) add('environment', 'warn', 'NODE_ENV is not production: the strict start-up checks are off.');
    add('keys', 'ok', `${config.encryptionKeys.length} encryption key(s); new values are sealed with "${config.encryptionKeys[0]?.id}"`);
    try {
      runtime = await openRuntime(config, { migrate: false });
      await runtime.store.ping();
      add('database', 'ok', 'reachable');
      if (await runtime.ready().catch(() => false)) add('migrations', 'ok', 'all applied');
      else add('migrations', 'fail', 'not all applied: run `passwordless-auth migrate` (the server also applies them at start)');
      const users = await runtime.store.users.list().catch(() => []);
      const unreadable = users.filter((u) => runtime?.keys.open(u.totpSecretSealed, sealContext.totpSecret(u.id)) === null);
      const stale = users.filter((u) => runtime?.keys.isStale(u.totpSecretSealed));
      if (unreadable.length > 0)
        add(
          'keys',
          'fail',
          `${unreadable.length} TOTP secret(s) do not decrypt with the configured keys: a key is missing from ENCRYPTION_KEYS`,
        );
      else if (stale.length > 0)
        add('keys', 'warn', `${stale.length} TOTP secret(s) are sealed with an older key; keep it in ENCRYPTION_KEYS`);
      else add('keys', 'ok', `every stored secret (${users.length} user(s)) decrypts`);
    } catch (err) {
      add('database', 'fail', `not reachable: ${safeMessage(err)}. Check DATABASE_URL and that the server runs.`);
    }
  } catch (err) {
    add('configuration', 'fail', err instanceof Error ? err.message : String(err));
  } finally {
    await runtime?.close().catch(() => {});
  }
  const failed = checks.some((c) => c.status === 'fail');
  if (json) io.stdout.write(`${JSON.stringify({ ok: !failed, checks })}\n`);
  else
    io.stdout.write(
      `${checks.map((c) => `${c.status === 'ok' ? 'ok  ' : c.status === 'warn' ? 'WARN' : 'FAIL'}  ${c.name}: ${c.detail}`).join('\n')}\n`,
    );
  return failed ? 1 : 0;
}

const AUDIT_EVENTS: Record<string, string> = {
  'user add': 'admin.user.added',
  'user delete': 'admin.user.deleted',
  'user unlock': 'admin.user.unlocked',
  'service add': 'admin.service.added',
  'service delete': 'admin.service.deleted',
  'service rotate-token': 'admin.service.token-rotated',
  grant: 'admin.grant.changed',
  revoke: 'admin.grant.revoked',
  'device revoke': 'device.revoked',
  'proxy-token add': 'admin.proxy-token.added',
  'proxy-token delete': 'admin.proxy-token.deleted',
};

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
    yes: { type: 'boolean', short: 'y' },
    from: { type: 'string' },
    'fernet-key': { type: 'string' },
    apply: { type: 'boolean' },
  } as const;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    return fail(`${(err as Error).message}\n\n${USAGE}`, 2);
  }
  json = parsed.values.json === true;
  const [first, ...rest] = parsed.positionals;
  if (!first) {
    io.stdout.write(`${USAGE}\n`);
    return parsed.values.help ? 0 : 2;
  }
  if (first === 'serve') {
    const { startServer } = await import('./main.js');
    const stop = await startServer();
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void stop().then(() => process.exit(0)));
    return new Promise<number>(() => {});
  }
  const name = GROUPS.has(first) || (first === 'grant' && rest[0] === 'list') ? `${first} ${rest[0] ?? ''}` : first;
  const positionals = GROUPS.has(first) || name === 'grant list' ? rest.slice(1) : rest;
  const command = name.trim();
  const handler = commands[command];
  if (!handler && command !== 'migrate' && command !== 'doctor') return fail(`unknown command: ${command}\n\n${USAGE}`, 2);
  if (parsed.values.help) {
    io.stdout.write(
      `Usage: passwordless-auth ${HELP[command] ?? command}\n\nAdd --json for JSON output. Exit codes: 0 ok, 1 failed, 2 usage.\n`,
    );
    return 0;
  }
  if (command === 'doctor') return runDoctor(io, json);
  const question = CONFIRM[command];
  if (question && parsed.values.yes !== true) {
    if (!process.stdin.isTTY) return fail(`${command} needs --yes when there is no terminal to ask`, 2);
    if (!(await confirm(question(positionals, parsed.values)))) return fail('cancelled', 1);
  }

  let runtime: Runtime | undefined;
  try {
    const { config, notices } = loadConfigWithLocalKey();
    if (!json) for (const n of notices) io.stderr.write(`note: ${n}\n`);
    runtime = await openRuntime(config);
    const out: Output = {
      json,
      result(value, text) {
        io.stdout.write(json ? `${JSON.stringify(value)}\n` : `${Array.isArray(text) ? text.join('\n') : text}\n`);
      },
    };
    if (command === 'migrate') {
      const report = runtime.migrations ?? { applied: [], alreadyApplied: [] };
      out.result(report, report.applied.length ? `Applied: ${report.applied.join(', ')}` : 'Database is up to date.');
    } else {
      await (handler as Handler)(runtime, { positionals, values: parsed.values }, out);
      const event = AUDIT_EVENTS[command];
      if (event) {
        // One audit line per admin change, on stderr (stdout is the command's result). Never secrets or device ids.
        const audit = pino({ level: 'info', base: { service: 'passwordless-auth', by: 'cli' } }, pino.destination({ dest: 2, sync: true }));
        const v = parsed.values;
        audit.info(
          {
            event,
            ...(typeof v.email === 'string' ? { email: v.email } : {}),
            ...(typeof v.service === 'string' ? { serviceName: v.service } : {}),
            ...(command === 'device revoke' ? { device: deviceRef(positionals[0] ?? '') } : positionals[0] ? { name: positionals[0] } : {}),
          },
          'admin change',
        );
      }
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) return fail(`${err.message}\n\n${USAGE}`, 2);
    if (err instanceof AdminError || err instanceof ConfigError) return fail(err.message, 1);
    return fail(`failed: ${safeMessage(err)}`, 1);
  } finally {
    await runtime?.close();
  }
}

if (isEntryPoint(import.meta.url)) {
  runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
