// The core's UserStore over Kysely.
import type { Role, UserStore } from '../core/ports.js';
import type { OpenDatabase } from './database.js';
import { toUser } from './rows.js';
import { affected, exact, insertedId, uniquely } from './sql-helpers.js';

export function createUserStore({ db, dialect }: OpenDatabase): UserStore {
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
    async deleteByEmail(email) {
      return affected(await db.deleteFrom('users').where('email', '=', email).executeTakeFirst());
    },
    async advanceTotpStep(userId, step) {
      const r = await db
        .updateTable('users')
        .set({ last_totp_step: step })
        .where('id', '=', userId)
        .where((eb) => eb.or([eb('last_totp_step', 'is', null), eb('last_totp_step', '<', step)]))
        .executeTakeFirst();
      return affected(r);
    },
    async setPasskeyOnly(userId, passkeyOnly) {
      const r = await db
        .updateTable('users')
        .set({ passkey_only: passkeyOnly ? 1 : 0 })
        .where('id', '=', userId)
        .executeTakeFirst();
      // MySQL counts changed rows only: setting the value it already has reports none, so look again.
      if (affected(r)) return true;
      return (await db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst()) !== undefined;
    },
    async addTotpSecret(userId, sealed, step) {
      const r = await db
        .updateTable('users')
        .set({ totp_secret_sealed: sealed, last_totp_step: step, passkey_only: 0 })
        .where('id', '=', userId)
        .where('totp_secret_sealed', '=', '')
        .executeTakeFirst();
      return affected(r);
    },
    async removeTotpSecret(userId) {
      // The passkey check is in the same statement, so a passkey removed at the same moment cannot leave the
      // account with no way in.
      const r = await db
        .updateTable('users')
        .set({ totp_secret_sealed: '', passkey_only: 0 })
        .where('id', '=', userId)
        .where('totp_secret_sealed', '<>', '')
        .where(({ exists, selectFrom }) => exists(selectFrom('passkeys').select('passkeys.id').where('passkeys.user_id', '=', userId)))
        .executeTakeFirst();
      return affected(r);
    },
  };
}
