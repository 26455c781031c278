// The core's InviteStore and ChallengeStore over Kysely: one-time enrolment links, redeemed in one transaction
// with what they set up, and the WebAuthn challenges in flight, each taken out exactly once.
import type { ChallengeStore, InviteStore } from '../core/ports.js';
import type { ChangeLog } from './changes.js';
import type { OpenDatabase } from './database.js';
import { addDeviceAfter } from './devices.js';
import { insertPasskey } from './passkeys.js';
import { toChallenge, toInvite } from './rows.js';
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

export function createChallengeStore({ db }: OpenDatabase): ChallengeStore {
  return {
    async create(c) {
      await db
        .insertInto('webauthn_challenges')
        .values({ handle_hash: c.handleHash, challenge: c.challenge, purpose: c.purpose, user_id: c.userId, expires_at: c.expiresAt })
        .execute();
    },
    async take(handleHash) {
      const row = await db.selectFrom('webauthn_challenges').selectAll().where('handle_hash', '=', handleHash).executeTakeFirst();
      if (!row || !exact(row.handle_hash, handleHash)) return undefined;
      // Whoever deletes the row owns the challenge: of parallel takers exactly one sees a deleted row.
      const deleted = await db.deleteFrom('webauthn_challenges').where('handle_hash', '=', handleHash).executeTakeFirst();
      return affected(deleted) ? toChallenge(row) : undefined;
    },
    async prune(before) {
      const r = await db.deleteFrom('webauthn_challenges').where('expires_at', '<', before).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
