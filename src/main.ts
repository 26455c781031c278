// Composition root of the server: config → database → migrations → app → serve; graceful shutdown.
import { getConnInfo } from '@hono/node-server/conninfo';
import { type Config, ConfigError, readEnvironment } from './config/config.js';
import { checkKeys, KeyCheckError, keyProblem } from './core/key-check.js';
import { LONGEST_WINDOW_IN_MS } from './core/throttle.js';
import { createMetrics } from './http/metrics.js';
import { createNodeServer } from './http/node-listener.js';
import { keysRefused, loadConfigWithLocalKey } from './local-key.js';
import { createLogger } from './logging.js';
import { isEntryPoint, openRuntime } from './runtime.js';
import { StartUpError, startUpFailure } from './start-up-errors.js';

export async function startServer(): Promise<() => Promise<void>> {
  let config: Config | undefined;
  try {
    return await start((loaded) => {
      config = loaded;
    });
  } catch (err) {
    if (err instanceof ConfigError || err instanceof KeyCheckError) throw err;
    throw new StartUpError(startUpFailure(err, config), { cause: err });
  }
}

async function start(configured: (config: Config) => void): Promise<() => Promise<void>> {
  const { config, notices, createdKeyFile } = loadConfigWithLocalKey();
  configured(config);
  // JSON lines in production (and whenever output goes to a file or a collector); readable lines on a terminal.
  const pretty = !config.production && process.stdout.isTTY;
  const logger = createLogger({
    level: config.logLevel,
    base: { service: 'passwordless-auth' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service' } } } : {}),
  });
  for (const notice of notices) logger.warn(notice);
  const runtime = await openRuntime(config, {
    onDatabaseError: (err) => logger.warn({ err }, 'database connection lost; the pool opens a new one'),
  });
  if (runtime.migrations?.applied.length) logger.info({ applied: runtime.migrations.applied }, 'database migrated');
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
  const metrics = createMetrics({ cacheStats: runtime.cacheStats, pool: () => runtime.database.poolStats?.() });
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
  // Failed-login rows older than the longest budget window count for nothing; expired WebAuthn challenges neither.
  const prune = () =>
    Promise.all([
      runtime.store.loginFailures
        .prune(Date.now() - LONGEST_WINDOW_IN_MS)
        .catch((err: unknown) => logger.warn({ err }, 'could not prune old login failures')),
      runtime.store.challenges
        .prune(Date.now())
        .catch((err: unknown) => logger.warn({ err }, 'could not prune expired passkey challenges')),
    ]);
  void prune();
  const pruner = setInterval(prune, 60 * 60_000);
  pruner.unref();
  let closing: Promise<void> | undefined;
  // Graceful: stop accepting, let in-flight requests finish, write pending last-seen times, close the pool.
  return () => {
    closing ??= new Promise<void>((resolve) => {
      clearInterval(flusher);
      clearInterval(pruner);
      server.close(() => resolve());
    }).then(() => runtime.close());
    return closing;
  };
}

if (isEntryPoint(import.meta.url)) {
  startServer().then(
    (stop) => {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.once(signal, () => {
          stop().then(
            () => process.exit(0),
            () => process.exit(1),
          );
        });
      }
    },
    (err: unknown) => {
      if (err instanceof ConfigError || err instanceof KeyCheckError) process.stderr.write(`passwordless-auth: ${err.message}\n`);
      else process.stderr.write(`passwordless-auth: could not start: ${err instanceof StartUpError ? err.message : startUpFailure(err)}\n`);
      // The stack is for whoever debugs the code, not for whoever starts the server.
      if (/^(debug|trace)$/.test(readEnvironment().LOG_LEVEL ?? '')) {
        const original = err instanceof StartUpError ? err.cause : err;
        process.stderr.write(`${original instanceof Error ? original.stack : String(original)}\n`);
      }
      process.exit(1);
    },
  );
}
