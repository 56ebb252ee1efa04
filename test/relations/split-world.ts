// What the relations tests share: a world whose videos and comments live in separate shards (so a worker over
// some shards flushes one entity alone, whatever the timing), and the checks every test ends with.
import assert from 'node:assert/strict';
import type { EntityDefinitions, FlushWorker, Store } from '@write-behind/core';
import {
  createWorld,
  eventually,
  forwardingStore,
  idsInShards,
  type RelationTestEntities,
  relationEntities,
  type World,
  type WorldOptions,
} from '@write-behind/testkit';
import type { Queue } from 'bullmq';

export const SHARDS = 4;

/** The `n`th comment on a video, as the relations tests write it. */
export const comment = (videoId: string, n: number) => ({
  videoId,
  author: `author${n}`,
  body: `comment ${n} on ${videoId}`,
  createdAt: new Date('2026-12-15T10:00:00.000Z'),
});
/** The shards of a split world's videos and of their comments. */
export const VIDEO_SHARDS = [0, 1];
export const COMMENT_SHARDS = [2, 3];

/**
 * A world of {@link SHARDS} shards over the videos and their comments, no worker yet. A flush job gets 3
 * attempts 50 ms apart unless `options.flush` says otherwise.
 */
export function createVideoCommentWorld(
  options: WorldOptions<RelationTestEntities> = {},
): Promise<World<RelationTestEntities>> {
  return createWorld(relationEntities, {
    shards: SHARDS,
    ...options,
    flush: { attempts: 3, backoffMs: 50, ...options.flush },
  });
}

export interface SplitWorld {
  world: World<RelationTestEntities>;
  /** Video ids (`<label><n>`) in {@link VIDEO_SHARDS}. */
  videos: string[];
  /** Each video's comment ids, in {@link COMMENT_SHARDS}. */
  comments: Map<string, string[]>;
}

/**
 * A world of its own with no worker yet, and `videos` ids with `commentsEach` comment ids each. `wrapStore`
 * as {@link createWorld}'s.
 */
export async function splitWorld(
  label: string,
  videos: number,
  commentsEach: number,
  wrapStore?: (store: Store) => Store,
): Promise<SplitWorld> {
  const videoIds = idsInShards(
    'video',
    { inShards: VIDEO_SHARDS, shards: SHARDS, count: videos },
    (i) => `${label}${i}`,
  );
  const comments = new Map(
    videoIds.map((v) => [
      v,
      idsInShards(
        'comment',
        { inShards: COMMENT_SHARDS, shards: SHARDS, count: commentsEach },
        (i) => `${v}-c${i}`,
      ),
    ]),
  );
  const world = await createVideoCommentWorld(wrapStore ? { wrapStore } : {});
  return { world, videos: videoIds, comments };
}

/** The reasons of every failed job of the world's queues. */
export async function failedJobs(world: { cache: { queues: readonly Queue[] } }): Promise<string[]> {
  return (await Promise.all(world.cache.queues.map((q) => q.getFailed()))).flat().map((j) => j.failedReason);
}

/** The reason of the one failed job of the world's queues, once one has failed (within 10 s). */
export async function soleFailure(world: {
  cache: { queues: readonly Queue[] };
}): Promise<string | undefined> {
  assert.ok(await eventually(async () => (await failedJobs(world)).length === 1, 10_000), 'its job failed');
  const [reason] = await failedJobs(world);
  return reason;
}

/** Retries every failed job of the world's queues (after the test fixed what failed them). */
export async function retryFailed(world: { cache: { queues: readonly Queue[] } }): Promise<void> {
  for (const queue of world.cache.queues) for (const job of await queue.getFailed()) await job.retry();
}

/** Warnings and errors logged since `since` (a length of `logs`) that mention a foreign key violation (`23503`). */
export function foreignKeyLogs(
  world: Pick<World<EntityDefinitions>, 'logs'>,
  since = 0,
): World<EntityDefinitions>['logs'] {
  return world.logs.slice(since).filter((l) => l.level !== 'info' && JSON.stringify(l.obj).includes('23503'));
}

/**
 * Writes every video of `split` with its comments, and flushes them with a worker over every shard, which is
 * then closed: the rows are in PostgreSQL and no worker runs.
 */
export async function seedFlushed({ world, videos, comments }: SplitWorld): Promise<void> {
  const all = await world.startWorker();
  for (const v of videos) {
    await world.cache.set('video', v, { likes: 1, views: 0 });
    for (const [n, c] of (comments.get(v) ?? []).entries())
      await world.cache.set('comment', c, comment(v, n));
  }
  await world.cache.flush();
  await all.close();
}

/**
 * Runs `body` on a {@link splitWorld} of `videos` videos with `commentsEach` comments each, their rows flushed
 * first ({@link seedFlushed}), then closes the world.
 */
export async function withSeededSplitWorld(
  {
    label,
    videos,
    commentsEach,
    wrapStore,
  }: { label: string; videos: number; commentsEach: number; wrapStore?: (store: Store) => Store },
  body: (split: SplitWorld) => Promise<void>,
): Promise<void> {
  const split = await splitWorld(label, videos, commentsEach, wrapStore);
  try {
    await seedFlushed(split);
    await body(split);
  } finally {
    await split.world.close();
  }
}

/**
 * A store whose next lookup of the rows pointing at a row (`referencingRows`) runs what `holdNext` was given
 * after the database has answered and before the flush reads those rows' states in Redis.
 */
export function heldLookups(): {
  wrap: (inner: Store) => Store;
  holdNext: (run: () => Promise<void>) => void;
  held: () => boolean;
} {
  let hold: (() => Promise<void>) | undefined;
  let ran = false;
  return {
    wrap: (inner) =>
      forwardingStore(inner, {
        async referencingRows(fk, key, limit) {
          const rows = (await inner.referencingRows?.(fk, key, limit)) ?? [];
          const run = hold;
          hold = undefined;
          if (run) {
            await run();
            ran = true;
          }
          return rows;
        },
      }),
    holdNext: (run) => {
      hold = run;
    },
    held: () => ran,
  };
}

/**
 * The order of related rows cost nothing: no row refused by `worker` since it had refused `rejectedBefore` (not
 * checked without a worker), no failed job, no `23503` logged since `since` (a length of `logs`).
 */
export async function assertNoOrderingCost(
  world: { cache: { queues: readonly Queue[] } } & Pick<World<EntityDefinitions>, 'logs'>,
  worker?: FlushWorker,
  rejectedBefore = 0,
  since = 0,
): Promise<void> {
  if (worker) assert.equal(worker.counters.rowsRejected, rejectedBefore, 'no row was refused');
  assert.deepEqual(await failedJobs(world), []);
  assert.deepEqual(foreignKeyLogs(world, since), []);
}
