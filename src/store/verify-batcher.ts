// Coalesces the /verify cold-path look-ups that arrive together into one query per service: with a networked
// database the round trip, not the query, is the cost, and under load many requests wait for one at once.

type Row = Record<string, unknown>;
type Run = (sql: string, params: readonly unknown[]) => Promise<Row[]>;

interface Waiter {
  resolve(row: Row | undefined): void;
  reject(err: unknown): void;
}

/** The device-side columns of the verify query: nulled to turn a row into "the service, no such device". */
const DEVICE_SIDE = /^(d_|u_|g_)/;

/**
 * `load(deviceId, serviceName)` answers with the verify row for that pair, or `undefined` when the service does
 * not exist. Calls made before the event loop next checks for I/O are sent together, as one query per service
 * with the device ids in an IN list (padded to a power of two, so only a few prepared statements exist).
 */
export function createVerifyBatcher(run: Run, sqlFor: (placeholders: string) => string, maxBatch = 64) {
  let pending = new Map<string, Map<string, Waiter[]>>();
  let scheduled = false;

  async function send(serviceName: string, ids: string[], byDevice: Map<string, Waiter[]>) {
    let size = 1;
    while (size < ids.length) size *= 2;
    const padded = [...ids, ...Array(size - ids.length).fill('')]; // '' never matches a 32-hex id
    try {
      const rows = await run(sqlFor(padded.map(() => '?').join(', ')), [...padded, serviceName]);
      for (const id of ids) {
        const own = rows.find((r) => r.d_id === id);
        let answer: Row | undefined = own;
        if (!answer && rows[0]) {
          answer = Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, DEVICE_SIDE.test(k) ? null : v]));
        }
        for (const w of byDevice.get(id) ?? []) w.resolve(answer);
      }
    } catch (err) {
      for (const id of ids) for (const w of byDevice.get(id) ?? []) w.reject(err);
    }
  }

  function flush() {
    const batches = pending;
    pending = new Map();
    scheduled = false;
    for (const [serviceName, byDevice] of batches) {
      const ids = [...byDevice.keys()];
      for (let i = 0; i < ids.length; i += maxBatch) void send(serviceName, ids.slice(i, i + maxBatch), byDevice);
    }
  }

  return {
    load(deviceId: string, serviceName: string): Promise<Row | undefined> {
      return new Promise((resolve, reject) => {
        let byDevice = pending.get(serviceName);
        if (!byDevice) {
          byDevice = new Map();
          pending.set(serviceName, byDevice);
        }
        const waiters = byDevice.get(deviceId);
        if (waiters) waiters.push({ resolve, reject });
        else byDevice.set(deviceId, [{ resolve, reject }]);
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}
