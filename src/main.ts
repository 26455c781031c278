// Composition root of the server: config → database → migrations → app → serve; graceful shutdown. With
// WORKERS > 1 this runs in each worker, and the primary (cluster.ts) starts them.
import cluster from 'node:cluster';
import { getConnInfo } from '@hono/node-server/conninfo';
import { reportStartFailure, runPrimary, workerLink } from './cluster.js';
import { type Config, ConfigError, readEnvironment } from './config/config.js';
import { checkKeys, KeyCheckError, keyProblem } from './core/key-check.js';
import { LONGEST_WINDOW_IN_MS } from './core/throttle.js';
import { createMetrics } from './http/metrics.js';
import { closeGracefully, createNodeServer } from './http/node-listener.js';
import { keysRefused, loadConfigWithLocalKey } from './local-key.js';
import { createLogger as createMaskingLogger } from './logging.js';
import { isEntryPoint, openRuntime, type Runtime } from './runtime.js';
import { StartUpError, startUpFailure } from './start-up-errors.js';

/** The configuration as loaded at start, with the key file made just now, if any. */
type Loaded = ReturnType<typeof loadConfigWithLocalKey>;

/** Change feed rows are kept this long: every instance reads them within a second, or forgets everything anyway. */
const CHANGE_RETENTION_MS = 60 * 60_000;

/** Log lines name the process that wrote them when there are several: `worker: 'primary'` or the worker's number. */
function createLogger(config: Config, worker: number | 'primary' | undefined) {
  // JSON lines in production (and whenever output goes to a file or a collector); readable lines on a terminal.
  const pretty = !config.production && process.stdout.isTTY;
  return createMaskingLogger({
    level: config.logLevel,
    base: { service: 'passwordless-auth', ...(worker !== undefined ? { worker } : {}) },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service' } } } : {}),
  });
}

/**
 * The runtime, migrated, with keys that open the stored secrets; closed again and thrown if not. A worker skips the
 * key check: its primary made it, with the same configuration, before starting any worker.
 */
async function openCheckedRuntime(loaded: Loaded, logger: ReturnType<typeof createLogger>): Promise<Runtime> {
  const { config, createdKeyFile } = loaded;
  const runtime = await openRuntime(config, {
    onDatabaseError: (err) => logger.warn({ err }, 'database connection lost; the pool opens a new one'),
    warn: (details, message) => logger.warn(details, message),
  });
  if (runtime.migrations?.applied.length) logger.info({ applied: runtime.migrations.applied }, 'database migrated');
  if (cluster.isWorker) return runtime;
  // Keys that open none of the stored secrets would make every sign-in and /verify fail while /readyz says ready.
  const keyCheck = await checkKeys(runtime.store.sealedValues, runtime.keys).catch(async (err: unknown) => {
    await runtime.close();
    throw err;
  });
  const problem = keyProblem(keyCheck);
  if (problem) {
    await runtime.close();
    throw keysRefused(problem, config, createdKeyFile);
  }
  return runtime;
}

/** Anything but a configuration or key problem is told as what to fix (start-up-errors.ts). */
function explained(err: unknown, config: Config | undefined): unknown {
  if (err instanceof ConfigError || err instanceof KeyCheckError) return err;
  return new StartUpError(startUpFailure(err, config), { cause: err });
}

export async function startServer(given?: Loaded): Promise<() => Promise<void>> {
  let config: Config | undefined = given?.config;
  try {
    const loaded = given ?? loadConfigWithLocalKey();
    config = loaded.config;
    return await start(loaded);
  } catch (err) {
    throw explained(err, config);
  }
}

async function start(loaded: Loaded): Promise<() => Promise<void>> {
  const { config, notices } = loaded;
  const logger = createLogger(config, cluster.isWorker ? (cluster.worker?.id ?? 0) : undefined);
  // In a worker the primary has printed the notices already.
  if (!cluster.isWorker) for (const notice of notices) logger.warn(notice);
  const runtime = await openCheckedRuntime(loaded, logger);
  await runtime.feed.start().catch(async (err: unknown) => {
    await runtime.close();
    throw err;
  });
  const feedStatus = () => runtime.feed.status;
  const metrics = createMetrics({ cacheStats: runtime.cacheStats, pool: () => runtime.database.poolStats?.(), feed: feedStatus });
  const link = workerLink(runtime.forget, metrics.registry);
  if (link) {
    runtime.store.changes.onCommitted((change) => link.committed(change));
    metrics.render = link.metrics;
  }
  const server = createNodeServer({
    config,
    signIn: runtime.signIn,
    devices: runtime.devices,
    access: runtime.access,
    invites: runtime.invites,
    passkeys: runtime.passkeys,
    passkeyAccount: runtime.passkeyAccount,
    authenticatorApp: runtime.authenticatorApp,
    logger,
    metrics,
    ready: runtime.ready,
    feedStatus,
    peerAddress: (c) => {
      try {
        return getConnInfo(c).remote.address;
      } catch {
        return undefined;
      }
    },
  });
  // A busy port is an answer to give, not an unhandled 'error' event.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (err: unknown) => {
    await runtime.close();
    throw err;
  });
  logger.info(
    { database: config.databaseLabel, port: config.port },
    `passwordless-auth listening on http://${config.host ?? 'localhost'}:${config.port} (login page ${config.publicUrl}/login)`,
  );
  const flushEvery = Math.min(Math.max(config.lastSeenIntervalInMs, 1000), 30_000);
  const flusher = setInterval(() => {
    runtime.lastSeen.flush().catch((err: unknown) => logger.warn({ err }, 'could not write last-seen times; will retry'));
  }, flushEvery);
  flusher.unref();
  // Failed-login rows older than the longest budget window count for nothing; expired WebAuthn challenges neither;
  // change feed rows are kept CHANGE_RETENTION_MS.
  const prune = () =>
    Promise.all([
      runtime.store.loginFailures
        .prune(Date.now() - LONGEST_WINDOW_IN_MS)
        .catch((err: unknown) => logger.warn({ err }, 'could not prune old login failures')),
      runtime.store.challenges
        .prune(Date.now())
        .catch((err: unknown) => logger.warn({ err }, 'could not prune expired passkey challenges')),
      runtime.store.changes
        .prune(Date.now() - CHANGE_RETENTION_MS)
        .catch((err: unknown) => logger.warn({ err }, 'could not prune old change feed rows')),
    ]);
  void prune();
  const pruner = setInterval(prune, 60 * 60_000);
  pruner.unref();
  let closing: Promise<void> | undefined;
  // Graceful: stop accepting, let in-flight requests finish, write pending last-seen times, close the pool.
  return () => {
    clearInterval(flusher);
    clearInterval(pruner);
    closing ??= closeGracefully(server).then(() => runtime.close());
    return closing;
  };
}

function failedToStart(err: unknown): void {
  let text =
    err instanceof ConfigError || err instanceof KeyCheckError
      ? `passwordless-auth: ${err.message}\n`
      : `passwordless-auth: could not start: ${err instanceof StartUpError ? err.message : startUpFailure(err)}\n`;
  // The stack is for whoever debugs the code, not for whoever starts the server.
  if (/^(debug|trace)$/.test(readEnvironment().LOG_LEVEL ?? '')) {
    const original = err instanceof StartUpError ? err.cause : err;
    text += `${original instanceof Error ? original.stack : String(original)}\n`;
  }
  // A worker leaves the telling to the primary, so the reason is printed once, not once per worker.
  if (reportStartFailure(text)) return;
  process.stderr.write(text);
  process.exit(1);
}

/** One process, or one worker: serve until SIGTERM, then stop gracefully. */
function serve(loaded?: Loaded): void {
  let stop: (() => Promise<void>) | undefined;
  let stopRequested = false;
  const onSignal = () => {
    stopRequested = true;
    stop?.().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  // Listening from the start (a worker may be signalled while it is still starting: it stops once started), and
  // `on`, not `once`: a second signal (the process group signalled along with the primary) must not kill the
  // process halfway through its graceful stop.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, onSignal);
  startServer(loaded).then((started) => {
    stop = started;
    if (stopRequested) onSignal();
  }, failedToStart);
}

/** WORKERS > 1: the primary migrates and checks the keys once (workers then find nothing to do), then forks. */
async function startPrimary(loaded: Loaded): Promise<void> {
  const logger = createLogger(loaded.config, 'primary');
  for (const notice of loaded.notices) logger.warn(notice);
  const runtime = await openCheckedRuntime(loaded, logger).catch((err: unknown) => {
    throw explained(err, loaded.config);
  });
  await runtime.close();
  runPrimary(loaded.config.workers, logger);
}

if (isEntryPoint(import.meta.url)) {
  if (cluster.isWorker) serve();
  else {
    let loaded: Loaded | undefined;
    try {
      loaded = loadConfigWithLocalKey();
    } catch (err) {
      failedToStart(err);
    }
    if (loaded === undefined) {
      // failedToStart has exited
    } else if (loaded.config.workers > 1) startPrimary(loaded).catch(failedToStart);
    else serve(loaded);
  }
}
