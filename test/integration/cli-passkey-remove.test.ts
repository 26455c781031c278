// Rule: `passkey remove` never silently takes a user's last way in. The last passkey of a passkey-only user is
// refused (exit 1) with a message that names the two ways on: `--passkey-only false` (codes from their app again, in
// the same step) or `--lock-out`; for a user without an app only `--lock-out` helps. In-process, on SQLite (the rule
// itself runs under the account's lock on every database: test/integration/passkeys-invites.contract.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommands } from '../../src/cli/command.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { TEST_KEY } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

async function run(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCommands(COMMANDS, [...argv, '--json'], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, out: stdout ? JSON.parse(stdout) : undefined, err: stderr };
}

describe('passkey remove keeps a way in', () => {
  let tdb: TestDatabase;
  const saved = { ...process.env };

  beforeAll(async () => {
    tdb = await createTestDatabase('sqlite');
    Object.assign(process.env, { DATABASE_URL: tdb.url, ENCRYPTION_KEYS: TEST_KEY, LOG_LEVEL: 'info' });
  });
  afterAll(async () => {
    process.env = saved;
    await tdb?.drop();
  });

  /** A user with an app (`user add`) or without (`user invite`), one passkey, passkey-only on. */
  async function passkeyOnlyUser(email: string, withApp: boolean): Promise<number> {
    expect((await run('user', withApp ? 'add' : 'invite', '--email', email)).code).toBe(0);
    const { openRuntime } = await import('../../src/runtime.js');
    const { loadConfig } = await import('../../src/config/config.js');
    const rt = await openRuntime(loadConfig({ env: process.env }).config);
    try {
      const user = await rt.store.users.findByEmail(email);
      const p = await rt.store.passkeys.create({
        userId: user?.id ?? 0,
        credentialId: `cred-${email}`,
        publicKey: 'pQECAyYgASFYIA',
        signCount: 0,
        transports: [],
        name: 'Phone',
        createdAt: 1,
      });
      expect((await run('user', 'set', '--email', email, '--passkey-only', 'true')).code).toBe(0);
      return p.id;
    } finally {
      await rt.close();
    }
  }

  it('refuses the last passkey of a passkey-only user, and removes it with codes turned on in the same step', async () => {
    const id = await passkeyOnlyUser('app@example.com', true);
    const refused = await run('passkey', 'remove', '--id', String(id), '--yes');
    expect(refused.code).toBe(1);
    expect(refused.out.error).toContain('signs in with passkeys only: removing it would lock them out');
    expect(refused.out.error).toContain('--passkey-only false');
    expect(refused.out.error).toContain('--lock-out');
    // The audit line says what was refused, and why.
    expect(JSON.parse(refused.err)).toMatchObject({
      event: 'admin.passkey.removed',
      refused: true,
      reason: refused.out.error,
      passkeyId: String(id),
    });
    expect((await run('passkey', 'list')).out).toHaveLength(1);
    expect((await run('passkey', 'remove', '--id', String(id), '--yes', '--passkey-only', 'true')).code).toBe(2);
    const removed = await run('passkey', 'remove', '--id', String(id), '--yes', '--passkey-only', 'false');
    expect(removed).toMatchObject({ code: 0, out: { removed: id, passkeyOnly: false } });
    expect((await run('user', 'list')).out).toContainEqual(
      expect.objectContaining({
        email: 'app@example.com',
        signIn: expect.objectContaining({ code: true, passkeys: 0, passkeyOnly: false }),
      }),
    );
  });

  it('for a user without an app, only --lock-out removes it, and says to invite them', async () => {
    const id = await passkeyOnlyUser('no-app@example.com', false);
    const refused = await run('passkey', 'remove', '--id', String(id), '--yes', '--passkey-only', 'false');
    expect(refused.code).toBe(1);
    expect(refused.out.error).toContain('they have no authenticator app');
    const removed = await run('passkey', 'remove', '--id', String(id), '--yes', '--lock-out');
    expect(removed).toMatchObject({ code: 0, out: { removed: id, lockedOut: true } });
  });
});
