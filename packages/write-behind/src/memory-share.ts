import { ConfigurationError } from './errors.js';
import type { MemoryOptions } from './options.js';

/**
 * What a ranking entry is reserved at under `maxBytes`: a sorted set's entry took 104 to 118 bytes with ids of
 * 7 to 8 bytes (measured: docs/RELIABILITY.md, "Guarantee 23 at scale"), so this covers ids up to about 40.
 */
export const RANKING_ENTRY_BYTES = 160;

/** One shard's part of the memory budget, as the scripts take it (0: no limit, no cap). */
export interface ShardBudget {
  maxKeys: number;
  /** For the shard's keys: its share of `maxBytes` less what its rankings are reserved. */
  maxBytes: number;
  /** Most entries each of the shard's rankings keeps (includes/ranking-cap.lua). */
  rankingCap: number;
}

/**
 * Each shard's share of the budget. The rankings' entries come out of `maxBytes` first; a budget they would
 * take more than half of is refused, as its keys would have almost no room.
 */
export function shardBudget(
  memory: Required<MemoryOptions>,
  shards: number,
  rankedFields: number,
): ShardBudget {
  const budgeted = memory.maxKeys > 0 || memory.maxBytes > 0;
  const rankingCap = budgeted ? memory.rankingEntries : 0;
  const maxKeys = Math.ceil(memory.maxKeys / shards);
  if (memory.maxBytes <= 0) return { maxKeys, maxBytes: 0, rankingCap };
  const share = Math.ceil(memory.maxBytes / shards);
  const reserved = rankedFields * rankingCap * RANKING_ENTRY_BYTES;
  if (reserved > share / 2) {
    throw new ConfigurationError(
      `memory.maxBytes gives each of the ${shards} shard(s) ${share} bytes, and its ${rankedFields} ranking(s) of ${rankingCap} entries (memory.rankingEntries) are reserved ${reserved} bytes (${RANKING_ENTRY_BYTES} an entry): more than half; raise maxBytes or lower rankingEntries`,
    );
  }
  return { maxKeys, maxBytes: share - reserved, rankingCap };
}
