// The caches in front of /verify. Separate LRUs, so a flood of junk cookies (which only ever lands in the
// negative cache) can never evict a real device or decision. Keys are the exact strings (whole cookie pairs,
// service name with credential), so a hit costs map look-ups and no cryptographic hashing at all.
//
// The cache is read and filled by the access rules (access.ts) and the device checks (devices.ts); everything
// else changes it only through the named invalidations of `CacheInvalidation`.
import { LRUCache } from 'lru-cache';
import type { CacheOptions } from './cache-options.js';
import type { Clock } from './clock.js';
import type { DeviceCredential } from './cookies.js';
import type { Decision, VerifyOutcome } from './decisions.js';
import type { Device, User } from './ports.js';
import type { RuleMatcher } from './rules.js';

export { type CacheOptions, DEFAULT_CACHE_OPTIONS } from './cache-options.js';

export interface CachedDevice {
  readonly device: Device;
  readonly user: User;
  /** The user's group names, when they were looked up with the device (the /verify cold path does). */
  readonly groups?: readonly string[];
}

/** A caller credential accepted for a service name, with that service's id (`null`: no such service). */
export interface CachedCaller {
  readonly serviceId: number | null;
}

/** A whole warm answer: what an exact (device pair, service name, caller credential) was allowed. */
export interface CachedAnswer {
  readonly outcome: Extract<VerifyOutcome, { kind: 'allow' }>;
  readonly serviceId: number;
  /** The device and its user's groups: what a service's rules are evaluated against on a warm hit. */
  readonly found: CachedDevice;
}

/** Counters for tests and metrics. */
export interface CacheStats {
  readonly negativeHits: number;
  readonly positiveHits: number;
  readonly misses: number;
}

/** What a change elsewhere (admin, account page, logout) tells the cache; nothing else may change it. */
export interface CacheInvalidation {
  deviceRevoked(deviceId: string): void;
  userChanged(userId: number): void;
  grantChanged(userId: number, serviceId: number): void;
  /** A service was deleted or its token rotated: callers and decisions for it must be looked up again. */
  servicesChanged(): void;
  /** A group, its members or its grants changed: every user's groups and decisions must be looked up again. */
  groupsChanged(): void;
  /** A service's access rules changed: its matcher is built again from the database. */
  rulesChanged(): void;
  proxyTokensChanged(): void;
}

function lru<V extends {}>(max: number, ttl: number, clock: Clock): LRUCache<string, V> | undefined {
  if (ttl <= 0 || max <= 0) return undefined;
  return new LRUCache<string, V>({ max, ttl, ttlResolution: 0, perf: { now: () => clock.now() } });
}

const pairKey = (c: DeviceCredential): string => c.deviceId + c.secret;

/**
 * The whole-answer cache: a plain Map with an expiry per entry, bounded by dropping the oldest entry. Cheaper per
 * hit than an LRU (no reordering), and recency does not matter here: an entry lives for the positive TTL anyway.
 */
class AnswerMap<V> {
  readonly #entries = new Map<string, { readonly answer: V; readonly expiresAt: number }>();
  readonly #max: number;
  readonly #ttlInMs: number;
  readonly #clock: Clock;

  constructor(max: number, ttlInMs: number, clock: Clock) {
    this.#max = max;
    this.#ttlInMs = ttlInMs;
    this.#clock = clock;
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > this.#clock.now()) return entry.answer;
    this.#entries.delete(key);
    return undefined;
  }

  set(key: string, answer: V): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { answer, expiresAt: this.#clock.now() + this.#ttlInMs });
  }

  clear(): void {
    this.#entries.clear();
  }
}

export class VerifyCache implements CacheInvalidation {
  readonly #stats = { negativeHits: 0, positiveHits: 0, misses: 0 };
  /**
   * Cookie pairs that failed, keyed on the whole pair (never the id alone: that would let anyone lock a device
   * out). The key is the pair itself, which a Map hashes; only pairs that are not credentials land here.
   */
  readonly #negative: LRUCache<string, true> | undefined;
  /** Devices that verified, keyed by the exact (id, secret) pair that proved it: a hit needs no comparison. */
  readonly #devices: LRUCache<string, CachedDevice> | undefined;
  /** Caller credentials accepted for a service name: (name, credential) → the service id, or null if no such service. */
  readonly #callers: LRUCache<string, CachedCaller> | undefined;
  /** Access decisions per (user id, service id). */
  readonly #decisions: LRUCache<string, Decision> | undefined;
  /**
   * Whole answers for exact requests, so a warm /verify is one look-up. Filled only from the three caches above
   * having agreed (never for junk, which stays in the negative cache), and emptied by every invalidation.
   */
  readonly #answers: AnswerMap<CachedAnswer> | undefined;
  /**
   * The same for refusals: exact requests whose caller was accepted and whose cookie pair is junk, so a browser
   * that keeps sending a dead pair costs one look-up too. Small and bounded: a flood of distinct junk pairs goes
   * to the database anyway (and to the negative cache), and can never evict a warm answer from the map above.
   */
  readonly #badRequests: AnswerMap<true> | undefined;
  /** Each service's compiled rules, by service id (an empty matcher when it has none). */
  readonly #rules: AnswerMap<RuleMatcher> | undefined;

  constructor(options: CacheOptions, clock: Clock) {
    this.#negative = lru(options.negativeMaxEntries, options.negativeTtlInMs, clock);
    this.#devices = lru(options.positiveMaxEntries, options.positiveTtlInMs, clock);
    this.#callers = lru(Math.min(options.positiveMaxEntries, 1_000), options.positiveTtlInMs, clock);
    this.#decisions = lru(options.positiveMaxEntries, options.positiveTtlInMs, clock);
    this.#answers =
      options.positiveTtlInMs > 0 && options.positiveMaxEntries > 0
        ? new AnswerMap(options.positiveMaxEntries, options.positiveTtlInMs, clock)
        : undefined;
    this.#badRequests =
      options.positiveTtlInMs > 0 && options.negativeTtlInMs > 0 && options.negativeMaxEntries > 0
        ? new AnswerMap<true>(Math.min(options.negativeMaxEntries, 10_000), options.positiveTtlInMs, clock)
        : undefined;
    this.#rules =
      options.positiveTtlInMs > 0 && options.positiveMaxEntries > 0
        ? new AnswerMap<RuleMatcher>(Math.min(options.positiveMaxEntries, 10_000), options.positiveTtlInMs, clock)
        : undefined;
  }

  get stats(): CacheStats {
    return { ...this.#stats };
  }

  get negativeSize(): number {
    return this.#negative?.size ?? 0;
  }

  // --- Reads and fills, for the access rules and the device checks ---------------------------------------

  isKnownBad(c: DeviceCredential): boolean {
    const hit = this.#negative?.has(pairKey(c)) ?? false;
    if (hit) this.#stats.negativeHits++;
    return hit;
  }

  rememberBad(c: DeviceCredential): void {
    this.#negative?.set(pairKey(c), true);
  }

  device(c: DeviceCredential): CachedDevice | undefined {
    return this.#devices?.get(pairKey(c));
  }

  /** The device from memory, `'bad'` when the pair is known junk, else `undefined`: one key for both caches. */
  deviceOrBad(c: DeviceCredential): CachedDevice | 'bad' | undefined {
    const key = pairKey(c);
    const found = this.#devices?.get(key);
    if (found !== undefined) return found;
    if (this.#negative?.has(key) !== true) return undefined;
    this.#stats.negativeHits++;
    return 'bad';
  }

  rememberDevice(c: DeviceCredential, found: CachedDevice): void {
    this.#devices?.set(pairKey(c), found);
  }

  caller(serviceName: string, credential: string): CachedCaller | undefined {
    return this.#callers?.get(`${serviceName}\0${credential}`);
  }

  rememberCaller(serviceName: string, credential: string, serviceId: number | null): void {
    this.#callers?.set(`${serviceName}\0${credential}`, { serviceId });
  }

  /** A decision from memory; counts as the positive hit that answers a request without the database. */
  decision(userId: number, serviceId: number): Decision | undefined {
    const hit = this.#decisions?.get(`${userId}:${serviceId}`);
    if (hit !== undefined) this.#stats.positiveHits++;
    return hit;
  }

  rememberDecision(userId: number, serviceId: number, decision: Decision): void {
    this.#decisions?.set(`${userId}:${serviceId}`, decision);
  }

  /**
   * What is known about exactly this request: the allowed answer (a positive hit), `'bad'` when its caller was
   * accepted and its cookie pair is junk (a negative hit), else `undefined`. One key for both.
   */
  request(c: DeviceCredential, serviceName: string, credential: string): CachedAnswer | 'bad' | undefined {
    const key = `${c.deviceId}${c.secret}\0${serviceName}\0${credential}`;
    const hit = this.#answers?.get(key);
    if (hit !== undefined) {
      this.#stats.positiveHits++;
      return hit;
    }
    if (this.#badRequests?.get(key) === undefined) return undefined;
    this.#stats.negativeHits++;
    return 'bad';
  }

  /** This exact request was refused for its cookie pair, after its caller was accepted. */
  rememberBadRequest(c: DeviceCredential, serviceName: string, credential: string): void {
    this.#badRequests?.set(`${c.deviceId}${c.secret}\0${serviceName}\0${credential}`, true);
  }

  rememberAnswer(c: DeviceCredential, serviceName: string, credential: string, answer: CachedAnswer): void {
    this.#answers?.set(`${c.deviceId}${c.secret}\0${serviceName}\0${credential}`, answer);
  }

  /** The service's compiled rules, if in memory (keyed by id: a service's rules are its own). */
  rules(serviceId: number): RuleMatcher | undefined {
    return this.#rules?.get(String(serviceId));
  }

  rememberRules(serviceId: number, matcher: RuleMatcher): void {
    this.#rules?.set(String(serviceId), matcher);
  }

  /** A request that had to ask the database. */
  countMiss(): void {
    this.#stats.misses++;
  }

  // --- Invalidation ----------------------------------------------------------------------------------------

  // Every invalidation also empties the whole-answer cache: changes are rare, and it refills from the others.

  deviceRevoked(deviceId: string): void {
    this.#answers?.clear();
    // Keys start with the 32-character id; revocations are rare, so a scan is fine.
    for (const key of this.#devices?.keys() ?? []) if (key.startsWith(deviceId)) this.#devices?.delete(key);
  }

  userChanged(userId: number): void {
    this.#answers?.clear();
    for (const [key, entry] of this.#devices?.entries() ?? []) if (entry.user.id === userId) this.#devices?.delete(key);
    for (const key of this.#decisions?.keys() ?? []) if (key.startsWith(`${userId}:`)) this.#decisions?.delete(key);
  }

  grantChanged(userId: number, serviceId: number): void {
    this.#answers?.clear();
    this.#decisions?.delete(`${userId}:${serviceId}`);
  }

  servicesChanged(): void {
    this.#answers?.clear();
    this.#rules?.clear();
    this.#badRequests?.clear();
    this.#callers?.clear();
    this.#decisions?.clear();
  }

  groupsChanged(): void {
    this.#answers?.clear();
    this.#devices?.clear();
    this.#decisions?.clear();
  }

  rulesChanged(): void {
    this.#answers?.clear();
    this.#rules?.clear();
  }

  proxyTokensChanged(): void {
    this.#answers?.clear();
    this.#badRequests?.clear();
    this.#callers?.clear();
  }
}
