// Administration of devices, through their lifecycle module (core/devices.ts) as everywhere else.
import { AdminError, type AdminTools } from './admin-tools.js';
import { HEX32 } from './crypto.js';
import type { Device } from './model.js';

export function deviceAdmin({ devices, userByEmail }: AdminTools) {
  return {
    async listDevices(email?: string): Promise<Device[]> {
      if (email === undefined) return devices.list();
      const user = await userByEmail(email);
      return devices.list(user.id);
    },

    async revokeDevice(id: string): Promise<void> {
      if (!HEX32.test(id)) throw new AdminError(`no device with id ${id}`);
      if (!(await devices.revoke(id))) throw new AdminError(`no device with id ${id}`);
    },
  };
}
