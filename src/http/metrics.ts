// Prometheus metrics (prom-client): verify outcomes and latency, cache hits and misses, login outcomes, the
// guess budget, and the database pool. Served at /metrics, optionally behind a bearer token.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { CacheStats } from '../core/verify-cache.js';

export type VerifyResult = 'allow' | 'bad-credential' | 'unauthenticated' | 'unknown-service' | 'forbidden' | 'error';
export type LoginResultLabel = 'success' | 'failure' | 'throttled';

export interface MetricsSources {
  readonly cacheStats: () => CacheStats;
  readonly pool: () => { total: number; idle: number } | undefined;
}

export function createMetrics(sources: MetricsSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'passwordless_auth_' });

  const verifyTotal = new Counter({
    name: 'passwordless_auth_verify_total',
    help: '/verify answers by result',
    labelNames: ['result'],
    registers: [registry],
  });
  const verifyDuration = new Histogram({
    name: 'passwordless_auth_verify_duration_seconds',
    help: 'Time to decide a /verify request',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
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

  // Children bound once: the hot path does no label look-up.
  const verifyBy = Object.fromEntries(
    (['allow', 'bad-credential', 'unauthenticated', 'unknown-service', 'forbidden', 'error'] as const).map((r) => [
      r,
      verifyTotal.labels(r),
    ]),
  ) as Record<VerifyResult, ReturnType<typeof verifyTotal.labels>>;

  return {
    registry,
    verified(result: VerifyResult, startedAt: number) {
      verifyBy[result].inc();
      verifyDuration.observe((performance.now() - startedAt) / 1000);
    },
    login(result: LoginResultLabel) {
      loginTotal.labels(result).inc();
      if (result === 'throttled') throttledTotal.inc();
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
