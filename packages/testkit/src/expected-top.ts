import type { RankedEntry } from '@write-behind/core';
import { compareEntries } from '@write-behind/core/internal';

/** What `top` must answer for records with these values: value descending, ties by id descending (bytes). */
export function expectedTop(values: ReadonlyMap<string, number>, n: number): RankedEntry<string>[] {
  const sorted = [...values].map(([id, value]) => ({ id, value })).sort(compareEntries);
  return sorted.slice(0, n).map((e) => ({ ...e, rank: 1 + sorted.filter((o) => o.value > e.value).length }));
}
