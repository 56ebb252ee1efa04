import { shardOf } from '@write-behind/core/internal';

/**
 * The first `count` ids made by `label(0)`, `label(1)`, ... whose keys fall in one of `inShards` (of
 * `shards`): for tests that run a worker over some shards only, so that one entity's keys are flushed before
 * another's whatever the timing.
 */
export function idsInShards(
  entity: string,
  { inShards, shards, count }: { inShards: readonly number[]; shards: number; count: number },
  label: (i: number) => string,
): string[] {
  const ids: string[] = [];
  for (let i = 0; ids.length < count; i++) {
    if (inShards.includes(shardOf(entity, label(i), shards))) ids.push(label(i));
  }
  return ids;
}
