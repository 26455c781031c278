// Reading the change feed: every instance (every worker) reads the rows newer than the last it saw, every
// `pollEveryInMs` (and at once on a PostgreSQL NOTIFY), and drops exactly the cache entries each names. While it
// reads successfully, cached answers may live their whole TTL; when it cannot, the cache falls back to its short
// bound until the feed catches up.
import { type Change, decodeChange } from './changes.js';
import type { Clock } from './clock.js';
import type { ChangeStore } from './ports.js';

/** The feed counts as healthy while its last successful read is at most this old. */
export const HEALTHY_WITHIN_MS = 2_000;
/**
 * A missing id below ids already read is a transaction that took its id and has not committed yet (MySQL and
 * PostgreSQL hand out ids before the commit), or one that rolled back. It is waited for this long, then given up.
 */
export const GAP_WAIT_MS = 10_000;
/** Rows read per query; a longer backlog is read in several. */
const BATCH = 1_000;
/** How often a lost PostgreSQL LISTEN connection is tried again. */
const RELISTEN_EVERY_MS = 5_000;

export interface FeedStatus {
  /** Read successfully within HEALTHY_WITHIN_MS. */
  readonly healthy: boolean;
  /** How long ago the last successful read was (how far behind this instance may be), in ms; null before the first. */
  readonly lagInMs: number | null;
  /** The id up to which every change has been applied. */
  readonly position: number;
}

interface FeedTarget {
  forget(change: Change): void;
  forgetAllPositive(): void;
  useFallbackBound(fallback: boolean): void;
}

export interface ChangeFeedDeps {
  readonly changes: ChangeStore;
  readonly cache: FeedTarget;
  readonly clock: Clock;
  readonly pollEveryInMs: number;
  /** Told of rows it skipped and reads that failed; never of anything secret (rows name ids only). */
  readonly warn: (details: Record<string, unknown>, message: string) => void;
}

export class ChangeFeed {
  readonly #deps: ChangeFeedDeps;
  /** Every id at or below it has been applied or given up. */
  #position = 0;
  /** Ids above the position that have been applied already. */
  readonly #applied = new Set<number>();
  /** When the first missing id above the position was noticed. */
  #gapSince: number | undefined;
  #lastReadAt: number | undefined;
  #fallback = true;
  #reading: Promise<void> | undefined;
  #again = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopListening: (() => Promise<void>) | undefined;
  #listenTriedAt = Number.NEGATIVE_INFINITY;
  #stopped = false;

  constructor(deps: ChangeFeedDeps) {
    this.#deps = deps;
  }

  /** Starts from "now" (history is not replayed: a new process has nothing cached), then reads on a timer. */
  async start(): Promise<void> {
    this.#position = await this.#deps.changes.latestId();
    this.#lastReadAt = this.#deps.clock.now();
    this.#check();
    this.#timer = setInterval(() => void this.tick(), this.#deps.pollEveryInMs);
    this.#timer.unref();
    await this.#listen();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#stopListening?.();
    await this.#reading?.catch(() => {});
  }

  /** One turn of the timer: the bound follows the feed's health, then a read (and LISTEN, if it was lost). */
  async tick(): Promise<void> {
    this.#check();
    await Promise.all([this.read(), this.#listen()]);
  }

  get status(): FeedStatus {
    const now = this.#deps.clock.now();
    const lagInMs = this.#lastReadAt === undefined ? null : Math.max(0, now - this.#lastReadAt);
    return { healthy: lagInMs !== null && lagInMs <= HEALTHY_WITHIN_MS, lagInMs, position: this.#position };
  }

  /**
   * Reads every row newer than the position and applies it. Reads never overlap: a call during a read makes
   * that read go round once more. Failures are reported through `warn` and leave the feed unhealthy in time.
   */
  read(): Promise<void> {
    if (this.#reading) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      try {
        do {
          this.#again = false;
          await this.#readAll();
        } while (this.#again && !this.#stopped);
      } catch (err) {
        this.#deps.warn({ err }, 'could not read the change feed; cached answers fall back to the short bound');
      } finally {
        this.#reading = undefined;
        this.#check();
      }
    })();
    return this.#reading;
  }

  async #readAll(): Promise<void> {
    for (;;) {
      const rows = await this.#deps.changes.since(this.#position, BATCH);
      for (const { id, row } of rows) {
        if (this.#applied.has(id)) continue;
        this.#applied.add(id);
        const change = decodeChange(row);
        if (change) this.#deps.cache.forget(change);
        else
          this.#deps.warn({ changeId: id, kind: String(row.kind).slice(0, 40) }, 'skipped a change row this version does not understand');
      }
      this.#advance();
      if (rows.length < BATCH) break;
    }
    // After an outage, changes may have been pruned or given up meanwhile: the long bound starts from scratch.
    if (this.#fallback && this.#lastReadAt !== undefined) this.#deps.cache.forgetAllPositive();
    this.#lastReadAt = this.#deps.clock.now();
  }

  /** Moves the position over applied ids, and over a gap that has been waited for long enough. */
  #advance(): void {
    const now = this.#deps.clock.now();
    while (this.#applied.size > 0) {
      const next = this.#position + 1;
      if (this.#applied.delete(next)) {
        this.#position = next;
        this.#gapSince = undefined;
        continue;
      }
      this.#gapSince ??= now;
      if (now - this.#gapSince < GAP_WAIT_MS) return;
      this.#position = Math.min(...this.#applied) - 1;
      this.#gapSince = undefined;
    }
  }

  /** Switches the cache's bound with the feed's health. */
  #check(): void {
    const fallback = !this.status.healthy;
    if (fallback === this.#fallback) return;
    this.#fallback = fallback;
    this.#deps.cache.useFallbackBound(fallback);
    if (fallback)
      this.#deps.warn({ lagInMs: this.status.lagInMs }, 'the change feed is behind; cached answers fall back to the short bound');
  }

  /** PostgreSQL: LISTEN, so a NOTIFY sent with a change brings it at once; tried again while it is lost. */
  async #listen(): Promise<void> {
    const listen = this.#deps.changes.listen;
    if (!listen || this.#stopListening || this.#stopped) return;
    const now = this.#deps.clock.now();
    if (now - this.#listenTriedAt < RELISTEN_EVERY_MS) return;
    this.#listenTriedAt = now;
    try {
      this.#stopListening = await listen(
        () => void this.read(),
        (err) => {
          this.#stopListening = undefined;
          if (!this.#stopped) this.#deps.warn({ err }, 'lost the change feed LISTEN connection; polling until it is back');
        },
      );
      if (this.#stopped) await this.#stopListening();
      // Anything committed while not listening.
      else void this.read();
    } catch (err) {
      this.#deps.warn({ err }, 'could not LISTEN for changes; polling only');
    }
  }
}
