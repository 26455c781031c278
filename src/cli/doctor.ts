// `doctor`: checks configuration, database, migrations and keys, and says what to fix. It changes nothing: it
// neither migrates nor creates the local key file, and opens the database without the rest of the runtime.
import { type LoadOptions, loadConfig } from '../config/config.js';
import { KeyRing } from '../core/crypto.js';
import { checkKeys, keyProblem } from '../core/key-check.js';
import { safeMessage } from '../logging.js';
import { type OpenDatabase, openDatabase } from '../store/database.js';
import { isMigrated } from '../store/migrate.js';
import { createSqlStore } from '../store/sql-store.js';
import type { Command } from './command.js';

interface Check {
  readonly name: string;
  readonly status: 'ok' | 'warn' | 'fail';
  readonly detail: string;
}

async function diagnose(load: LoadOptions): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (name: string, status: Check['status'], detail: string) => checks.push({ name, status, detail });
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig(load);
  } catch (err) {
    add('configuration', 'fail', err instanceof Error ? err.message : String(err));
    return checks;
  }
  const { config, notices } = loaded;
  add('configuration', 'ok', `valid; database ${config.databaseLabel}`);
  for (const n of notices) add('configuration', 'warn', n);
  if (config.insecureHttp)
    add('cookies', config.production ? 'fail' : 'warn', 'INSECURE_HTTP=true: cookies lack Secure. Turn it off behind HTTPS.');
  if (!config.cookie.domain) add('cookies', 'warn', 'COOKIE_DOMAIN is not set: the cookies are host-only and reach no other subdomain.');
  if (!config.production) add('environment', 'warn', 'NODE_ENV is not production: the strict start-up checks are off.');
  const keys = config.encryptionKeys.length > 0 ? new KeyRing(config.encryptionKeys) : undefined;
  if (keys) add('keys', 'ok', `${config.encryptionKeys.length} encryption key(s); new values are sealed with "${keys.primaryId}"`);
  else
    add(
      'keys',
      'warn',
      `no key yet: ENCRYPTION_KEYS is not set and ${config.localKeyFile} does not exist. The server and the CLI create it on first use; set ENCRYPTION_KEYS for production.`,
    );

  let database: OpenDatabase | undefined;
  try {
    database = openDatabase(config.database, { connectionLimit: 1 });
    const store = createSqlStore(database);
    await store.ping();
    add('database', 'ok', 'reachable');
    if (!(await isMigrated(database).catch(() => false))) {
      add('migrations', 'fail', 'not all applied: run `passwordless-auth migrate` (the server also applies them at start)');
      return checks;
    }
    add('migrations', 'ok', 'all applied');
    if (!keys) return checks;
    // The same check the server makes before it starts.
    const check = await checkKeys(store.sealedValues, keys);
    const problem = keyProblem(check);
    const stale = check.stale.reduce((sum, c) => sum + c.count, 0);
    if (problem) add('keys', 'fail', `${problem} The keys were read from ${config.keySource}.`);
    else if (stale > 0)
      add(
        'keys',
        'warn',
        `${stale} stored secret(s) are sealed with an older key (${check.stale.map((c) => c.keyId).join(', ')}); keep it in ENCRYPTION_KEYS`,
      );
    else add('keys', 'ok', `every stored secret (${check.total}) decrypts with the configured keys`);
  } catch (err) {
    add('database', 'fail', `not reachable: ${safeMessage(err)}. Check DATABASE_URL and that the server runs.`);
  } finally {
    await database?.db.destroy().catch(() => {});
  }
  return checks;
}

export const doctorCommand: Command = {
  name: 'doctor',
  synopsis: '',
  summary: 'check configuration, database, migrations and keys',
  help: 'Checks configuration, database reachability, migrations and encryption keys, and says what to fix.\nExit code 1 if any check fails.',
  async run({ io, out, load }) {
    const checks = await diagnose(load);
    const failed = checks.some((c) => c.status === 'fail');
    if (out.json) io.stdout.write(`${JSON.stringify({ ok: !failed, checks })}\n`);
    else
      io.stdout.write(
        `${checks.map((c) => `${c.status === 'ok' ? 'ok  ' : c.status === 'warn' ? 'WARN' : 'FAIL'}  ${c.name}: ${c.detail}`).join('\n')}\n`,
      );
    return failed ? 1 : 0;
  },
};
