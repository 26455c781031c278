// The core's UserStore over Kysely.
import { sql, type Transaction } from 'kysely';
import type { Role, SignInState } from '../core/model.js';
import type { UserStore } from '../core/ports.js';
import type { ChangeLog } from './changes.js';
import type { Dialect, OpenDatabase } from './database.js';
import { toUser } from './rows.js';
import type { Database } from './schema.js';
import { affected, exact, insertedId, uniquely } from './sql-helpers.js';

/**
 * Takes the account's lock for the rest of `trx` and reads how it signs in; `undefined` if there is no such user.
 * MySQL and PostgreSQL lock the user's row (PostgreSQL's FOR NO KEY UPDATE still lets a sign-in's new device
 * reference the user meanwhile); SQLite has no row locks, so a write to the row makes this transaction the
 * database's only writer until it ends (other processes wait for it, up to busy_timeout).
 */
async function lockSignIn(trx: Transaction<Database>, dialect: Dialect, userId: number): Promise<SignInState | undefined> {
  const read = trx.selectFrom('users').select(['passkey_only', 'totp_secret_sealed']).where('id', '=', userId);
  let user: { passkey_only: number; totp_secret_sealed: string } | undefined;
  if (dialect === 'sqlite') {
    await trx.updateTable('users').set({ passkey_only: sql<number>`passkey_only` }).where('id', '=', userId).execute();
    user = await read.executeTakeFirst();
  } else {
    user = await (dialect === 'postgres' ? read.forNoKeyUpdate() : read.forUpdate()).executeTakeFirst();
  }
  if (!user) return undefined;
  // Read after the lock: on PostgreSQL a new statement sees what the lock's previous holder committed, and on MySQL
  // the transaction's first plain read takes its snapshot now.
  const passkeys = await trx.selectFrom('passkeys').select('id').where('user_id', '=', userId).orderBy('id').execute();
  return {
    passkeyIds: passkeys.map((p) => Number(p.id)),
    passkeyOnly: Number(user.passkey_only) === 1,
    hasApp: user.totp_secret_sealed !== '',
  };
}

export function createUserStore({ db, dialect }: OpenDatabase, changes: ChangeLog): UserStore {
  return {
    async create(input, sealSecret) {
      return uniquely('user', () =>
        db.transaction().execute(async (trx) => {
          const id = await insertedId(
            dialect,
            trx.insertInto('users').values({
              email: input.email,
              username: input.username,
              role: input.role satisfies Role,
              totp_secret_sealed: '',
              created_at: input.createdAt,
            }),
          );
          const sealed = sealSecret(id);
          await trx.updateTable('users').set({ totp_secret_sealed: sealed }).where('id', '=', id).execute();
          return { id, ...input, totpSecretSealed: sealed, lastTotpStep: null, passkeyOnly: false };
        }),
      );
    },
    async findByEmail(email) {
      const row = await db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
      return row && exact(row.email, email) ? toUser(row) : undefined;
    },
    async findById(id) {
      const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toUser(row) : undefined;
    },
    async list() {
      return (await db.selectFrom('users').selectAll().orderBy('id').execute()).map(toUser);
    },
    deleteByEmail: (email) =>
      changes.transaction(async (trx, changed) => {
        const row = await trx.selectFrom('users').select(['id', 'email']).where('email', '=', email).executeTakeFirst();
        if (!row || !exact(row.email, email)) return false;
        const deleted = affected(await trx.deleteFrom('users').where('id', '=', row.id).executeTakeFirst());
        if (deleted) changed({ kind: 'user', userId: Number(row.id) });
        return deleted;
      }),
    async advanceTotpStep(userId, step) {
      const r = await db
        .updateTable('users')
        .set({ last_totp_step: step })
        .where('id', '=', userId)
        .where((eb) => eb.or([eb('last_totp_step', 'is', null), eb('last_totp_step', '<', step)]))
        .executeTakeFirst();
      return affected(r);
    },
    changeSignIn: (userId, decide) =>
      changes.transaction(async (trx, changed) => {
        const state = await lockSignIn(trx, dialect, userId);
        if (!state) return undefined;
        const { change, result } = decide(state);
        if (change?.removePasskey !== undefined) {
          await trx.deleteFrom('passkeys').where('id', '=', change.removePasskey).where('user_id', '=', userId).execute();
        }
        if (change?.passkeyOnly !== undefined) {
          await trx
            .updateTable('users')
            .set({ passkey_only: change.passkeyOnly ? 1 : 0 })
            .where('id', '=', userId)
            .execute();
          // Passkey-only switched: a change the feed carries.
          changed({ kind: 'user', userId });
        }
        return result;
      }),
    // Adding or removing the authenticator app also turns passkey-only off: a change the feed carries.
    addTotpSecret: (userId, sealed, step) =>
      changes.transaction(async (trx, changed) => {
        const r = await trx
          .updateTable('users')
          .set({ totp_secret_sealed: sealed, last_totp_step: step, passkey_only: 0 })
          .where('id', '=', userId)
          .where('totp_secret_sealed', '=', '')
          .executeTakeFirst();
        if (affected(r)) changed({ kind: 'user', userId });
        return affected(r);
      }),
    removeTotpSecret: (userId) =>
      // Under the account's lock, like every change that could leave it without a way in: a passkey removed at the
      // same moment is either gone before this reads the passkeys, or waits until this has committed.
      changes.transaction(async (trx, changed) => {
        const state = await lockSignIn(trx, dialect, userId);
        if (!state?.hasApp || state.passkeyIds.length === 0) return false;
        await trx.updateTable('users').set({ totp_secret_sealed: '', passkey_only: 0 }).where('id', '=', userId).execute();
        changed({ kind: 'user', userId });
        return true;
      }),
  };
}
