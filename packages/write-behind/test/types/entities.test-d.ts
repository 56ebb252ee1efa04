// Type tests of the public entity typing: checked by `npm run typecheck` (tsc), never run. A line marked
// `@ts-expect-error` must not compile; an `expect<Equal<...>>()` must.
import {
  boolean,
  counter,
  createWriteBehind,
  dateTime,
  decimal,
  type EntityInput,
  type EntityValues,
  enumeration,
  type IdOf,
  integer,
  json,
  number,
  string,
  type WriteBehind,
} from '@write-behind/core';
import { type Equal, expect } from './assert-type.ts';

const entities = {
  video: { model: 'Video', fields: { likes: counter(), views: counter() } },
  player: {
    model: 'Player',
    key: { id: 'int' },
    fields: {
      score: counter(),
      name: string({ maxLength: 20 }),
      level: integer({ nullable: true }),
      ratio: number(),
      balance: decimal({ default: '0' }),
      active: boolean({ default: true }),
      lastSeen: dateTime({ nullable: true }),
      prefs: json<{ theme: string }>({ nullable: true }),
      tier: enumeration(['FREE', 'PRO'], { default: 'FREE' }),
    },
  },
  account: { model: 'Account', key: { id: 'bigint' }, fields: { credits: counter() } },
  device: { model: 'Device', key: { id: 'uuid' }, fields: { pings: counter() } },
  membership: {
    model: 'Membership',
    key: { orgId: 'uuid', userId: 'int' },
    fields: { visits: counter(), role: string() },
  },
} as const;
type E = typeof entities;

// Ids: a string for a String key, the key kind's type for one typed part, an object for a composite key.
expect<Equal<IdOf<E['video']>, string>>();
expect<Equal<IdOf<E['player']>, number>>();
expect<Equal<IdOf<E['account']>, bigint | number>>();
expect<Equal<IdOf<E['device']>, string>>();
expect<Equal<IdOf<E['membership']>, { readonly orgId: string; readonly userId: number }>>();

// Reads: every field, nullable ones with null, decimals as strings, dates as Date, JSON as declared, enums as
// the union of their values.
expect<
  Equal<
    EntityValues<E['player']>,
    {
      score: number;
      name: string;
      level: number | null;
      ratio: number;
      balance: string;
      active: boolean;
      lastSeen: Date | null;
      prefs: { theme: string } | null;
      tier: 'FREE' | 'PRO';
    }
  >
>();
// Writes: any subset; decimals and dates accept more than one form.
type PlayerInput = EntityInput<E['player']>;
expect<Equal<PlayerInput['balance'], string | bigint | number | { toFixed(): string } | undefined>>();
expect<Equal<PlayerInput['lastSeen'], Date | string | null | undefined>>();

declare const cache: WriteBehind<E>;
async function calls(): Promise<void> {
  const likes: number = await cache.increment('video', 'v1', 'likes');
  await cache.increment('player', 42, 'score', 5);
  await cache.increment('account', 2n ** 40n, 'credits');
  await cache.increment('membership', { orgId: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', userId: 7 }, 'visits');
  const player = await cache.set('player', 42, { balance: '12.50', lastSeen: new Date(), tier: 'PRO' });
  const tier: 'FREE' | 'PRO' = player.tier;
  const row = await cache.get('membership', { orgId: 'x', userId: 1 });
  const role: string | undefined = row?.role;
  void [likes, tier, role];

  // @ts-expect-error a number key takes no string id
  await cache.increment('player', '42', 'score');
  // @ts-expect-error a composite id needs every part
  await cache.get('membership', { orgId: 'x' });
  // @ts-expect-error only counters can be incremented
  await cache.increment('player', 42, 'name');
  // @ts-expect-error no such entity
  await cache.get('nope', 'x');
  // @ts-expect-error an enum takes only its values
  await cache.set('player', 1, { tier: 'GOLD' });
  // @ts-expect-error a non-nullable field takes no null
  await cache.set('player', 1, { name: null });
  // @ts-expect-error no such field
  await cache.set('player', 1, { nickname: 'x' });
}
void calls;

// Inline definitions infer the same types through createWriteBehind's const type parameter.
function inline(): void {
  const inlineCache = createWriteBehind({
    redis: 'redis://127.0.0.1:6379',
    store: undefined as never,
    entities: {
      item: {
        model: 'Item',
        key: { id: 'int' },
        fields: { stock: counter(), note: string({ nullable: true }) },
      },
    },
  });
  void inlineCache.get('item', 1).then((item) => {
    expect<Equal<typeof item, { stock: number; note: string | null } | null>>();
  });
  // @ts-expect-error the inline key is an Int
  void inlineCache.get('item', 'one');
}
void inline;
