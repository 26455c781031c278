// The core's InviteStore over Kysely: one-time enrolment links, redeemed in one transaction with what they set up.
import type { InviteStore } from '../core/ports.js';
import type { ChangeLog } from './changes.js';
import type { OpenDatabase } from './database.js';
import { addDeviceAfter } from './devices.js';
import { insertPasskey } from './passkeys.js';
import { toInvite } from './rows.js';
import { affected, exact, insertedId, uniquely } from './sql-helpers.js';

export function createInviteStore(database: OpenDatabase, changes: ChangeLog): InviteStore {
  const { db } = database;
  return {
    async create(invite) {
      const id = await uniquely('invite', () =>
        db.transaction().execute(async (trx) => {
          // A newer invite voids the older ones: they go, so their links find nothing.
          await trx.deleteFrom('invites').where('user_id', '=', invite.userId).execute();
          return insertedId(
            database.dialect,
            trx.insertInto('invites').values({
              token_hash: invite.tokenHash,
              user_id: invite.userId,
              pending_totp_sealed: invite.pendingTotpSealed,
              created_at: invite.createdAt,
              expires_at: invite.expiresAt,
              used_at: null,
            }),
          );
        }),
      );
      return { id, ...invite, usedAt: null };
    },
    async findByTokenHash(tokenHash) {
      const row = await db.selectFrom('invites').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
      return row && exact(row.token_hash, tokenHash) ? toInvite(row) : undefined;
    },
    async listPending(now) {
      const rows = await db
        .selectFrom('invites')
        .selectAll()
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .orderBy('id')
        .execute();
      return rows.map(toInvite);
    },
    redeem: ({ tokenHash, now, device, totp, passkey, stillWanted }) =>
      // A credential id registered already (to anyone) is a ConflictError, and nothing is written.
      uniquely('passkey', () =>
        addDeviceAfter(changes, device, stillWanted, async (trx, changed) => {
          const used = await trx
            .updateTable('invites')
            .set({ used_at: now })
            .where('token_hash', '=', tokenHash)
            .where('user_id', '=', device.userId)
            .where('used_at', 'is', null)
            .where('expires_at', '>', now)
            .executeTakeFirst();
          if (!affected(used)) return 'refused' as const;
          if (totp) {
            await trx
              .updateTable('users')
              // Set up with an app from an invite: codes are the way in again, so passkey-only goes off.
              .set({ totp_secret_sealed: totp.sealed, last_totp_step: totp.step, passkey_only: 0 })
              .where('id', '=', device.userId)
              .execute();
            changed({ kind: 'user', userId: device.userId });
          }
          if (passkey) await insertPasskey(database, trx, passkey);
          return undefined;
        }),
      ),
  };
}
