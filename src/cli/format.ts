// How the CLI shows things: times, text tables, the JSON shape of each entity, and the fields of audit lines.
import type { Device, Grant, ProxyToken, Service, User } from '../core/model.js';
import type { Args } from './command.js';

export const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));

/** Rows as aligned text columns; the first row is the header. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

export const userJson = (u: User) => ({ id: u.id, email: u.email, username: u.username, role: u.role, createdAt: iso(u.createdAt) });
export const serviceJson = (s: Service) => ({ id: s.id, name: s.name, createdAt: iso(s.createdAt) });
export const deviceJson = (d: Device) => ({
  id: d.id,
  userId: d.userId,
  deviceType: d.deviceType,
  createdAt: iso(d.createdAt),
  lastSeenAt: iso(d.lastSeenAt),
});
export const proxyJson = (p: ProxyToken) => ({ id: p.id, name: p.name, createdAt: iso(p.createdAt) });
export const grantJson = (g: Grant & { email: string; service: string }) => ({
  email: g.email,
  service: g.service,
  scope: g.scope,
  createdAt: iso(g.createdAt),
});

/** Audit fields: the --email and --service given. */
export const emailAndService = ({ values }: Args) => ({
  ...(typeof values.email === 'string' ? { email: values.email } : {}),
  ...(typeof values.service === 'string' ? { serviceName: values.service } : {}),
});

/** Audit fields: the name given as the positional argument. */
export const named = ({ positionals }: Args) => (positionals[0] ? { name: positionals[0] } : {});
