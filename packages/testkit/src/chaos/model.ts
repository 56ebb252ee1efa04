// What the database and Redis must hold after a chaos run: a model of the ACKNOWLEDGED writes, and the pure
// comparisons of rows and records with it (unit-tested in packages/testkit/test/unit/chaos-model.test.ts).
//
// How it stays exact:
// - An owned key (a video or settings record) is written by one client only, one write at a time, so its
//   acknowledgements arrive in the order Redis applied them: the model holds the value the library answered
//   (the new counter value, the whole record a set returns, absent after a delete), and an `add`, which answers
//   nothing, adds to it.
// - A shared (hot) video takes increments and adds from every client at once: its model is the sum of the
//   acknowledged deltas of each field.
// - An event stream takes appends from every client at once: each acknowledged event must be stored exactly
//   once, under the sequence number `append` answered; a client's own events must be numbered in the order it
//   appended them, and no number may be answered twice. A stream's numbers start from the shard's clock (not
//   from 1) and are consecutive while its key stays in Redis, which in a chaos run it does (no key expires or is
//   evicted, Redis is not faulted): its rows must be numbered without a gap.
// - A write whose outcome is unknown (refused with an error that does not promise nothing was written) makes its
//   key unsure: the key is left out of the comparison, and counted, until a write that defines the whole record
//   (a set or a delete) is acknowledged. In a stream, it allows one row nobody acknowledged.
// - A comment is a child of a video (`comment.video_id` → `Video.id`, ON DELETE RESTRICT) and owned like the
//   video it is on (a shared video's comments: one per client). The model only records what was acknowledged;
//   keeping the foreign key satisfiable is the load's part (see load.ts): a comment is written only on a video
//   the model holds, or right after the video's first write, and a video is deleted only right after the deletes
//   of every comment of it that may exist. The database then refuses nothing: a refused row, or a job failed but
//   for stalling, is a failure of the flush.

export type VideoRecord = { likes: number; views: number };
export type SettingsRecord = { theme: string; language: string; notifications: boolean };
/** A comment as the library answers it (the `comment` entity's fields). */
export type CommentRecord = { videoId: string; author: string; body: string; createdAt: Date };
export type StateEntity = 'video' | 'settings' | 'comment';
export type StateRecord = VideoRecord | SettingsRecord | CommentRecord;
export type CounterField = keyof VideoRecord;

/** An event as appended (the `videoEvent` entity's fields). */
export interface ChaosEvent {
  type: string;
  context: { client: number; n: number } | null;
  createdAt: Date;
}

/** An event row as read from PostgreSQL. */
export interface EventRow {
  stream: string;
  seq: number;
  type: string;
  context: unknown;
  createdAtMs: number;
}

export interface Mismatch {
  /** `acknowledgement`: an answer of the library that contradicts an earlier one (a sequence number). */
  where: 'postgres' | 'redis' | 'acknowledgement';
  entity: string;
  id: string;
  expected: unknown;
  actual: unknown;
}

/** The keys of a run: who owns which is decided by the load, not the model. */
export interface ChaosKeys {
  videos: readonly string[];
  settings: readonly string[];
  hot: readonly string[];
  streams: readonly string[];
  /** By video (owned or shared), the comment keys on it; omitted: a run without comments. */
  comments?: ReadonlyMap<string, readonly string[]>;
}

const NO_VIDEO: VideoRecord = { likes: 0, views: 0 };

export class ChaosModel {
  readonly keys: ChaosKeys;
  /**
   * By `<entity> <id>`: the record the library last answered for an owned key, with the adds since; for a
   * shared video, the sums of its acknowledged deltas. `null` or none: absent.
   */
  readonly #records = new Map<string, StateRecord | null>();
  /** Each comment key's video. */
  readonly #videoOfComment = new Map<string, string>();
  /** Per stream, each acknowledged event by its sequence number. */
  readonly #events = new Map<string, Map<number, ChaosEvent>>();
  /** Per client and stream, the last sequence number it was answered. */
  readonly #lastSeq = new Map<string, number>();
  /** `<entity> <id>` of the keys whose last write's outcome is unknown. */
  readonly #unsure = new Set<string>();
  /** Per stream, appends whose outcome is unknown. */
  readonly #unsureEvents = new Map<string, number>();
  readonly #contradictions: Mismatch[] = [];

  constructor(keys: ChaosKeys) {
    this.keys = keys;
    for (const [videoId, comments] of keys.comments ?? [])
      for (const id of comments) this.#videoOfComment.set(id, videoId);
  }

  /** The video a comment key is on. */
  videoOf(commentId: string): string {
    const videoId = this.#videoOfComment.get(commentId);
    if (videoId === undefined) throw new Error(`${commentId} is no comment key of the run`);
    return videoId;
  }

  /** The comment keys on a video (none in a run without comments). */
  commentsOf(videoId: string): readonly string[] {
    return this.keys.comments?.get(videoId) ?? [];
  }

  /** Every comment key of the run. */
  get commentIds(): string[] {
    return [...this.#videoOfComment.keys()];
  }

  /** An owned key's whole record as the library answered it (a set; `null` after a delete). */
  record(entity: 'video', id: string, record: VideoRecord | null): void;
  record(entity: 'settings', id: string, record: SettingsRecord | null): void;
  record(entity: 'comment', id: string, record: CommentRecord | null): void;
  record(entity: StateEntity, id: string, record: StateRecord | null): void;
  record(entity: StateEntity, id: string, record: StateRecord | null): void {
    this.#records.set(`${entity} ${id}`, record);
    this.#unsure.delete(`${entity} ${id}`);
  }

  /** An owned video's counter, as `increment` answered it. */
  videoCounter(id: string, field: CounterField, value: number): void {
    this.#records.set(`video ${id}`, { ...this.#video(id), [field]: value });
  }

  /**
   * `by` added to a video's counter: an acknowledged `add` (which answers nothing), or an increment of a shared
   * video (whose answer includes other clients' increments).
   */
  added(id: string, field: CounterField, by: number): void {
    const record = this.#video(id);
    this.#records.set(`video ${id}`, { ...record, [field]: record[field] + by });
  }

  /** An acknowledged append: `seq` is what `append` answered to `client`. */
  appended(client: number, stream: string, seq: number, event: ChaosEvent): void {
    const events = this.#events.get(stream) ?? new Map<number, ChaosEvent>();
    this.#events.set(stream, events);
    const id = `${stream} #${seq}`;
    const earlier = events.get(seq);
    if (earlier)
      this.#contradict({ entity: 'videoEvent', id, expected: 'a number answered once', actual: event });
    const last = this.#lastSeq.get(`${client} ${stream}`);
    if (last !== undefined && seq <= last)
      this.#contradict({
        entity: 'videoEvent',
        id,
        expected: `above ${last} (client ${client})`,
        actual: seq,
      });
    this.#lastSeq.set(`${client} ${stream}`, seq);
    if (!earlier) events.set(seq, event);
  }

  /** A write to `entity` `id` failed without the promise that nothing was written. */
  unsure(entity: StateEntity | 'videoEvent', id: string): void {
    if (entity === 'videoEvent') this.#unsureEvents.set(id, (this.#unsureEvents.get(id) ?? 0) + 1);
    else this.#unsure.add(`${entity} ${id}`);
  }

  /** Keys left out of the comparison, and appends that may or may not have been stored. */
  get unsureCount(): { keys: number; events: number } {
    return { keys: this.#unsure.size, events: [...this.#unsureEvents.values()].reduce((a, b) => a + b, 0) };
  }

  /** Answers that contradict earlier ones (a sequence number twice, or out of a client's order). */
  get contradictions(): readonly Mismatch[] {
    return this.#contradictions;
  }

  /** Acknowledged events in all streams. */
  get eventCount(): number {
    return [...this.#events.values()].reduce((n, events) => n + events.size, 0);
  }

  /** What `entity` `id` must hold (`null`: no record), or `undefined` when its outcome is unknown. */
  expected(entity: 'video', id: string): VideoRecord | null | undefined;
  expected(entity: 'settings', id: string): SettingsRecord | null | undefined;
  expected(entity: 'comment', id: string): CommentRecord | null | undefined;
  expected(entity: StateEntity, id: string): StateRecord | null | undefined;
  expected(entity: StateEntity, id: string): StateRecord | null | undefined {
    if (this.#unsure.has(`${entity} ${id}`)) return undefined;
    return this.#records.get(`${entity} ${id}`) ?? null;
  }

  /** Every video, settings and comment key of the run that is not unsure, with what it must hold. */
  *checkedKeys(): Generator<[StateEntity, string, StateRecord | null]> {
    for (const entity of ['video', 'settings', 'comment'] as const) {
      for (const id of this.#idsOf(entity)) {
        const want = this.expected(entity, id);
        if (want !== undefined) yield [entity, id, want];
      }
    }
  }

  /**
   * `rows` (one entity's rows in PostgreSQL, by id) against the model: every key of the run that is not
   * unsure, and any row of a key the run does not have.
   */
  checkRows(entity: StateEntity, rows: ReadonlyMap<string, unknown>): Mismatch[] {
    const mismatches: Mismatch[] = [];
    const ids = this.#idsOf(entity);
    for (const id of ids) {
      const want = this.expected(entity, id);
      const row = rows.get(id) ?? null;
      if (want !== undefined && !sameValue(row, want))
        mismatches.push({ where: 'postgres', entity, id, expected: want, actual: row });
    }
    const known = new Set(ids);
    for (const [id, row] of rows)
      if (!known.has(id)) mismatches.push({ where: 'postgres', entity, id, expected: null, actual: row });
    return mismatches;
  }

  /**
   * The event rows in PostgreSQL against the model: each acknowledged event stored once, under the number it
   * was answered, with its fields; a stream's rows numbered without a gap; no other row but for appends whose
   * outcome is unknown.
   */
  checkEvents(rows: readonly EventRow[]): Mismatch[] {
    const mismatches: Mismatch[] = [];
    const miss = (id: string, expected: unknown, actual: unknown) =>
      mismatches.push({ where: 'postgres', entity: 'videoEvent', id, expected, actual });
    const byStream = new Map<string, EventRow[]>();
    for (const row of rows) byStream.set(row.stream, [...(byStream.get(row.stream) ?? []), row]);
    const known = new Set(this.keys.streams);
    const strays = [...byStream]
      .filter(([stream]) => !known.has(stream))
      .flatMap(([, streamRows]) => streamRows);
    for (const stream of this.keys.streams) {
      const acknowledged = this.#events.get(stream) ?? new Map<number, ChaosEvent>();
      const stored = new Map((byStream.get(stream) ?? []).map((row) => [row.seq, row]));
      for (const [seq, event] of acknowledged) {
        const row = stored.get(seq);
        if (!row || !sameEvent(row, event)) miss(`${stream} #${seq}`, event, row ?? null);
      }
      const unacknowledged = [...stored.values()].filter((row) => !acknowledged.has(row.seq));
      strays.push(...unacknowledged.slice(this.#unsureEvents.get(stream) ?? 0));
      const numbers = [...stored.keys()].sort((a, b) => a - b);
      const gap = numbers.findIndex((seq, i) => i > 0 && seq !== (numbers[i - 1] as number) + 1);
      if (gap > 0) miss(stream, `#${(numbers[gap - 1] as number) + 1}`, `#${numbers[gap]}`);
    }
    for (const row of strays) miss(`${row.stream} #${row.seq}`, null, row);
    return mismatches;
  }

  #idsOf(entity: StateEntity): readonly string[] {
    if (entity === 'video') return [...this.keys.videos, ...this.keys.hot];
    return entity === 'settings' ? this.keys.settings : this.commentIds;
  }

  #video(id: string): VideoRecord {
    return (this.#records.get(`video ${id}`) as VideoRecord | null | undefined) ?? NO_VIDEO;
  }

  #contradict(mismatch: Omit<Mismatch, 'where'>): void {
    this.#contradictions.push({ where: 'acknowledgement', ...mismatch });
  }
}

/** Whether a stored row holds `event` (`context` compared whatever the order of its keys, as jsonb keeps them). */
export function sameEvent(row: EventRow, event: ChaosEvent): boolean {
  return (
    row.type === event.type &&
    row.createdAtMs === event.createdAt.getTime() &&
    sameValue(row.context, event.context)
  );
}

/**
 * Deep equality of plain data, whatever the order of object keys; `undefined` counts as `null`, and dates are
 * equal when they are the same instant (a `Date` has no keys of its own: compared as objects, any two would be).
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === null || b === null || a === undefined || b === undefined) return (a ?? null) === (b ?? null);
  if (typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (a instanceof Date || b instanceof Date)
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  if (ka.join() !== kb.join()) return false;
  return ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
