/*
 * Turns the shards' parts of a ranking into one answer. Pure.
 *
 * Order: the highest value first; equal values by id, the larger first, comparing the ids' canonical text as
 * UTF-8 bytes. That is Redis's own order within a sorted set (ZREVRANGE), which is what makes a shard's
 * first n entries the right ones to merge. Ranks are competition ranks: an entry's rank is one plus the
 * number of entries with a strictly higher value, so equal values share a rank (1, 2, 2, 4).
 */

/**
 * One entry of `top`: a key, its counter's value, and its rank (1 for the highest; equal values share a
 * rank). Here `Id` is the canonical id; the cache's `top` answers with the id as the key's type.
 */
export interface RankedEntry<Id = string> {
  id: Id;
  value: number;
  rank: number;
}

/** Redis's order within a sorted set read highest first: value descending, then id bytewise descending. */
export function compareEntries(a: { id: string; value: number }, b: { id: string; value: number }): number {
  if (a.value !== b.value) return b.value - a.value;
  return Buffer.compare(Buffer.from(b.id, 'utf8'), Buffer.from(a.id, 'utf8'));
}

/**
 * The first `n` entries of the whole ranking, from each shard's first `n` (flat lists id, score, id, score...,
 * as `lua/ranking-top-1.lua` returns them). Every entry ranked above one of the result is in some shard's
 * first `n`, so the ranks counted here are exact.
 */
export function mergeTop(shards: readonly (readonly string[])[], n: number): RankedEntry[] {
  const all: { id: string; value: number }[] = [];
  for (const flat of shards) {
    for (let i = 0; i + 1 < flat.length; i += 2) {
      all.push({ id: flat[i] as string, value: Number(flat[i + 1]) });
    }
  }
  all.sort(compareEntries);
  const top = all.slice(0, n);
  let rank = 0;
  return top.map((entry, i) => {
    if (i === 0 || entry.value !== (top[i - 1] as { value: number }).value) rank = i + 1;
    return { ...entry, rank };
  });
}
