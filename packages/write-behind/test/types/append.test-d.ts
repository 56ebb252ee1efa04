// Type tests of append entities: checked by `npm run typecheck` (tsc), never run. A line marked
// `@ts-expect-error` must not compile; an `expect<Equal<...>>()` must.
import {
  type AppendEntityNames,
  type AppendInput,
  counter,
  createWriteBehind,
  dateTime,
  json,
  type StateEntityNames,
  string,
  type WriteBehind,
} from '@write-behind/core';
import { type Equal, expect } from './assert-type.ts';

const entities = {
  video: { model: 'Video', fields: { likes: counter() } },
  videoEvent: {
    model: 'VideoEvent',
    key: 'videoId',
    append: { sequence: 'seq' },
    fields: { type: string(), context: json<{ x: number }>({ nullable: true }), createdAt: dateTime() },
  },
  reading: {
    model: 'Reading',
    key: { device: 'int' },
    append: { sequence: 'n' },
    fields: { value: string() },
  },
} as const;
type E = typeof entities;

expect<Equal<AppendEntityNames<E>, 'videoEvent' | 'reading'>>();
expect<Equal<StateEntityNames<E>, 'video'>>();
// Required fields are required, nullable ones optional; dates as Date or ISO text.
expect<
  Equal<
    AppendInput<E['videoEvent']>,
    { type: string; createdAt: Date | string } & { context?: { x: number } | null }
  >
>();

declare const cache: WriteBehind<E>;
export async function calls(): Promise<void> {
  const seq: number = await cache.append('videoEvent', 'v1', { type: 'click', createdAt: new Date() });
  await cache.append('videoEvent', 'v1', { type: 'view', context: { x: 1 }, createdAt: '2026-01-01' });
  await cache.append('reading', 7, { value: 'x' });
  await cache.flushed('videoEvent', 'v1');
  // @ts-expect-error a required field is missing
  await cache.append('videoEvent', 'v1', { type: 'click' });
  // @ts-expect-error the context's type is declared
  await cache.append('videoEvent', 'v1', { type: 'click', createdAt: new Date(), context: { x: 'no' } });
  // @ts-expect-error an Int key takes a number
  await cache.append('reading', '7', { value: 'x' });
  // @ts-expect-error a state entity takes no events
  await cache.append('video', 'v1', { likes: 1 });
  // @ts-expect-error an append entity is not read through the cache
  await cache.get('videoEvent', 'v1');
  // @ts-expect-error nor set
  await cache.set('videoEvent', 'v1', { type: 'x' });
  // @ts-expect-error nor deleted
  await cache.delete('videoEvent', 'v1');
  await cache.get('video', 'v1');
  void seq;
}

// Declaring one with createWriteBehind infers the same.
export const inferred = (prisma: never) =>
  createWriteBehind({ redis: 'redis://x', prisma, entities }).append('videoEvent', 'v', {
    type: 't',
    createdAt: new Date(),
  });
