// The /verify caches' sizes and lifetimes, with their defaults in one place: the configuration's defaults
// (config/variables.ts) are these, and tests use them as they are. Kept apart from verify-cache.ts so reading the
// configuration loads no cache code.

export interface CacheOptions {
  /**
   * How long a verified device, caller credential or access decision is reused while the change feed is healthy;
   * 0 turns positive caching off.
   */
  readonly positiveTtlInMs: number;
  /** The bound instead, while the change feed cannot be read (and before it first has been). */
  readonly fallbackTtlInMs: number;
  readonly positiveMaxEntries: number;
  /** How long a cookie pair that failed is rejected from memory; 0 turns it off. */
  readonly negativeTtlInMs: number;
  readonly negativeMaxEntries: number;
}

export const DEFAULT_CACHE_OPTIONS: CacheOptions = {
  positiveTtlInMs: 300_000,
  fallbackTtlInMs: 5_000,
  positiveMaxEntries: 10_000,
  negativeTtlInMs: 60_000,
  negativeMaxEntries: 100_000,
};
