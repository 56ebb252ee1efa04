// Type tests of ranked counters: checked by `npm run typecheck` (tsc), never run. A line marked
// `@ts-expect-error` must not compile; an `expect<Equal<...>>()` must.
import {
  counter,
  createWriteBehind,
  type RankedEntry,
  type RankedFields,
  type RankPosition,
  string,
  type WriteBehind,
} from '@write-behind/core';
import { type Equal, expect } from './assert-type.ts';

const entities = {
  video: { model: 'Video', fields: { likes: counter({ ranked: true }), views: counter(), title: string() } },
  player: { model: 'Player', key: { id: 'int' }, fields: { score: counter({ ranked: true }) } },
  membership: {
    model: 'Membership',
    key: { orgId: 'uuid', userId: 'int' },
    fields: { visits: counter({ ranked: true }), hidden: counter({ ranked: false }) },
  },
} as const;
type E = typeof entities;

// Only counters declared `ranked: true` are ranked fields; a ranked counter is still a counter.
expect<Equal<RankedFields<E['video']>, 'likes'>>();
expect<Equal<RankedFields<E['membership']>, 'visits'>>();

declare const cache: WriteBehind<E>;
async function calls(): Promise<void> {
  const top = await cache.top('video', 'likes', 10);
  expect<Equal<typeof top, RankedEntry<string>[]>>();
  const players = await cache.top('player', 'score', 3);
  expect<Equal<(typeof players)[number]['id'], number>>();
  const members = await cache.top('membership', 'visits', 3);
  expect<Equal<(typeof members)[number]['id'], { readonly orgId: string; readonly userId: number }>>();
  const position = await cache.rank('player', 'score', 42);
  expect<Equal<typeof position, RankPosition | null>>();
  await cache.increment('video', 'v1', 'likes');

  // @ts-expect-error views is a counter, but not ranked
  await cache.top('video', 'views', 10);
  // @ts-expect-error ranked: false is not ranked
  await cache.rank('membership', 'hidden', { orgId: 'x', userId: 1 });
  // @ts-expect-error title is not a counter
  await cache.top('video', 'title', 10);
  // @ts-expect-error an Int key takes no string id
  await cache.rank('player', 'score', '42');
  // @ts-expect-error n is a number
  await cache.top('video', 'likes', '10');
}
void calls;

// Inline definitions keep the ranked marker through createWriteBehind's const type parameter.
function inline(): void {
  const inlineCache = createWriteBehind({
    redis: 'redis://127.0.0.1:6379',
    store: undefined as never,
    entities: { item: { model: 'Item', fields: { stock: counter({ ranked: true }), sold: counter() } } },
  });
  void inlineCache.top('item', 'stock', 5);
  // @ts-expect-error sold is not ranked
  void inlineCache.top('item', 'sold', 5);
}
void inline;
