// The change feed's vocabulary: what a change that can alter a /verify answer names, and how it is written in a
// row of the change table. Store mutations append these in their own transaction (ports.ts: `Changes`); every
// instance reads them back and hands each to `VerifyCache.forget`, the one way a cache entry is dropped.
import { HEX32 } from './crypto.js';

export type Change =
  /** A device was signed out or removed. */
  | { readonly kind: 'device'; readonly deviceId: string }
  /** A user was deleted or changed (role, passkey-only): their devices and decisions. */
  | { readonly kind: 'user'; readonly userId: number }
  /** A grant was added, changed or removed. */
  | { readonly kind: 'grant'; readonly userId: number; readonly serviceId: number }
  /** A service was added or removed, or its token rotated: callers and decisions for services. */
  | { readonly kind: 'services' }
  /** A proxy token was removed: accepted callers. */
  | { readonly kind: 'proxy-tokens' }
  /** Something every access decision may depend on (a user's grants in bulk): every decision. */
  | { readonly kind: 'decisions' }
  /** A group, its members or its grants changed: every user's groups and decisions. */
  | { readonly kind: 'groups' }
  /** A service's access rules changed: every compiled matcher. */
  | { readonly kind: 'rules' };

/** A change as the table holds it. */
export interface ChangeRow {
  readonly kind: string;
  readonly subject: string;
}

export function encodeChange(c: Change): ChangeRow {
  switch (c.kind) {
    case 'device':
      return { kind: c.kind, subject: c.deviceId };
    case 'user':
      return { kind: c.kind, subject: String(c.userId) };
    case 'grant':
      return { kind: c.kind, subject: `${c.userId}:${c.serviceId}` };
    default:
      return { kind: c.kind, subject: '' };
  }
}

const ID = /^[1-9]\d{0,15}$/;

/** The change a row names, or `undefined` for a row this version does not understand (logged and skipped). */
export function decodeChange(row: ChangeRow): Change | undefined {
  const { kind, subject } = row;
  switch (kind) {
    case 'device':
      return HEX32.test(subject) ? { kind, deviceId: subject } : undefined;
    case 'user':
      return ID.test(subject) ? { kind, userId: Number(subject) } : undefined;
    case 'grant': {
      const [user, service, extra] = subject.split(':');
      if (extra !== undefined || !user || !service || !ID.test(user) || !ID.test(service)) return undefined;
      return { kind, userId: Number(user), serviceId: Number(service) };
    }
    case 'services':
    case 'proxy-tokens':
    case 'decisions':
    case 'groups':
    case 'rules':
      return subject === '' ? { kind } : undefined;
    default:
      return undefined;
  }
}
