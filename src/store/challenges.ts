// The core's ChallengeStore over Kysely: the WebAuthn challenges in flight, each taken out exactly once.
import type { ChallengeStore } from '../core/ports.js';
import type { OpenDatabase } from './database.js';
import { toChallenge } from './rows.js';
import { affected, exact } from './sql-helpers.js';

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
