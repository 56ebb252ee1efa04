// What the event log's tests share: a world over the demo schema with the append entity `videoEvent`, and
// the rows of `video_event` read straight from PostgreSQL.
import assert from 'node:assert/strict';
import {
  createWorld,
  type EventTestEntities,
  eventEntities,
  type TestDatabase,
  type World,
  type WorldOptions,
} from '@write-behind/testkit';

export type EventWorld = World<EventTestEntities>;

export function createEventWorld(options: WorldOptions<EventTestEntities> = {}): Promise<EventWorld> {
  return createWorld(eventEntities, options);
}

export interface EventRow {
  seq: number;
  type: string;
  context: unknown;
}

/**
 * A video's event rows, in sequence order. Sequence numbers come from the shard's clock (microseconds since
 * the epoch, about 1.8e15): too large for `::int`, below 2^53, so read as text and checked on conversion.
 */
export async function eventRows(db: TestDatabase, videoId: string): Promise<EventRow[]> {
  const { rows } = await db.pool.query(
    'SELECT seq::text AS seq, type, context FROM video_event WHERE video_id = $1 ORDER BY video_event.seq',
    [videoId],
  );
  return rows.map((row: { seq: string; type: string; context: unknown }) => ({
    seq: safeNumber(row.seq),
    type: row.type,
    context: row.context,
  }));
}

/** A BIGINT read as text, as a number: it must be exact. */
function safeNumber(text: string): number {
  const number = Number(text);
  assert.ok(Number.isSafeInteger(number), `${text} is not an integer below 2^53`);
  return number;
}

/** How many rows `video_event` holds, all videos together. */
export async function eventCount(db: TestDatabase): Promise<number> {
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM video_event');
  return rows[0].n;
}

/** `n` events of a video: type `t<i>` and context `{ i }`, i from `from`. */
export function events(n: number, from = 1): { type: string; context: { i: number }; createdAt: Date }[] {
  return Array.from({ length: n }, (_, k) => ({
    type: `t${from + k}`,
    context: { i: from + k },
    createdAt: new Date(1_700_000_000_000 + from + k),
  }));
}

/**
 * The rows `events(n, from)` become once inserted as sequence numbers `firstSeq` .. `firstSeq + n - 1`: the
 * first number is the one `append` returned for the first of them (a fresh key's numbering starts from the
 * shard's clock, not from 1).
 */
export function expectedRows(n: number, firstSeq: number, from = 1): EventRow[] {
  return events(n, from).map((e, k) => ({ seq: firstSeq + k, type: e.type, context: e.context }));
}

/**
 * Asserts that `numbers` (what `append` returned for one key's events, in the order Redis acknowledged them)
 * are consecutive, and returns the first: a key's numbers rise by 1 per event while Redis holds it.
 */
export function assertConsecutive(numbers: readonly number[], message = 'consecutive numbers'): number {
  const first = numbers[0];
  assert.ok(first !== undefined && Number.isSafeInteger(first) && first > 0, `${message}: first is ${first}`);
  assert.deepEqual(
    numbers,
    numbers.map((_, i) => first + i),
    message,
  );
  return first;
}
