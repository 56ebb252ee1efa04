import type { Request } from 'express';
import { ConfigurationError } from '../errors.js';
import type { Logger } from '../options.js';
import type { PrismaClientLike } from '../store/prisma-store.js';

/** Options of an {@link Operator} (`@write-behind/core/operator`). */
export interface OperatorOptions {
  /**
   * Failed jobs one batch of `retryFailures` retries at once. The next batch goes once these have run (or
   * after `retryBatchTimeoutMs`), so a retry of thousands never floods the workers. @defaultValue `100`
   */
  retryBatchSize?: number;
  /** How long a batch of retried jobs may take to run before the next batch is sent anyway. @defaultValue `30000` */
  retryBatchTimeoutMs?: number;
  /** Failed jobs each failure group lists, newest first. @defaultValue `20` */
  sampleSize?: number;
  /**
   * Most failed jobs read per shard by `failures()` and `retryFailures()`, newest first: BullMQ keeps as many
   * as `flush.keepFailed` says (10,000 by default). @defaultValue `10000`
   */
  maxFailedJobs?: number;
  /**
   * A Prisma Client to read a key's row with (its version, `@updatedAt` columns and tombstone), for a cache
   * made with a `store` of its own over the same database. Without one such a cache's inspection shows what
   * the store's `load` answers. @defaultValue the cache's `prisma`
   */
  database?: PrismaClientLike;
}

/** Every default of {@link OperatorOptions}. */
export const DEFAULT_OPERATOR_OPTIONS = {
  retryBatchSize: 100,
  retryBatchTimeoutMs: 30_000,
  sampleSize: 20,
  maxFailedJobs: 10_000,
} as const satisfies Required<Omit<OperatorOptions, 'database'>>;

export type ResolvedOperatorOptions = Required<Omit<OperatorOptions, 'database'>> &
  Pick<OperatorOptions, 'database'>;

/**
 * Options of {@link createOperatorRouter}: the operator's own, who acts, and where the audit goes.
 *
 * @example
 * ```ts
 * createOperatorRouter(cache, { actor: (req) => req.user.name, audit: logger });
 * ```
 */
export interface OperatorRouterOptions extends OperatorOptions {
  /**
   * The name of the operator behind a request, written in every audit line: your authentication's user (the
   * router has none of its own: mount it behind yours).
   */
  actor: (req: Request) => string;
  /**
   * Where each action's audit line goes: `info` for an action done, `warn` for one refused or failed, with
   * `actor`, `action`, `entity`, `id` or `cause`, and `outcome`. @defaultValue the cache's `logger`
   */
  audit?: Logger;
}

function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ConfigurationError(`${name} must be a whole number of 1 or more, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Merges the defaults into `options` and checks them.
 * @throws {@link ConfigurationError} naming the option and quoting the bad value.
 */
export function resolveOperatorOptions(options: OperatorOptions = {}): ResolvedOperatorOptions {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError(`operator options must be an object, got ${JSON.stringify(options)}`);
  }
  const d = DEFAULT_OPERATOR_OPTIONS;
  return {
    retryBatchSize: positiveInteger('retryBatchSize', options.retryBatchSize ?? d.retryBatchSize),
    retryBatchTimeoutMs: positiveInteger(
      'retryBatchTimeoutMs',
      options.retryBatchTimeoutMs ?? d.retryBatchTimeoutMs,
    ),
    sampleSize: positiveInteger('sampleSize', options.sampleSize ?? d.sampleSize),
    maxFailedJobs: positiveInteger('maxFailedJobs', options.maxFailedJobs ?? d.maxFailedJobs),
    ...(options.database === undefined ? {} : { database: checkDatabase(options.database) }),
  };
}

function checkDatabase(database: unknown): PrismaClientLike {
  if (typeof (database as PrismaClientLike | null)?.$queryRawUnsafe !== 'function') {
    throw new ConfigurationError('database must be a Prisma Client (it has no $queryRawUnsafe)');
  }
  return database as PrismaClientLike;
}
