// WORKERS > 1: the server as several processes sharing one port (node:cluster). The primary checks the
// configuration, migrates and checks the keys once, starts the workers, replaces one that dies, passes each change a
// worker commits to the others (so the whole instance forgets it at once, as one process did), answers /metrics
// for all of them (prom-client's AggregatorRegistry), and on SIGTERM lets every worker finish its in-flight
// requests and flush "last seen" before it exits. Part of the composition root, with main.ts.
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { type Change, type ChangeRow, decodeChange, encodeChange } from './core/changes.js';

const CHANGE = 'passwordless-auth:change';
const CHANGE_APPLIED = 'passwordless-auth:change-applied';
const METRICS_REQUEST = 'passwordless-auth:metrics';
const METRICS_ANSWER = 'passwordless-auth:metrics-answer';
const START_FAILED = 'passwordless-auth:start-failed';
/** How long a worker waits for the primary's summed metrics. */
const METRICS_TIMEOUT_MS = 5_000;
/**
 * How long a change waits for the other workers to confirm they dropped it before the request that made it
 * answers. A worker that does not answer in time (busy, dying) still has the change feed, within a second.
 */
const CHANGE_ACK_TIMEOUT_MS = 250;

type Message =
  | { readonly type: typeof CHANGE; readonly id: number; readonly row: ChangeRow }
  | { readonly type: typeof CHANGE_APPLIED; readonly id: number }
  | { readonly type: typeof METRICS_REQUEST; readonly id: number }
  | { readonly type: typeof METRICS_ANSWER; readonly id: number; readonly text?: string; readonly error?: string }
  | { readonly type: typeof START_FAILED; readonly text: string };

const isMessage = (m: unknown): m is Message =>
  typeof m === 'object' &&
  m !== null &&
  typeof (m as { type?: unknown }).type === 'string' &&
  (m as { type: string }).type.startsWith('passwordless-auth:');

/** Runs the primary: `workers` workers (this same script, which `cluster.isWorker` sends to the server). */
export function runPrimary(workers: number, logger: Logger): void {
  const aggregator = new AggregatorRegistry();
  const live = new Set<Worker>();
  /** Workers that serve: a signal reaches their graceful stop. One still starting has no request and is ended. */
  const serving = new Set<Worker>();
  let stopping = false;
  let failed = false;
  /** Consecutive quick deaths, for the back-off before the next start. */
  let quickDeaths = 0;
  /** Changes forwarded to workers and not yet confirmed by all of them: id → what is still awaited. */
  const forwarded = new Map<number, { waiting: Set<Worker>; done: () => void }>();
  let nextForward = 0;

  /** Passes a change to every worker but `from`, then confirms it to `from` once all have dropped it (or in time). */
  const forward = (from: Worker, m: Extract<Message, { type: typeof CHANGE }>) => {
    const others = [...live].filter((w) => w !== from && w.isConnected());
    const confirm = () => {
      if (from.isConnected()) from.send({ type: CHANGE_APPLIED, id: m.id } satisfies Message);
    };
    if (others.length === 0) return confirm();
    const id = nextForward++;
    const timer = setTimeout(() => entry.done(), CHANGE_ACK_TIMEOUT_MS);
    const entry = {
      waiting: new Set(others),
      done: () => {
        if (!forwarded.delete(id)) return;
        clearTimeout(timer);
        confirm();
      },
    };
    forwarded.set(id, entry);
    for (const w of others) w.send({ type: CHANGE, id, row: m.row } satisfies Message);
  };

  const fork = () => {
    const startedAt = Date.now();
    const worker = cluster.fork();
    live.add(worker);
    worker.on('listening', () => serving.add(worker));
    worker.on('message', (m: unknown) => {
      if (!isMessage(m)) return;
      if (m.type === START_FAILED) {
        // A worker could not start (a busy port, an unreachable database): neither will another. Say why once,
        // as one process would, and stop; the workers end when the primary does.
        if (stopping) return;
        // While others serve, a replacement that cannot start yet (the database away) is tried again later.
        if (serving.size > 0) {
          logger.error({ failed: worker.id }, m.text.trim());
          return;
        }
        stopping = true;
        process.stderr.write(m.text);
        process.exit(1);
      } else if (m.type === CHANGE) forward(worker, m);
      else if (m.type === CHANGE_APPLIED) {
        const entry = forwarded.get(m.id);
        entry?.waiting.delete(worker);
        if (entry?.waiting.size === 0) entry.done();
      } else if (m.type === METRICS_REQUEST) {
        aggregator.clusterMetrics().then(
          (text) => worker.isConnected() && worker.send({ type: METRICS_ANSWER, id: m.id, text }),
          (err: unknown) => worker.isConnected() && worker.send({ type: METRICS_ANSWER, id: m.id, error: String(err) }),
        );
      }
    });
    worker.on('exit', (code, signal) => {
      live.delete(worker);
      for (const entry of forwarded.values()) if (entry.waiting.delete(worker) && entry.waiting.size === 0) entry.done();
      const served = serving.delete(worker);
      if (stopping) {
        if (served && code !== 0) failed = true;
        if (live.size === 0) process.exit(failed ? 1 : 0);
        return;
      }
      quickDeaths = Date.now() - startedAt < 5_000 ? quickDeaths + 1 : 0;
      const delayInMs = Math.min(100 * 2 ** quickDeaths, 5_000);
      logger.error({ died: worker.id, code, signal }, `worker ${worker.id} died; starting another in ${delayInMs} ms`);
      setTimeout(() => {
        if (!stopping) fork();
      }, delayInMs);
    });
  };

  for (let i = 0; i < workers; i++) fork();
  logger.info({ workers }, `started ${workers} workers`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      // Each worker stops accepting, finishes its requests, flushes "last seen" and exits (main.ts); one that is
      // still starting (it may not even listen for the signal yet) has nothing to finish.
      for (const worker of live) worker.process.kill(serving.has(worker) ? 'SIGTERM' : 'SIGKILL');
      if (live.size === 0) process.exit(0);
    });
  }
}

/**
 * In a worker: hands the reason it could not start to the primary, which prints it once and stops; `false` in a
 * single process (which prints it itself).
 */
export function reportStartFailure(text: string): boolean {
  if (!cluster.isWorker || !process.send) return false;
  process.send({ type: START_FAILED, text } satisfies Message, () => process.exit(1));
  return true;
}

/** In a worker: the wiring to the primary. `undefined` in a single process. */
export function workerLink(forget: (change: Change) => void, registry: Registry) {
  if (!cluster.isWorker) return undefined;
  // Answers the primary's requests for this worker's metrics.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  const pending = new Map<number, (answer: { text?: string; error?: string }) => void>();
  const unconfirmed = new Map<number, () => void>();
  let next = 0;
  process.on('message', (m: unknown) => {
    if (!isMessage(m)) return;
    if (m.type === CHANGE) {
      const change = decodeChange(m.row);
      if (change) forget(change);
      process.send?.({ type: CHANGE_APPLIED, id: m.id } satisfies Message);
    } else if (m.type === CHANGE_APPLIED) {
      unconfirmed.get(m.id)?.();
    } else if (m.type === METRICS_ANSWER) {
      pending.get(m.id)?.(m);
      pending.delete(m.id);
    }
  });
  return {
    /** The worker's number, for its log lines. */
    id: cluster.worker?.id ?? 0,
    /**
     * Tells the other workers of a change this one committed; resolves once they have dropped it (or after
     * CHANGE_ACK_TIMEOUT_MS), so the request that made the change answers only when its whole instance agrees.
     */
    committed(change: Change): Promise<void> {
      const id = next++;
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          unconfirmed.delete(id);
          resolve();
        };
        const timer = setTimeout(done, CHANGE_ACK_TIMEOUT_MS * 2);
        unconfirmed.set(id, done);
        process.send?.({ type: CHANGE, id, row: encodeChange(change) } satisfies Message);
      });
    },
    /** The metrics of every worker, summed, in Prometheus' text format. */
    metrics(): Promise<string> {
      const id = next++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error('the primary did not answer with the metrics'));
        }, METRICS_TIMEOUT_MS);
        pending.set(id, (answer) => {
          clearTimeout(timer);
          if (answer.text !== undefined) resolve(answer.text);
          else reject(new Error(answer.error ?? 'no metrics'));
        });
        process.send?.({ type: METRICS_REQUEST, id } satisfies Message);
      });
    },
  };
}
