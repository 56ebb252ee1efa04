// What the event log's tests share: a world over the demo schema with the append entity `videoEvent`, and
// the rows of `video_event` read straight from PostgreSQL.
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

/** A video's event rows, in sequence order. */
export async function eventRows(db: TestDatabase, videoId: string): Promise<EventRow[]> {
  const { rows } = await db.pool.query(
    'SELECT seq::int AS seq, type, context FROM video_event WHERE video_id = $1 ORDER BY seq',
    [videoId],
  );
  return rows;
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

/** The rows `events(n, from)` become once inserted as sequence numbers `from` .. `from + n - 1`. */
export function expectedRows(n: number, from = 1): EventRow[] {
  return events(n, from).map((e) => ({ seq: e.context.i, type: e.type, context: e.context }));
}
