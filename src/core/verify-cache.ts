// The caches in front of /verify. Separate LRUs, so a flood of junk cookies (which only ever lands in the
// negative cache) can never evict a real device or decision. Keys are the exact strings (whole cookie pairs,
// service name with credential), so a hit costs map look-ups and no cryptographic hashing at all.
import { LRUCache } from 'lru-cache';
import type { Identity } from './auth.js';
import type { Clock } from './clock.js';
import type { DeviceCredential } from './cookies.js';
import type { Device, User } from './ports.js';

export interface CacheOptions {
  /** How long a verified device, caller credential or access decision is reused; 0 turns positive caching off. */
  readonly positiveTtlInMs: number;
  readonly positiveMaxEntries: number;
  /** How long a cookie pair that failed is rejected from memory; 0 turns it off. */
  readonly negativeTtlInMs: number;
  readonly negativeMaxEntries: number;
}

export const DEFAULT_CACHE_OPTIONS: CacheOptions = {
  positiveTtlInMs: 5_000,
  positiveMaxEntries: 10_000,
  negativeTtlInMs: 60_000,
  negativeMaxEntries: 100_000,
};

export type Decision = { readonly kind: 'allow'; readonly identity: Identity } | { readonly kind: 'forbidden' };

interface CachedDevice {
  readonly device: Device;
  readonly user: User;
}

/** Counters for tests and metrics. */
export interface CacheStats {
  negativeHits: number;
  positiveHits: number;
  misses: number;
}

function lru<V extends {}>(max: number, ttl: number, clock: Clock): LRUCache<string, V> | undefined {
  if (ttl <= 0 || max <= 0) return undefined;
  return new LRUCache<string, V>({ max, ttl, ttlResolution: 0, perf: { now: () => clock.now() } });
}

export class VerifyCache {
  readonly stats: CacheStats = { negativeHits: 0, positiveHits: 0, misses: 0 };
  /**
   * Cookie pairs that failed, keyed on the whole pair (never the id alone: that would let anyone lock a device
   * out). The key is the pair itself, which a Map hashes; only pairs that are not credentials land here.
   */
  readonly #negative: LRUCache<string, true> | undefined;
  /** Devices that verified, keyed by the exact (id, secret) pair that proved it: a hit needs no comparison. */
  readonly #devices: LRUCache<string, CachedDevice> | undefined;
  /** Caller credentials accepted for a service name: (name, credential) → the service id, or null if no such service. */
  readonly #callers: LRUCache<string, { serviceId: number | null }> | undefined;
  /** Access decisions per (user id, service id). */
  readonly #decisions: LRUCache<string, Decision> | undefined;

  constructor(options: CacheOptions, clock: Clock) {
    this.#negative = lru(options.negativeMaxEntries, options.negativeTtlInMs, clock);
    this.#devices = lru(options.positiveMaxEntries, options.positiveTtlInMs, clock);
    this.#callers = lru(Math.min(options.positiveMaxEntries, 1_000), options.positiveTtlInMs, clock);
    this.#decisions = lru(options.positiveMaxEntries, options.positiveTtlInMs, clock);
  }

  static pairKey(c: DeviceCredential): string {
    return c.deviceId + c.secret;
  }

  isKnownBad(c: DeviceCredential): boolean {
    const hit = this.#negative?.has(VerifyCache.pairKey(c)) ?? false;
    if (hit) this.stats.negativeHits++;
    return hit;
  }

  rememberBad(c: DeviceCredential): void {
    this.#negative?.set(VerifyCache.pairKey(c), true);
  }

  device(c: DeviceCredential): { device: Device; user: User } | undefined {
    return this.#devices?.get(c.deviceId + c.secret);
  }

  rememberDevice(c: DeviceCredential, found: { device: Device; user: User }): void {
    this.#devices?.set(c.deviceId + c.secret, found);
  }

  caller(serviceName: string, credential: string): { serviceId: number | null } | undefined {
    return this.#callers?.get(`${serviceName}\0${credential}`);
  }

  rememberCaller(serviceName: string, credential: string, serviceId: number | null): void {
    this.#callers?.set(`${serviceName}\0${credential}`, { serviceId });
  }

  decision(userId: number, serviceId: number): Decision | undefined {
    return this.#decisions?.get(`${userId}:${serviceId}`);
  }

  rememberDecision(userId: number, serviceId: number, decision: Decision): void {
    this.#decisions?.set(`${userId}:${serviceId}`, decision);
  }

  forgetDevice(deviceId: string): void {
    // Keys start with the 32-character id; admin changes are rare, so a scan is fine.
    for (const key of this.#devices?.keys() ?? []) if (key.startsWith(deviceId)) this.#devices?.delete(key);
  }

  forgetUser(userId: number): void {
    for (const [id, entry] of this.#devices?.entries() ?? []) if (entry.user.id === userId) this.#devices?.delete(id);
    for (const key of this.#decisions?.keys() ?? []) if (key.startsWith(`${userId}:`)) this.#decisions?.delete(key);
  }

  forgetGrant(userId: number, serviceId: number): void {
    this.#decisions?.delete(`${userId}:${serviceId}`);
  }

  /** A service was deleted or its token rotated: callers and decisions for it must be looked up again. */
  forgetService(): void {
    this.#callers?.clear();
    this.#decisions?.clear();
  }

  forgetCallers(): void {
    this.#callers?.clear();
  }

  get negativeSize(): number {
    return this.#negative?.size ?? 0;
  }
}
