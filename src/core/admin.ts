// Administration: what the command line does, as plain functions over the store, one module per entity
// (admin-users.ts, admin-passkeys.ts, admin-services.ts, admin-grants.ts, admin-devices.ts, access-admin.ts),
// composed here. No printing, no process.
import { createAccessAdmin } from './access-admin.js';
import { deviceAdmin } from './admin-devices.js';
import { grantAdmin } from './admin-grants.js';
import { passkeyAdmin } from './admin-passkeys.js';
import { serviceAdmin } from './admin-services.js';
import { type AdminDeps, AdminError, adminTools } from './admin-tools.js';
import { userAdmin } from './admin-users.js';

export function createAdmin(deps: AdminDeps) {
  const tools = adminTools(deps);
  return {
    ...userAdmin(tools),
    ...passkeyAdmin(tools),
    ...serviceAdmin(tools),
    ...grantAdmin(tools),
    ...deviceAdmin(tools),
    ...createAccessAdmin({ ...tools, fail: (message) => new AdminError(message) }),
  };
}
