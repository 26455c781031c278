// A new grant: its pseudonymous user-service token is a random UUID, sealed to its (user, service) row.
import { randomUUID } from 'node:crypto';
import { type KeyRing, sealContext } from './crypto.js';
import type { Grant } from './model.js';

export function newGrant(keys: KeyRing, now: number, userId: number, serviceId: number, scope: string): Grant {
  return { userId, serviceId, scope, tokenSealed: keys.seal(randomUUID(), sealContext.grantToken(userId, serviceId)), createdAt: now };
}
