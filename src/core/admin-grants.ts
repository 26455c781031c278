// Administration of grants: a user's access to a service, with the scope of what the service is told.
import { AdminError, type AdminTools } from './admin-tools.js';
import { newGrant } from './grants.js';
import { normaliseScope } from './identity.js';
import type { Grant } from './model.js';

export function grantAdmin({ store, keys, clock, userByEmail, serviceByName }: AdminTools) {
  return {
    /** Creates the grant, or changes the scope of an existing one (its pseudonymous token stays). */
    async grant(input: { email: string; service: string; scope?: string | undefined }): Promise<{ grant: Grant; created: boolean }> {
      const scoped = normaliseScope(input.scope ?? '');
      if ('unknown' in scoped)
        throw new AdminError(`unknown scope ${scoped.unknown.join(', ')}; known: read:email, read:username, read:user-role`);
      const user = await userByEmail(input.email);
      const service = await serviceByName(input.service);
      const created = await store.grants.insertIfAbsent(newGrant(keys, clock.now(), user.id, service.id, scoped.scope));
      if (!created) await store.grants.setScope(user.id, service.id, scoped.scope);
      const grant = await store.grants.find(user.id, service.id);
      if (!grant) throw new Error('grant vanished while it was written');
      return { grant, created };
    },

    async revoke(input: { email: string; service: string }): Promise<void> {
      const user = await userByEmail(input.email);
      const service = await serviceByName(input.service);
      const deleted = await store.grants.delete(user.id, service.id);
      if (!deleted) throw new AdminError(`${user.email} has no grant for ${service.name}`);
    },

    async listGrants(): Promise<Array<Grant & { email: string; service: string }>> {
      const [grants, users, services] = await Promise.all([store.grants.list(), store.users.list(), store.services.list()]);
      const emails = new Map(users.map((u) => [u.id, u.email]));
      const names = new Map(services.map((s) => [s.id, s.name]));
      // A group member's token row is no grant of its own: their group's grant is listed with the group.
      return grants
        .filter((g) => g.viaGroup !== true)
        .map((g) => ({ ...g, email: emails.get(g.userId) ?? '?', service: names.get(g.serviceId) ?? '?' }));
    },
  };
}
