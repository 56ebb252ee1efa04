// Load for the failover tests: loops incrementing counters through a cache while a Redis node is killed,
// recording what was acknowledged and what is uncertain, and afterwards the comparison with PostgreSQL.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BacklogFullError,
  IndeterminateError,
  NotReplicatedError,
  UnavailableError,
  type WriteBehind,
} from '@write-behind/core';
import type { TestEntities } from './entities.ts';
import type { TestDatabase } from './env.ts';
import { mulberry32 } from './random.ts';

export interface IncrementLoadOptions {
  /** Concurrent loops, each awaiting its increment before the next. */
  writers: number;
  /** Ids `k0` to `k<keys - 1>` of `video`, picked at random (seeded per loop). */
  keys: number;
}

export interface IncrementLoad {
  /** Increments acknowledged so far. */
  readonly acknowledged: number;
  /** Increments refused with `UnavailableError` or `BacklogFullError`: certainly not applied. */
  readonly refused: number;
  /** Increments that failed with `IndeterminateError`: they may have been applied. */
  readonly indeterminate: number;
  /** Increments applied but not confirmed by the replicas asked for (`NotReplicatedError`). */
  readonly unconfirmed: number;
  /** Errors of any other kind: a failover must never produce one. */
  readonly unexpected: readonly unknown[];
  /**
   * Stops the loops and waits for them; after `ms` fails naming the increments still in flight, with
   * `context()` appended (the state of the connection, say).
   */
  stop(ms: number, context?: () => Promise<string>): Promise<void>;
  /**
   * Compares every key's `likes` in PostgreSQL with what was acknowledged (at least, unless a failover lost it)
   * and with what may have been applied (at most: acknowledged, unconfirmed by a replica and indeterminate
   * increments; a refused one was certainly not applied). Call after a drain.
   */
  check(db: TestDatabase): Promise<IncrementCheck>;
}

export interface IncrementCheck {
  /** Acknowledged increments missing from PostgreSQL. */
  lost: number;
  /** Keys holding more than everything written, refused increments included: an increment applied twice. */
  overcounted: string[];
  /**
   * Keys holding more than every increment that may have been applied: an increment refused with
   * `UnavailableError` or `BacklogFullError` was applied, although its error said it was not.
   */
  appliedThoughRefused: string[];
}

/** Starts `writers` loops of `increment('video', k<n>, 'likes', 1 to 3)` on `cache`. */
export function startIncrementLoad(
  cache: WriteBehind<TestEntities>,
  { writers, keys }: IncrementLoadOptions,
): IncrementLoad {
  const acknowledged = new Map<string, number>();
  /** Applied or maybe applied, without an acknowledgement: `NotReplicatedError`, `IndeterminateError`. */
  const maybe = new Map<string, number>();
  /** Refused: certainly not applied. */
  const refused = new Map<string, number>();
  const unexpected: unknown[] = [];
  /** Each loop's increment in flight, to name the one that never settles. */
  const pending = new Map<number, { id: string; since: number }>();
  const counts = { acknowledged: 0, refused: 0, indeterminate: 0, unconfirmed: 0 };
  let stopping = false;
  const add = (map: Map<string, number>, id: string, by: number) => map.set(id, (map.get(id) ?? 0) + by);

  const writer = async (seed: number) => {
    const random = mulberry32(seed);
    while (!stopping) {
      const id = `k${Math.floor(random() * keys)}`;
      const by = 1 + Math.floor(random() * 3);
      pending.set(seed, { id, since: Date.now() });
      try {
        await cache.increment('video', id, 'likes', by);
        add(acknowledged, id, by);
        counts.acknowledged++;
      } catch (error) {
        if (error instanceof NotReplicatedError) {
          add(maybe, id, by);
          counts.unconfirmed++;
        } else if (error instanceof IndeterminateError) {
          add(maybe, id, by);
          counts.indeterminate++;
        } else {
          add(refused, id, by);
          if (!(error instanceof UnavailableError || error instanceof BacklogFullError))
            unexpected.push(error);
          counts.refused++;
        }
        // A refused writer backs off a little, as a client would, rather than spinning on a dead node.
        await sleep(10);
      } finally {
        pending.delete(seed);
      }
    }
  };
  const loops = Promise.all(Array.from({ length: writers }, (_, i) => writer(i + 1)));

  return {
    get acknowledged() {
      return counts.acknowledged;
    },
    get refused() {
      return counts.refused;
    },
    get indeterminate() {
      return counts.indeterminate;
    },
    get unconfirmed() {
      return counts.unconfirmed;
    },
    unexpected,
    async stop(ms, context) {
      stopping = true;
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([
        loops.then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), ms);
        }),
      ]).finally(() => clearTimeout(timer));
      if (ended) return;
      const now = Date.now();
      const calls = [...pending.values()].map(({ id, since }) => `${id} for ${now - since} ms`);
      throw new Error(
        `${calls.length} increments never settled (${calls.join(', ')})${context ? `; ${await context()}` : ''}`,
      );
    },
    async check(db) {
      const { rows } = await db.pool.query<{ id: string; likes: number }>(
        'SELECT id, likes::int AS likes FROM "Video"',
      );
      const stored = new Map(rows.map((r) => [r.id, r.likes]));
      let lost = 0;
      const overcounted: string[] = [];
      const appliedThoughRefused: string[] = [];
      for (const id of new Set([...acknowledged.keys(), ...maybe.keys(), ...refused.keys()])) {
        const likes = stored.get(id) ?? 0;
        const count = acknowledged.get(id) ?? 0;
        const mayHave = count + (maybe.get(id) ?? 0);
        lost += Math.max(0, count - likes);
        if (likes > mayHave + (refused.get(id) ?? 0)) {
          overcounted.push(`${id}: ${likes} > ${count} acknowledged + ${maybe.get(id) ?? 0} maybe + refused`);
        } else if (likes > mayHave) {
          appliedThoughRefused.push(
            `${id}: ${likes} > ${count} acknowledged + ${maybe.get(id) ?? 0} maybe applied`,
          );
        }
      }
      return { lost, overcounted, appliedThoughRefused };
    },
  };
}
