// Prometheus metrics (prom-client): verify outcomes and latency, cache hits and misses, login outcomes, the
// guess budget, and the database pool. Served at /metrics, optionally behind a bearer token. /verify counts into
// plain numbers on its hot path (a prom-client observation costs more than a warm answer); prom-client reads
// them when Prometheus scrapes.
import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from 'prom-client';
import type { FeedStatus } from '../core/change-feed.js';
import type { CacheStats } from '../core/verify-cache.js';

const VERIFY_RESULTS = [
  'allow',
  'bad-credential',
  'unauthenticated',
  'unknown-service',
  'forbidden',
  'error',
  'public',
  'denied',
  'step-up',
  'fresh-sign-in',
] as const;
export type VerifyResult = (typeof VERIFY_RESULTS)[number];
const VERIFY_INDEX = Object.fromEntries(VERIFY_RESULTS.map((r, i) => [r, i])) as Record<VerifyResult, number>;
const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * A Prometheus histogram over counts kept elsewhere (per bucket, not yet cumulative), in the shape prom-client's
 * registry prints: `_bucket{le}` cumulative, `_sum`, `_count`.
 */
function durationHistogram(name: string, help: string, d: { buckets: Float64Array; sum: number; count: number }) {
  const forPrometheus = () => {
    let cumulative = 0;
    const values = DURATION_BUCKETS.map((le, i) => {
      cumulative += d.buckets[i] ?? 0;
      return { labels: { le }, value: cumulative, metricName: `${name}_bucket` };
    });
    values.push({ labels: { le: '+Inf' as unknown as number }, value: d.count, metricName: `${name}_bucket` });
    return {
      name,
      help,
      type: 'histogram' as const,
      aggregator: 'sum' as const,
      values: [
        ...values,
        { labels: {}, value: d.sum, metricName: `${name}_sum` },
        { labels: {}, value: d.count, metricName: `${name}_count` },
      ],
    };
  };
  return { name, help, type: 'histogram', aggregator: 'sum', get: async () => forPrometheus(), reset() {} } as unknown as Metric;
}
export type LoginResultLabel = 'success' | 'failure' | 'throttled';

export interface MetricsSources {
  readonly cacheStats: () => CacheStats;
  readonly pool: () => { total: number; idle: number } | undefined;
  readonly feed?: (() => FeedStatus) | undefined;
}

export function createMetrics(sources: MetricsSources) {
  const registry = new Registry();
  // The event-loop lag histogram samples every 100 ms instead of prom-client's 10 ms: a timer firing 100 times a
  // second was most of an idle server's CPU (about 7 ms per second), and ten samples a second still show the lag.
  collectDefaultMetrics({ register: registry, prefix: 'passwordless_auth_', eventLoopMonitoringPrecision: 100 });

  const verifyCounts = new Float64Array(VERIFY_RESULTS.length);
  const durations = { buckets: new Float64Array(DURATION_BUCKETS.length), sum: 0, count: 0 };
  new Counter({
    name: 'passwordless_auth_verify_total',
    help: '/verify answers by result',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      VERIFY_RESULTS.forEach((result, i) => {
        this.inc({ result }, verifyCounts[i] ?? 0);
      });
    },
  });
  registry.registerMetric(durationHistogram('passwordless_auth_verify_duration_seconds', 'Time to decide a /verify request', durations));
  const loginTotal = new Counter({
    name: 'passwordless_auth_login_total',
    help: 'Login attempts by result',
    labelNames: ['result'],
    registers: [registry],
  });
  const throttledTotal = new Counter({
    name: 'passwordless_auth_login_throttled_total',
    help: 'Login attempts refused by the guess budget',
    registers: [registry],
  });
  const cacheTotal = new Counter({
    name: 'passwordless_auth_verify_cache_total',
    help: 'Verify cache look-ups by outcome (positive hit, negative hit, miss)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      const s = sources.cacheStats();
      this.reset();
      this.inc({ outcome: 'positive_hit' }, s.positiveHits);
      this.inc({ outcome: 'negative_hit' }, s.negativeHits);
      this.inc({ outcome: 'miss' }, s.misses);
    },
  });
  void cacheTotal;
  new Gauge({
    name: 'passwordless_auth_db_pool_connections',
    help: 'Database pool connections by state (MySQL and PostgreSQL pools)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const p = sources.pool();
      if (!p) return;
      this.set({ state: 'total' }, p.total);
      this.set({ state: 'idle' }, p.idle);
      this.set({ state: 'in_use' }, p.total - p.idle);
    },
  });

  new Gauge({
    name: 'passwordless_auth_change_feed_lag_seconds',
    help: 'How long ago the change feed was last read successfully (summed over workers: divide by the healthy count for the mean)',
    registers: [registry],
    collect() {
      const lag = sources.feed?.().lagInMs;
      if (lag !== undefined && lag !== null) this.set(lag / 1000);
    },
  });
  new Gauge({
    name: 'passwordless_auth_change_feed_healthy',
    help: '1 per process whose change feed was read within 2 s (cached answers live their full TTL), else 0',
    registers: [registry],
    collect() {
      const status = sources.feed?.();
      if (status) this.set(status.healthy ? 1 : 0);
    },
  });

  return {
    registry,
    /** The text /metrics answers: this registry's, or (in a worker) every worker's summed by the primary. */
    render: (): Promise<string> => registry.metrics(),
    verified(result: VerifyResult, startedAt: number) {
      const r = VERIFY_INDEX[result];
      verifyCounts[r] = (verifyCounts[r] as number) + 1;
      const seconds = (performance.now() - startedAt) / 1000;
      let i = 0;
      while (i < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[i] as number)) i++;
      if (i < DURATION_BUCKETS.length) durations.buckets[i] = (durations.buckets[i] as number) + 1;
      durations.sum += seconds;
      durations.count++;
    },
    login(result: LoginResultLabel) {
      loginTotal.labels(result).inc();
      if (result === 'throttled') throttledTotal.inc();
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
