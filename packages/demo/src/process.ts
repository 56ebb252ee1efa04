import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@write-behind/core';
import type { Logger as PinoLogger } from 'pino';
import { type CacheConfig, createDemoCache, type DemoCache, libraryLogger } from './cache.ts';
import { type Config, ConfigError, type ConfigSpec, configSecrets, loadConfig } from './config.ts';
import { createLogger } from './log.ts';
import { LogLimiter } from './log-limiter.ts';

/**
 * {@link loadConfig} for a process's entry point: a wrong variable prints one clear message (no stack trace)
 * and exits 1.
 */
export function loadConfigOrExit<S extends ConfigSpec>(
  app: string,
  env: Readonly<Record<string, string | undefined>>,
  spec: S,
): Config<S> {
  return exitOnConfigError(app, () => loadConfig(env, spec));
}

/**
 * Runs `derive` (a value a process derives from its configuration), and exits 1 with the message alone (no
 * stack trace) when it throws a {@link ConfigError}.
 */
export function exitOnConfigError<T>(app: string, derive: () => T): T {
  try {
    return derive();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${app}: ${error.message}`);
    process.exit(1);
  }
}

/** What {@link startDemoProcess} gives an app's entry point. */
export interface DemoProcess {
  /** The process's own logger (pino, every line redacted): its start-up and ready lines. */
  logger: PinoLogger;
  /** The same logger as the library's {@link Logger}: for the app, the limiter and the shutdown. */
  log: Logger;
  /** The cache of {@link createDemoCache}, logging through a `component: 'write-behind'` child. */
  cache: DemoCache;
  /** Warnings about refused requests and failed checks, a few lines per code and window. */
  refusals: LogLimiter;
  /**
   * On the first SIGTERM or SIGINT, runs `stopServing` (the app's own part: stop taking requests or jobs,
   * finish those in flight), then writes the refusal counts held back and closes the cache and the database
   * pool; exits as {@link onShutdownSignal} says.
   */
  shutdownOnSignal(stopServing: () => Promise<void>, options: { timeoutMs: number }): void;
}

/**
 * What every demo app does first once its configuration is loaded: a logger that masks the configuration's
 * secrets (and `secrets`, values the process made itself), uncaught errors logged through it before exiting
 * 1, the cache, and the limiter of refusal warnings. The app then builds its server, listens, and calls
 * `shutdownOnSignal` with how it stops serving.
 *
 * @example
 * ```ts
 * const config = loadConfigOrExit('api', process.env, apiConfigSpec);
 * const { cache, log, logger, refusals, shutdownOnSignal } = startDemoProcess('api', apiConfigSpec, config);
 * ```
 */
export function startDemoProcess<S extends ConfigSpec>(
  app: string,
  spec: S,
  config: Config<S> & CacheConfig,
  { secrets = [] }: { secrets?: Iterable<string> } = {},
): DemoProcess {
  const logger = createLogger({
    name: app,
    level: config.LOG_LEVEL,
    secrets: [...configSecrets(spec, config), ...secrets],
  });
  const log = libraryLogger(logger);
  exitOnUncaughtError(log);
  const { cache, close } = createDemoCache(
    config,
    libraryLogger(logger.child({ component: 'write-behind' })),
  );
  const refusals = new LogLimiter(log);
  return {
    logger,
    log,
    cache,
    refusals,
    shutdownOnSignal(stopServing, { timeoutMs }) {
      onShutdownSignal(
        async () => {
          await stopServing();
          // The counts of refusals held back in the last window.
          refusals.flush();
          refusals.close();
          await close();
        },
        { logger: log, timeoutMs },
      );
    },
  };
}

/**
 * Logs an error nothing caught (a rejected top-level `await` included) through `logger`, then exits 1.
 * Without it Node prints the error itself, with every property attached to it: an ioredis error's failed
 * command, a URL error's input, past the log redaction.
 */
export function exitOnUncaughtError(logger: Logger): void {
  process.on('uncaughtException', (error, origin) => {
    logger.error({ err: error, origin }, 'uncaught error; exiting');
    process.exit(1);
  });
}

/** Starts listening and resolves with the port actually bound (useful with port 0). */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Runs `shutdown` on the first SIGTERM or SIGINT, then exits 0 (1 if it failed or outlasted `timeoutMs`).
 * Later signals are logged and ignored: a terminal's Ctrl-C reaches both a launcher and its children, so a
 * child may well get the same signal twice.
 */
export function onShutdownSignal(
  shutdown: (signal: NodeJS.Signals) => Promise<void>,
  { logger, timeoutMs }: { logger: Logger; timeoutMs: number },
): void {
  let started = false;
  const handle = (signal: NodeJS.Signals) => {
    if (started) {
      logger.info({ signal }, 'already shutting down');
      return;
    }
    started = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown took too long; exiting anyway');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    shutdown(signal).then(
      () => {
        logger.info({}, 'stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}
