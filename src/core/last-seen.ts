// "Last seen" times, written behind the request path: at most once per device (and grant) per interval, in
// batches, by a periodic flush and once more at shutdown.
import type { Clock } from './clock.js';
import type { Store } from './ports.js';

export class LastSeen {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #intervalInMs: number;
  readonly #maxTracked: number;
  /** device id → service id → when that pair was last queued. Cleared when it grows past `maxTracked`. */
  readonly #queuedAt = new Map<string, Map<number, number>>();
  #devices = new Set<string>();
  #grants = new Map<string, { userId: number; serviceId: number }>();
  #flushing: Promise<void> = Promise.resolve();

  constructor(store: Store, clock: Clock, intervalInMs: number, maxTracked = 100_000) {
    this.#store = store;
    this.#clock = clock;
    this.#intervalInMs = intervalInMs;
    this.#maxTracked = maxTracked;
  }

  /** Notes a successful verify. On the hot path: two map look-ups, no allocation, no I/O. */
  record(deviceId: string, userId: number, serviceId: number): void {
    if (this.#intervalInMs <= 0) return;
    const now = this.#clock.now();
    let perService = this.#queuedAt.get(deviceId);
    if (perService === undefined) {
      if (this.#queuedAt.size >= this.#maxTracked) this.#queuedAt.clear(); // bounded: at worst, one write more
      perService = new Map();
      this.#queuedAt.set(deviceId, perService);
    }
    const last = perService.get(serviceId);
    if (last !== undefined && now - last < this.#intervalInMs) return;
    perService.set(serviceId, now);
    this.#devices.add(deviceId);
    this.#grants.set(`${userId}:${serviceId}`, { userId, serviceId });
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
