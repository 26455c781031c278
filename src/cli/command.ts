// What a CLI command is, and running one: a command is one entry (name, synopsis, help, confirmation, audit event,
// handler) in the table in commands.ts; this file parses the arguments against that table, prints the usage and
// help it generates from it, asks before destructive commands, runs the handler and writes the audit line.
import { parseArgs } from 'node:util';
import { type Config, ConfigError, type LoadOptions, readEnvironment } from '../config/config.js';
import { AdminError } from '../core/admin-tools.js';
import { checkKeys, KeyCheckError, keyProblem } from '../core/key-check.js';
import { keysRefused, loadConfigWithLocalKey } from '../local-key.js';
import { createLogger, safeMessage } from '../logging.js';
import { openRuntime, type Runtime } from '../runtime.js';
import { explainStartUpError, StartUpError } from '../start-up-errors.js';

export type Values = Readonly<Record<string, string | boolean | string[] | undefined>>;

export interface Args {
  readonly positionals: readonly string[];
  readonly values: Values;
}

interface Output {
  readonly json: boolean;
  /** A result: JSON as is, or the text lines for people. */
  result(value: unknown, text: string | readonly string[]): void;
}

export interface Io {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

/** Where a run takes its configuration from, and whether a person can be asked; the process's own by default. */
export interface Surroundings {
  /** The environment, read over `.env` in `cwd` (as the server reads them). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  /** Whether a destructive command may ask its question (stdin is a terminal). */
  readonly terminal?: boolean;
}

interface Context {
  readonly args: Args;
  readonly out: Output;
  readonly io: Io;
  /** The configuration (the local key file made if it is the key source) and the runtime over it, opened once. */
  runtime(): Promise<Runtime>;
  /** What the configuration is read from: the environment over `.env` in the working directory. */
  readonly load: LoadOptions;
}

export interface Command {
  /** One or two words: `migrate`, `user add`. */
  readonly name: string;
  /** The arguments after the name, e.g. `--email E [--admin]`. */
  readonly synopsis: string;
  /** One line for the overview. */
  readonly summary: string;
  /** What `<command> --help` says besides the synopsis. */
  readonly help: string;
  /** Options this command reads, besides --json, --help and --yes. */
  readonly options?: Readonly<
    Record<string, { readonly type: 'string' | 'boolean'; readonly short?: string; readonly multiple?: boolean }>
  >;
  /** A destructive command asks this question first (--yes skips it). */
  readonly confirm?: (args: Args) => string;
  /** An admin change leaves one audit line with this event and these fields (never secrets or device ids). */
  readonly audit?: { readonly event: string; readonly fields: (args: Args) => Record<string, unknown> };
  /** Does the work; the exit code when it is not 0. */
  readonly run: (ctx: Context) => Promise<number | undefined>;
}

/** Wrong arguments: the message and the usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The value of a required option (a repeatable one given exactly once). */
export function need(values: Values, name: string): string {
  const raw = values[name];
  if (Array.isArray(raw) && raw.length > 1) throw new UsageError(`--${name} may be given once here`);
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

/** A repeatable option's values; each may also be a comma-separated list. */
export function many(values: Values, name: string): string[] {
  const raw = values[name];
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  return list
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** The one positional argument a command takes. */
export function one(positionals: readonly string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected exactly one ${what}`);
  return positionals[0] as string;
}

const EXIT_CODES = 'Exit codes: 0 ok, 1 failed, 2 usage.';

function usage(commands: readonly Command[]): string {
  const lines = commands.map((c) => {
    const head = `  ${c.name}${c.synopsis ? ` ${c.synopsis}` : ''}`;
    return head.length <= 40 ? `${head.padEnd(42)}${c.summary}` : `${head}\n${' '.repeat(42)}${c.summary}`;
  });
  return [
    'Usage: passwordless-auth <command> [options]    (add --json to any command for JSON output)',
    '',
    ...lines,
    '',
    'Destructive commands ask first; --yes skips the question (needed without a terminal).',
    'passwordless-auth <command> --help explains one command.',
    `Configuration comes from the environment and .env (see .env.example). ${EXIT_CODES}`,
  ].join('\n');
}

const synopsisOf = (c: Command) => `passwordless-auth ${c.name}${c.synopsis ? ` ${c.synopsis}` : ''}`;

/** A usage error's answer: the problem, then the synopsis of the command(s) it is about, not the whole usage. */
function usageProblem(problem: string, about: readonly Command[]): string {
  if (about.length === 0) return `${problem}\nRun \`passwordless-auth --help\` for the list of commands.`;
  const more = about.length === 1 ? `passwordless-auth ${(about[0] as Command).name} --help` : 'passwordless-auth <command> --help';
  return `${problem}\nUsage: ${about.map(synopsisOf).join('\n       ')}\n(${more} explains it.)`;
}

function help(c: Command): string {
  const body = c.help
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
  return `Usage: ${synopsisOf(c)}\n${body}\n\nAdd --json for JSON output. ${EXIT_CODES}\n`;
}

/** The command the positionals name (two words before one). */
function find(commands: readonly Command[], positionals: readonly string[]): Command | undefined {
  for (const words of [2, 1]) {
    const name = positionals.slice(0, words).join(' ');
    const command = positionals.length >= words ? commands.find((c) => c.name === name) : undefined;
    if (command) return command;
  }
  return undefined;
}

async function ask(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

const GLOBAL_OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  yes: { type: 'boolean', short: 'y' },
} as const;

export async function runCommands(
  commands: readonly Command[],
  argv: readonly string[],
  io: Io,
  surroundings: Surroundings = {},
): Promise<number> {
  let json = argv.includes('--json');
  const fail = (message: string, code: number) => {
    if (json) io.stdout.write(`${JSON.stringify({ error: message })}\n`);
    else io.stderr.write(`passwordless-auth: ${message}\n`);
    return code;
  };
  // The command first (its words are the leading positionals), so that a usage error can show its synopsis.
  const everyOption = Object.assign({}, GLOBAL_OPTIONS, ...commands.map((c) => c.options ?? {}));
  const loose = parseArgs({ args: [...argv], options: everyOption, allowPositionals: true, strict: false });
  const words = loose.positionals;
  if (words.length === 0) {
    if (argv.some((a) => a !== '--help' && a !== '-h' && a !== '--json')) return fail(usageProblem('no command given', []), 2);
    io.stdout.write(`${usage(commands)}\n`);
    return loose.values.help ? 0 : 2;
  }
  const command = find(commands, words);
  if (!command) {
    const first = words[0] as string;
    const group = commands.filter((c) => c.name.startsWith(`${first} `));
    if (group.length > 0)
      return fail(usageProblem(`${first} needs one of: ${group.map((c) => c.name.slice(first.length + 1)).join(', ')}`, group), 2);
    return fail(usageProblem(`unknown command: ${words.join(' ')}`, []), 2);
  }
  let parsed: { values: Values; positionals: string[] };
  try {
    // Every value is a string, a boolean, or (for `multiple` options) a list of strings. (Entries share options:
    // `revoke` reads the --email and --service that `grant` declares.)
    parsed = parseArgs({ args: [...argv], options: everyOption, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (err) {
    return fail(usageProblem((err as Error).message, [command]), 2);
  }
  const { values } = parsed;
  json = values.json === true;
  if (values.help) {
    io.stdout.write(help(command));
    return 0;
  }
  const rest = parsed.positionals.slice(command.name.split(' ').length);
  const args: Args = { positionals: rest, values };
  if (command.confirm && values.yes !== true) {
    if (!(surroundings.terminal ?? process.stdin.isTTY)) return fail(`${command.name} needs --yes when there is no terminal to ask`, 2);
    if (!(await ask(command.confirm(args)))) return fail('cancelled', 1);
  }
  const cwd = surroundings.cwd ?? process.cwd();
  const load: LoadOptions = { cwd, env: readEnvironment(cwd, surroundings.env ?? process.env) };

  let config: Config | undefined;
  let runtime: Runtime | undefined;
  const ctx: Context = {
    args,
    io,
    load,
    out: {
      json,
      result(value, text) {
        io.stdout.write(json ? `${JSON.stringify(value)}\n` : `${typeof text === 'string' ? text : text.join('\n')}\n`);
      },
    },
    async runtime() {
      if (!runtime) {
        const loaded = loadConfigWithLocalKey(load);
        config = loaded.config;
        runtime = await openRuntime(config);
        if (loaded.createdKeyFile !== undefined) {
          // A key made just now must not seal anything next to secrets sealed with another one.
          const problem = keyProblem(await checkKeys(runtime.store.sealedValues, runtime.keys));
          if (problem) throw keysRefused(problem, config, loaded.createdKeyFile, 'run');
        }
        if (!json) for (const n of loaded.notices) io.stderr.write(`note: ${n}\n`);
      }
      return runtime;
    },
  };
  // One audit line per admin change, or per change refused (both at info), on stderr (stdout is the command's result), at LOG_LEVEL
  // like the server's.
  const audit = () =>
    createLogger(
      { level: config?.logLevel ?? 'info', base: { service: 'passwordless-auth', by: 'cli' } },
      { write: (line: string) => io.stderr.write(line) },
    );
  try {
    const code = (await command.run(ctx)) ?? 0;
    if (code === 0 && command.audit) audit().info({ event: command.audit.event, ...command.audit.fields(args) }, 'admin change');
    return code;
  } catch (err) {
    if (err instanceof UsageError) return fail(usageProblem(err.message, [command]), 2);
    if (err instanceof AdminError && command.audit) {
      audit().info(
        { event: command.audit.event, refused: true, reason: err.message, ...command.audit.fields(args) },
        'admin change refused',
      );
    }
    if (err instanceof AdminError || err instanceof ConfigError || err instanceof KeyCheckError || err instanceof StartUpError)
      return fail(err.message, 1);
    const explained = explainStartUpError(err, config);
    return fail(explained ? `could not open the database: ${explained}` : `failed: ${safeMessage(err)}`, 1);
  } finally {
    await runtime?.close();
  }
}
