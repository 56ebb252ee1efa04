import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@write-behind/core';
import { type Config, ConfigError, type ConfigSpec, loadConfig } from './config.ts';

/**
 * {@link loadConfig} for a process's entry point: a wrong variable prints one clear message (no stack trace)
 * and exits 1.
 */
export function loadConfigOrExit<S extends ConfigSpec>(
  app: string,
  env: Readonly<Record<string, string | undefined>>,
  spec: S,
): Config<S> {
  try {
    return loadConfig(env, spec);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${app}: ${error.message}`);
    process.exit(1);
  }
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
