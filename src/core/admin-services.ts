// Administration of services and proxy tokens: each a unique name with a hashed token, shown once.
import { AdminError, type AdminTools } from './admin-tools.js';
import { newSaltedHash, newToken } from './crypto.js';
import type { ProxyToken, Service } from './model.js';

export function serviceAdmin({ store, clock, serviceByName, checkServiceName, conflictAsAdminError }: AdminTools) {
  return {
    async addService(name: string): Promise<{ service: Service; token: string }> {
      checkServiceName(name);
      const token = newToken();
      const service = await conflictAsAdminError(`a service named ${name}`, () =>
        store.services.create({ name, token: newSaltedHash(token), createdAt: clock.now() }),
      );
      return { service, token };
    },

    listServices: (): Promise<Service[]> => store.services.list(),

    async deleteService(name: string): Promise<void> {
      const service = await serviceByName(name);
      await store.services.deleteByName(service.name);
    },

    async rotateServiceToken(name: string): Promise<{ token: string }> {
      const service = await serviceByName(name);
      const token = newToken();
      await store.services.setToken(service.name, newSaltedHash(token));
      return { token };
    },

    async addProxyToken(name: string): Promise<{ proxyToken: ProxyToken; token: string }> {
      checkServiceName(name);
      const token = newToken();
      const proxyToken = await conflictAsAdminError(`a proxy token named ${name}`, () =>
        store.proxyTokens.create({ name, token: newSaltedHash(token), createdAt: clock.now() }),
      );
      return { proxyToken, token };
    },

    listProxyTokens: (): Promise<ProxyToken[]> => store.proxyTokens.list(),

    async deleteProxyToken(name: string): Promise<void> {
      const deleted = await store.proxyTokens.deleteByName(name);
      if (!deleted) throw new AdminError(`no proxy token named ${name}`);
    },
  };
}
