import type { Context } from './context.js';
import { mastersOf } from './context.js';
import { ConfigurationError } from './errors.js';
import type { SchemaCheck } from './schema-check.js';

/*
 * `cache.health()`: whether Redis and the database answer now, each probed on its own with a deadline, and
 * what the cache's check of the entities against the database has found (what `ready` waits for). Redis is
 * never part of `ready`: the cache starts, and accepts calls, while Redis is unreachable (they fail with
 * `UnavailableError` until it is back), so this is where its reachability is reported.
 */

/** Redis, probed with `PING` (every master of a Cluster). */
export interface RedisHealth {
  /** Redis answered within the deadline. */
  ok: boolean;
  /** How long the answer took (the slowest master's), when it came. */
  latencyMs?: number;
  /** Why not, when not: the error's message, any URL credentials masked. */
  error?: string;
}

/** The database, probed with the store's live check of the entities (`Store.verify`). */
export interface DatabaseHealth {
  /** The database answered within the deadline, and its tables match the entities. */
  ok: boolean;
  latencyMs?: number;
  /** Why not, when not: unreachable, too slow, or what differs from the entities; credentials masked. */
  error?: string;
  /**
   * What the cache's own check has found, which decides whether it accepts calls: `'verified'` (`ready`
   * resolved), `'mismatch'` (`ready` rejected: every call is refused until the process restarts with a
   * matching database), or `'unverified'` (not decided yet: the database could not be reached since the cache
   * started; writes are accepted and the check is retried, at once when this probe finds the database).
   */
  schema: 'verified' | 'unverified' | 'mismatch';
}

/** What {@link WriteBehind.health} answers. */
export interface Health {
  /** Both answered, and the database matches the entities. */
  ok: boolean;
  redis: RedisHealth;
  database: DatabaseHealth;
}

export interface HealthOptions {
  /** How long each probe may take before it counts as failed. @defaultValue `2000` */
  timeoutMs?: number;
}

export const DEFAULT_HEALTH_OPTIONS = { timeoutMs: 2000 } as const satisfies Required<HealthOptions>;

/**
 * A message that is safe to show, on one line: the credentials of any URL in it masked
 * (`redis://user:***@host`).
 */
export function safeMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (
    message
      // Greedy to the last `@` of the word: a password may hold one.
      .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)\S*@/gi, '$1***@')
      .replace(/\s+/g, ' ')
      .trim()
  );
}

async function probe(
  call: () => Promise<unknown>,
  timeoutMs: number,
): Promise<{ ms: number; error?: unknown }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  const attempt = call();
  // A probe abandoned at its deadline may still fail later: nobody waits for it.
  attempt.catch(() => {});
  try {
    await Promise.race([attempt, deadline]);
    return { ms: Math.round(performance.now() - started) };
  } catch (error) {
    return { ms: Math.round(performance.now() - started), error };
  } finally {
    clearTimeout(timer);
  }
}

/** Probes Redis and the database at once. */
export async function checkHealth(
  context: Context,
  schema: SchemaCheck,
  options: HealthOptions = {},
): Promise<Health> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HEALTH_OPTIONS.timeoutMs;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
    throw new ConfigurationError(
      `health timeoutMs must be a positive integer, got ${JSON.stringify(timeoutMs)}`,
    );
  }
  const { redis, store, entities } = context;
  const [redisProbe, databaseProbe] = await Promise.all([
    probe(async () => {
      const nodes = mastersOf(redis);
      if (nodes.length === 0)
        throw new Error('no Redis Cluster master is known (the cluster is unreachable)');
      await Promise.all(nodes.map((node) => node.ping()));
    }, timeoutMs),
    probe(() => store.verify([...entities.values()]), timeoutMs),
  ]);
  const redisHealth: RedisHealth =
    redisProbe.error === undefined
      ? { ok: true, latencyMs: redisProbe.ms }
      : { ok: false, error: safeMessage(redisProbe.error) };
  const reachable = databaseProbe.error === undefined || databaseProbe.error instanceof ConfigurationError;
  if (databaseProbe.error === undefined) schema.retryNow();
  const state = schema.state;
  const database: DatabaseHealth = {
    ok: databaseProbe.error === undefined,
    schema: state === 'checking' ? 'unverified' : state,
  };
  if (reachable) database.latencyMs = databaseProbe.ms;
  if (databaseProbe.error !== undefined) database.error = safeMessage(databaseProbe.error);
  else if (state === 'mismatch') {
    database.error = `the database matches now, but this cache found a mismatch and refuses every call: restart it (${safeMessage(schema.error)})`;
  }
  if (state === 'mismatch') database.ok = false;
  return { ok: redisHealth.ok && database.ok, redis: redisHealth, database };
}
