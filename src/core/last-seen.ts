// "Last seen" times, written behind the request path: at most once per device (and grant) per interval, in
// batches, by a periodic flush and once more at shutdown.
import { LRUCache } from 'lru-cache';
import type { Clock } from './clock.js';
import type { Store } from './ports.js';

export class LastSeen {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #intervalInMs: number;
  /** When each device / grant was last queued; bounded, so it cannot grow without limit. */
  readonly #written: LRUCache<string, number>;
  #devices = new Set<string>();
  #grants = new Map<string, { userId: number; serviceId: number }>();
  #flushing: Promise<void> = Promise.resolve();

  constructor(store: Store, clock: Clock, intervalInMs: number, maxTracked = 100_000) {
    this.#store = store;
    this.#clock = clock;
    this.#intervalInMs = intervalInMs;
    this.#written = new LRUCache({ max: maxTracked });
  }

  /** Notes a successful verify. Cheap: two map look-ups, no I/O. */
  record(deviceId: string, userId: number, serviceId: number): void {
    if (this.#intervalInMs <= 0) return;
    const now = this.#clock.now();
    const dKey = `d:${deviceId}`;
    if (now - (this.#written.get(dKey) ?? Number.NEGATIVE_INFINITY) >= this.#intervalInMs) {
      this.#written.set(dKey, now);
      this.#devices.add(deviceId);
    }
    const gKey = `g:${userId}:${serviceId}`;
    if (now - (this.#written.get(gKey) ?? Number.NEGATIVE_INFINITY) >= this.#intervalInMs) {
      this.#written.set(gKey, now);
      this.#grants.set(gKey, { userId, serviceId });
    }
  }

  get pending(): number {
    return this.#devices.size + this.#grants.size;
  }

  /** Writes what is pending. Failures are retried on the next flush, not lost. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing
      .catch(() => {})
      .then(async () => {
        if (this.pending === 0) return;
        const devices = [...this.#devices];
        const grants = [...this.#grants.entries()];
        this.#devices = new Set();
        this.#grants = new Map();
        const at = this.#clock.now();
        try {
          for (let i = 0; i < devices.length; i += 500) await this.#store.devices.touch(devices.slice(i, i + 500), at);
          await this.#store.grants.touch(
            grants.map(([, g]) => g),
            at,
          );
        } catch (err) {
          for (const d of devices) this.#devices.add(d);
          for (const [k, g] of grants) this.#grants.set(k, g);
          throw err;
        }
      });
    return this.#flushing;
  }
}
