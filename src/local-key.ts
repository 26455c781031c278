// The `npm start` experience: outside production with no key configured, the first run makes a local key file
// and says so. Runtime wiring (main.ts and the CLI), not configuration: config/ only says which file it would be.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Config, type Loaded, type LoadOptions, loadConfig, readEnvironment } from './config/config.js';
import { KeyCheckError } from './core/key-check.js';

/** Creates the key file with one new key, mode 0600; `false` if it already exists (another process made it first). */
function createLocalKeyFile(file: string): boolean {
  mkdirSync(dirname(file), { recursive: true });
  try {
    writeFileSync(file, `local:${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  chmodSync(file, 0o600);
  return true;
}

/** The configuration, after creating the local key file when it is the key source and missing (`createdKeyFile`). */
export function loadConfigWithLocalKey(options: LoadOptions = {}): Loaded & { readonly createdKeyFile?: string } {
  const env = options.env ?? readEnvironment(options.cwd);
  const first = loadConfig({ ...options, env });
  const file = first.config.localKeyFile;
  if (file === undefined || first.config.encryptionKeys.length > 0) return first;
  const created = createLocalKeyFile(file);
  const loaded = loadConfig({ ...options, env });
  if (!created) return loaded;
  return {
    config: loaded.config,
    createdKeyFile: file,
    notices: [
      `no ENCRYPTION_KEYS configured: created a local key file ${file} (mode 0600). Keep it with the database; set ENCRYPTION_KEYS for production.`,
      ...loaded.notices,
    ],
  };
}

/**
 * The refusal when the keys cannot open the stored secrets, naming where the keys were read from. A local key file
 * made just now cannot be the one the secrets were sealed with: it is removed again, so that no value is ever sealed
 * with it, and the message says where the right key may be.
 */
export function keysRefused(problem: string, config: Config, createdKeyFile: string | undefined, what = 'start'): KeyCheckError {
  if (createdKeyFile === undefined)
    return new KeyCheckError(`refusing to ${what}: ${problem} The keys were read from ${config.keySource}.`);
  rmSync(createdKeyFile, { force: true });
  return new KeyCheckError(
    `refusing to ${what}: ${problem} There was no key file at ${createdKeyFile} (one was made and removed again): the secrets ` +
      'were sealed with a key from elsewhere, probably the encryption.key of another directory. Set ENCRYPTION_KEY_FILE to that file, or ENCRYPTION_KEYS.',
  );
}
