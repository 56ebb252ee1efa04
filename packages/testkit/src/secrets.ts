// For tests that prove no secret leaks: a logger that keeps every line as a log shipper would print it, an
// assertion that none of a list of secrets appears in a text, and the error of a write through a Redis the
// cache cannot use, and the cache the tests of a Redis that asks for credentials write through.
import assert from 'node:assert/strict';
import { createWriteBehind, type Logger, type WriteBehind } from '@write-behind/core';
import type { Redis } from 'ioredis';
import { entities, type TestEntities } from './entities.ts';
import type { TestDatabase } from './env.ts';

/** Everything a log shipper could print: messages, stacks, causes, nested objects. */
export function flatten(value: unknown, depth = 0): string {
  if (depth > 4 || value === null || value === undefined) return String(value);
  if (value instanceof Error) {
    const extra = Object.entries(value).map(([k, v]) => `${k}=${flatten(v, depth + 1)}`);
    return `${value.name}: ${value.message} ${value.stack ?? ''} ${extra.join(' ')} cause=${flatten(value.cause, depth + 1)}`;
  }
  if (typeof value === 'object') {
    try {
      return JSON.stringify(value);
    } catch {
      return Object.entries(value as object)
        .map(([k, v]) => `${k}=${flatten(v, depth + 1)}`)
        .join(' ');
    }
  }
  return String(value);
}

/** A logger that records each line, flattened, in `lines`. */
export function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const record = (obj: unknown, msg = '') => {
    lines.push(`${msg} ${flatten(obj)}`);
  };
  return { logger: { info: record, warn: record, error: record }, lines };
}

/** Fails, quoting the start of `text`, when `text` contains any of `secrets`. */
export function assertNoSecret(text: string, where: string, secrets: readonly string[]): void {
  for (const secret of secrets)
    assert.ok(!text.includes(secret), `${where} contains a password: ${text.slice(0, 500)}`);
}

/** `promise`, or a rejection naming `what` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** What `promise` rejects with (`undefined` if it resolves), failing after `ms`. */
export function rejectionOf(promise: Promise<unknown>, ms: number, what: string): Promise<unknown> {
  return withTimeout(
    promise.then(
      () => undefined,
      (error: unknown) => error,
    ),
    ms,
    what,
  );
}

/**
 * What an increment through a new cache over `redis` rejects with (`undefined` if it succeeds): for a Redis
 * the cache cannot use, such as a wrong password or an untrusted certificate. Fails after 15 s, naming
 * `what`. The cache is closed before it returns, so `logger` has had every line of the attempt.
 */
export async function incrementRejection({
  redis,
  db,
  prefix,
  logger,
  what,
}: {
  redis: string;
  db: TestDatabase;
  prefix: string;
  logger: Logger;
  what: string;
}): Promise<unknown> {
  const cache = createWriteBehind<TestEntities>({ redis, entities, prefix, prisma: db.prisma, logger });
  try {
    return await rejectionOf(cache.increment('video', 'w', 'likes'), 15_000, what);
  } finally {
    await withTimeout(cache.close(), 5000, 'close').catch(() => {});
  }
}

/**
 * A cache of the test entities on `redis` (a URL, or a client the caller closes) under `prefix`, whose worker
 * flushes to `db` 50 ms after a write, logging to `logger`: the cache of a Redis that asks for credentials (a
 * password, an ACL user, TLS), where {@link incrementRejection} is the one for a Redis it cannot use.
 */
export function flushingCache({
  redis,
  db,
  prefix,
  logger,
}: {
  redis: string | Redis;
  db: TestDatabase;
  prefix: string;
  logger: Logger;
}): WriteBehind<TestEntities> {
  return createWriteBehind<TestEntities>({
    redis,
    entities,
    prefix,
    prisma: db.prisma,
    flush: { windowMs: 50 },
    logger,
  });
}
