// The caches in front of /verify. Separate LRUs, so a flood of junk cookies (which only ever lands in the
// negative cache) can never evict a real device or decision. Keys are the exact strings (whole cookie pairs,
// service name with credential), so a hit costs map look-ups and no cryptographic hashing at all.
//
// The cache is read and filled by the access rules (access.ts) and the device checks (devices.ts); everything
// else changes it only through `forget`, with a change of the change feed (changes.ts).
//
// Two bounds: an entry may be used for `positiveTtlInMs` while the change feed is healthy (every change then
// reaches `forget` within a second), and only for `fallbackTtlInMs` while it is not (`useFallbackBound`).
import { LRUCache } from 'lru-cache';
import type { CacheOptions } from './cache-options.js';
import type { Change } from './changes.js';
import type { Clock } from './clock.js';
import type { DeviceCredential } from './cookies.js';
import type { Decision, VerifyOutcome } from './decisions.js';
import type { Device, User } from './model.js';
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
  /** The service's rules when it was allowed (any change to them empties this cache). */
  readonly matcher: RuleMatcher;
}

/** Counters for tests and metrics. */
export interface CacheStats {
  readonly negativeHits: number;
  readonly positiveHits: number;
  readonly misses: number;
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
  /** How much sooner than its TTL an entry counts as expired: 0, or TTL − fallback bound while the feed is down. */
  shortfallInMs = 0;

  constructor(max: number, ttlInMs: number, clock: Clock) {
    this.#max = max;
    this.#ttlInMs = ttlInMs;
    this.#clock = clock;
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > this.#clock.now() + this.shortfallInMs) return entry.answer;
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

export class VerifyCache {
  readonly #stats = { negativeHits: 0, positiveHits: 0, misses: 0 };
  readonly #ttlInMs: number;
  readonly #fallbackShortfallInMs: number;
  /** 0 while the feed is healthy, else how much sooner than its TTL a positive entry counts as expired. */
  #shortfallInMs: number;
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
    this.#ttlInMs = options.positiveTtlInMs;
    this.#fallbackShortfallInMs = Math.max(0, options.positiveTtlInMs - options.fallbackTtlInMs);
    // Until a change feed says it is current, changes elsewhere are seen only through the fallback bound.
    this.#shortfallInMs = this.#fallbackShortfallInMs;
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
    this.useFallbackBound(true);
  }

  /**
   * `true`: the change feed cannot be read, so positive entries are used only within the fallback bound of when
   * they were stored; `false`: it is current, so they live their whole TTL.
   */
  useFallbackBound(fallback: boolean): void {
    const shortfall = fallback ? this.#fallbackShortfallInMs : 0;
    this.#shortfallInMs = shortfall;
    if (this.#answers) this.#answers.shortfallInMs = shortfall;
    if (this.#badRequests) this.#badRequests.shortfallInMs = shortfall;
    if (this.#rules) this.#rules.shortfallInMs = shortfall;
  }

  /** The bound positive entries live by now, in ms. */
  get boundInMs(): number {
    return this.#ttlInMs - this.#shortfallInMs;
  }

  /** `lru.get`, except that under the fallback bound an entry stored longer ago than that bound is dropped. */
  #fresh<V extends {}>(lru: LRUCache<string, V> | undefined, key: string): V | undefined {
    const hit = lru?.get(key);
    if (hit === undefined || this.#shortfallInMs === 0) return hit;
    if ((lru as LRUCache<string, V>).getRemainingTTL(key) > this.#shortfallInMs) return hit;
    lru?.delete(key);
    return undefined;
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
    return this.#fresh(this.#devices, pairKey(c));
  }

  /** The device from memory, `'bad'` when the pair is known junk, else `undefined`: one key for both caches. */
  deviceOrBad(c: DeviceCredential): CachedDevice | 'bad' | undefined {
    const key = pairKey(c);
    const found = this.#fresh(this.#devices, key);
    if (found !== undefined) return found;
    if (this.#negative?.has(key) !== true) return undefined;
    this.#stats.negativeHits++;
    return 'bad';
  }

  rememberDevice(c: DeviceCredential, found: CachedDevice): void {
    this.#devices?.set(pairKey(c), found);
  }

  caller(serviceName: string, credential: string): CachedCaller | undefined {
    return this.#fresh(this.#callers, `${serviceName}\0${credential}`);
  }

  rememberCaller(serviceName: string, credential: string, serviceId: number | null): void {
    this.#callers?.set(`${serviceName}\0${credential}`, { serviceId });
  }

  /** A decision from memory; counts as the positive hit that answers a request without the database. */
  decision(userId: number, serviceId: number): Decision | undefined {
    const hit = this.#fresh(this.#decisions, `${userId}:${serviceId}`);
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

  /** Drops exactly what `change` names: the one way anything outside the /verify path changes the cache. */
  forget(change: Change): void {
    switch (change.kind) {
      case 'device':
        this.#deviceRevoked(change.deviceId);
        return;
      case 'user':
        this.#userChanged(change.userId);
        return;
      case 'grant':
        this.#grantChanged(change.userId, change.serviceId);
        return;
      case 'services':
        this.#servicesChanged();
        return;
      case 'proxy-tokens':
        this.#proxyTokensChanged();
        return;
      case 'decisions':
        this.#decisionsChanged();
        return;
      case 'groups':
        this.#groupsChanged();
        return;
      case 'rules':
        this.#rulesChanged();
        return;
    }
  }

  /** Drops every positive entry: the feed was down long enough that a change may have been missed. */
  forgetAllPositive(): void {
    this.#answers?.clear();
    this.#badRequests?.clear();
    this.#devices?.clear();
    this.#callers?.clear();
    this.#decisions?.clear();
    this.#rules?.clear();
  }

  // Every invalidation also empties the whole-answer cache: changes are rare, and it refills from the others.

  #deviceRevoked(deviceId: string): void {
    this.#answers?.clear();
    // Keys start with the 32-character id; revocations are rare, so a scan is fine.
    for (const key of this.#devices?.keys() ?? []) if (key.startsWith(deviceId)) this.#devices?.delete(key);
  }

  #userChanged(userId: number): void {
    this.#answers?.clear();
    for (const [key, entry] of this.#devices?.entries() ?? []) if (entry.user.id === userId) this.#devices?.delete(key);
    for (const key of this.#decisions?.keys() ?? []) if (key.startsWith(`${userId}:`)) this.#decisions?.delete(key);
  }

  #grantChanged(userId: number, serviceId: number): void {
    this.#answers?.clear();
    this.#decisions?.delete(`${userId}:${serviceId}`);
  }

  #servicesChanged(): void {
    this.#answers?.clear();
    this.#rules?.clear();
    this.#badRequests?.clear();
    this.#callers?.clear();
    this.#decisions?.clear();
  }

  #groupsChanged(): void {
    this.#answers?.clear();
    this.#devices?.clear();
    this.#decisions?.clear();
  }

  #rulesChanged(): void {
    this.#answers?.clear();
    this.#rules?.clear();
  }

  #proxyTokensChanged(): void {
    this.#answers?.clear();
    this.#badRequests?.clear();
    this.#callers?.clear();
  }

  #decisionsChanged(): void {
    this.#answers?.clear();
    this.#decisions?.clear();
  }
}
