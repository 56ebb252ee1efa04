// The relations tests on the kinds schema (test/schemas/kinds): a world of four shards over its relation
// models, a store whose writes of chosen rows can be held mid-flush (to make a parent's or a child's flush
// come last whatever the timing), ids picked by shard, and the checks each test ends with.
import assert from 'node:assert/strict';
import { DEFAULT_OPTIONS, type FlushWorker, type IdOf, type Store } from '@write-behind/core';
import { encodeId, shardOf } from '@write-behind/core/internal';
import {
  createWorld,
  eventually,
  forwardingStore,
  type World,
  type WorldOptions,
} from '@write-behind/testkit';
import { KINDS_SCHEMA } from '../kinds/harness.ts';
import {
  type PrismaClient,
  type RelationKindsEntities,
  relationKindsEntities,
} from '../schemas/kinds/index.ts';
import { assertNoOrderingCost, failedJobs, foreignKeyLogs, retryFailed, SHARDS } from './split-world.ts';

export { SHARDS };

type EntityName = keyof RelationKindsEntities & string;

/** Writes of one entity's rows held open until `release`: see {@link RelationsWorld.hold}. */
export interface Held {
  /** Resolves once a held write has started. */
  reached: Promise<void>;
  /** Lets the held writes (and later ones) through. */
  release(): void;
}

export interface RelationsWorld extends World<RelationKindsEntities, PrismaClient> {
  worker: FlushWorker;
  /** An id's canonical text, as keys and refusal messages show it. */
  canonical<N extends EntityName>(entity: N, id: IdOf<RelationKindsEntities[N]>): string;
  /** The shard of an id. */
  shardOf<N extends EntityName>(entity: N, id: IdOf<RelationKindsEntities[N]>): number;
  /**
   * The first `count` ids `make(0)`, `make(1)`, ... whose shard is `shard` (`in`) or is not (`notIn`): how a
   * test puts a parent and its children in different shards, so in different batches.
   */
  pick<N extends EntityName>(
    entity: N,
    count: number,
    where: { in: number } | { notIn: number },
    make: (n: number) => IdOf<RelationKindsEntities[N]>,
  ): IdOf<RelationKindsEntities[N]>[];
  /**
   * Holds the store's `kind` writes of `entity` whose rows include one of `ids` (any, without `ids`) until
   * `release()`. The batch holding them stops there; the other shards' batches go on.
   */
  hold(kind: 'upsert' | 'delete', entity: EntityName, ids?: readonly string[]): Held;
  /**
   * Holds the store's `kind` writes of `entity`'s rows (as {@link hold}), runs `write`, and once a held write has
   * started, checks that the worker deferred at least `deferred` rows since: rows that wait for the held ones
   * were tried and wait (`waiting` says which). The writes stay held until `release()`.
   */
  writeWhileHeld(
    held: { kind: 'upsert' | 'delete'; entity: EntityName; ids?: readonly string[] },
    write: () => Promise<unknown>,
    expected: { deferred: number; waiting: string },
  ): Promise<Held>;
  /** The reasons of the failed jobs of every shard. */
  failedJobs(): Promise<string[]>;
  /** Warnings and errors logged since `since` (a length of `logs`) that mention a foreign key violation. */
  foreignKeyLogs(since?: number): World<RelationKindsEntities>['logs'];
  /** Retries every failed job (after the test fixed what failed them). */
  retryFailed(): Promise<void>;
  /**
   * The order of related rows cost nothing: no row refused since `rejectedBefore` (a count of
   * `worker.counters.rowsRejected`; not checked without it), no failed job, no foreign key violation logged since
   * `mark` (a length of `logs`).
   */
  assertNoOrderingCost(mark: number, rejectedBefore?: number): Promise<void>;
}

interface Hold {
  kind: 'upsert' | 'delete';
  entity: string;
  ids: ReadonlySet<string> | undefined;
  open: Promise<void> | undefined;
  signal(): void;
}

/** A world of {@link SHARDS} shards on the kinds schema, with the relation entities and a flush worker. */
export async function createRelationsWorld(
  options: WorldOptions<RelationKindsEntities> = {},
): Promise<RelationsWorld> {
  const holds: Hold[] = [];
  const wait = async (kind: Hold['kind'], entity: string, rows: readonly { id: string }[]) => {
    for (const hold of holds) {
      if (hold.kind !== kind || hold.entity !== entity || !hold.open) continue;
      if (hold.ids && !rows.some((row) => hold.ids?.has(row.id))) continue;
      hold.signal();
      await hold.open;
    }
  };
  const wrapStore = (inner: Store): Store =>
    forwardingStore(inner, {
      async upsert(entity, rows) {
        await wait('upsert', entity.name, rows);
        return inner.upsert(entity, rows);
      },
      async delete(entity, rows) {
        await wait('delete', entity.name, rows);
        return inner.delete(entity, rows);
      },
    });
  const world = await createWorld(relationKindsEntities, {
    shards: SHARDS,
    ...options,
    schema: KINDS_SCHEMA,
    wrapStore,
  });
  const worker = await world.startWorker();
  const canonical: RelationsWorld['canonical'] = (entity, id) =>
    encodeId(world.resolvedEntity(entity), id, DEFAULT_OPTIONS.limits.maxIdBytes);
  const shard: RelationsWorld['shardOf'] = (entity, id) => shardOf(entity, canonical(entity, id), SHARDS);
  const hold: RelationsWorld['hold'] = (kind, entity, ids) => {
    let open: () => void = () => {};
    let signal: () => void = () => {};
    const reached = new Promise<void>((resolve) => {
      signal = resolve;
    });
    const entry: Hold = {
      kind,
      entity,
      ids: ids && new Set(ids),
      open: new Promise<void>((resolve) => {
        open = resolve;
      }),
      signal: () => signal(),
    };
    holds.push(entry);
    return {
      reached,
      release() {
        entry.open = undefined;
        open();
      },
    };
  };
  return {
    ...world,
    worker,
    canonical,
    shardOf: shard,
    pick(entity, count, where, make) {
      const ids: ReturnType<typeof make>[] = [];
      for (let n = 0; ids.length < count; n++) {
        const id = make(n);
        const s = shard(entity, id);
        if ('in' in where ? s === where.in : s !== where.notIn) ids.push(id);
      }
      return ids;
    },
    hold,
    async writeWhileHeld({ kind, entity, ids }, write, { deferred, waiting }) {
      const deferredBefore = worker.counters.rowsDeferred;
      const held = hold(kind, entity, ids);
      await write();
      await held.reached;
      assert.ok(await eventually(() => worker.counters.rowsDeferred - deferredBefore >= deferred), waiting);
      return held;
    },
    failedJobs: () => failedJobs(world),
    foreignKeyLogs: (since) => foreignKeyLogs(world, since),
    retryFailed: () => retryFailed(world),
    assertNoOrderingCost: (mark, rejectedBefore) =>
      assertNoOrderingCost(world, rejectedBefore === undefined ? undefined : worker, rejectedBefore, mark),
  };
}
