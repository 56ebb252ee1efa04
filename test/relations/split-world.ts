// What the relations tests share: a world whose videos and comments live in separate shards (so a worker over
// some shards flushes one entity alone, whatever the timing), and the checks every test ends with.
import type { Store } from '@write-behind/core';
import {
  createWorld,
  idsInShards,
  type RelationTestEntities,
  relationEntities,
  type World,
} from '@write-behind/testkit';

export const SHARDS = 4;
/** The shards of a split world's videos and of their comments. */
export const VIDEO_SHARDS = [0, 1];
export const COMMENT_SHARDS = [2, 3];

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
  const world = await createWorld(relationEntities, {
    shards: SHARDS,
    flush: { attempts: 3, backoffMs: 50 },
    ...(wrapStore ? { wrapStore } : {}),
  });
  return { world, videos: videoIds, comments };
}

/** The reasons of every failed job of the world's queues. */
export async function failedJobs(world: World<RelationTestEntities>): Promise<string[]> {
  return (await Promise.all(world.cache.queues.map((q) => q.getFailed()))).flat().map((j) => j.failedReason);
}

/** Warnings and errors that mention a foreign key violation (`23503`). */
export function foreignKeyLogs(world: World<RelationTestEntities>) {
  return world.logs.filter((l) => l.level !== 'info' && JSON.stringify(l.obj).includes('23503'));
}
