import { unpack } from 'msgpackr';
// Activity counters for charts (one command per shard per second, not per batch).
import { activityOf } from '../activity.js';
import type { Context } from '../context.js';
import { UnavailableError } from '../errors.js';
import { dataKey, type ShardKeys } from '../keys.js';
import { Rankings } from '../ranking/ranking.js';
import type { ResolvedEntity } from '../schema/resolve.js';
import { pairsToMap } from '../scripts.js';
import type { AppendRow, DeleteRow, DeltaRow, Store, UpsertRow } from '../store/store.js';
import { type Deferred, deferred, getOrCreate } from '../util.js';
import { type PlannedEvent, type PlannedRun, runStatements, type SnapshotRun } from './append-plan.js';
import { refusedEventJob } from './job.js';
import {
  type EntityPlan,
  planFlush,
  type RowFailure,
  type SnapshotItem,
  writeIsolatingFailures,
  writeRunsIsolatingFailures,
} from './plan.js';
import { type Judgement, type RefusedRow, RelatedRows } from './related-rows.js';
import { withoutKeys } from './relation-plan.js';

/**
 * What a flush did for one key. `dirty`: written again meanwhile, or waiting for a related key's pending
 * flush (a parent not yet in the database, a child's delete), needs another flush after the window.
 * `behind`: an append key with more events waiting than its flush took (its share of
 * `flush.maxEventsPerBatch`), to be flushed again at once.
 */
export type FlushOutcome = 'clean' | 'flushed' | 'dirty' | 'behind';

/**
 * The row the database refused; the job of that key fails with it. Its message is the database's own, once
 * (the driver's wrapping and stack stay on `cause`, for debugging), so a failed job and its log line stay short.
 */
export class RowRejectedError extends Error {
  /** The database's error code (PostgreSQL's SQLSTATE), when it gave one. */
  readonly dbCode: string | undefined;

  constructor(entity: string, id: string, reason: { code?: string; message: string }, cause: unknown) {
    super(
      `the database refused ${entity} ${JSON.stringify(id)}: ${reason.message}${reason.code ? ` (${reason.code})` : ''}`,
      { cause },
    );
    this.name = 'RowRejectedError';
    this.dbCode = reason.code;
  }
}

export interface FlushCounters {
  batches: number;
  statements: number;
  rowsWritten: number;
  keysFlushed: number;
  rowsRejected: number;
  outages: number;
  /** Rows of append entities sent to the database (a replayed flush's rows, skipped there, included). */
  eventsInserted: number;
  /**
   * Keys a flush left for a later one because a related key's flush is pending: a parent not yet in the
   * database, or a child whose delete must go first (see the package README, "Relations").
   */
  rowsDeferred: number;
}

/** A worker's counters before it has flushed anything: where each worker starts, and what tests compare with. */
export const ZERO_FLUSH_COUNTERS: Readonly<FlushCounters> = Object.freeze({
  batches: 0,
  statements: 0,
  rowsWritten: 0,
  keysFlushed: 0,
  rowsRejected: 0,
  outages: 0,
  eventsInserted: 0,
  rowsDeferred: 0,
});

interface Pending {
  entity: string;
  id: string;
  key: string;
  done: Deferred<FlushOutcome>;
}

/**
 * Gathers the keys of concurrently running flush jobs into batches: one snapshot script, one statement per
 * entity and kind (upsert, delete), one acknowledgement script per batch, instead of a round trip per key.
 */
export class FlushBatcher {
  readonly #context: Context;
  readonly #shard: ShardKeys;
  readonly counters: FlushCounters;
  #pending: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  #running = new Set<Promise<void>>();
  readonly #beforeSettle: () => void;
  readonly #related: RelatedRows;
  readonly #rankings: Rankings;

  /** `beforeSettle` runs just before a batch's jobs are told their outcome (see `coalesceWrites`). */
  constructor(context: Context, shard: ShardKeys, counters: FlushCounters, beforeSettle: () => void) {
    this.#context = context;
    this.#shard = shard;
    this.counters = counters;
    this.#beforeSettle = beforeSettle;
    this.#related = new RelatedRows(context);
    this.#rankings = new Rankings(context);
  }

  submit(entity: string, id: string): Promise<FlushOutcome> {
    const done = deferred<FlushOutcome>();
    this.#pending.push({ entity, id, key: dataKey(this.#shard, entity, id), done });
    const { batchSize, batchLingerMs } = this.#context.options.flush;
    if (this.#pending.length >= batchSize) this.#dispatch();
    else this.#timer ??= setTimeout(() => this.#dispatch(), batchLingerMs);
    return done.promise;
  }

  /** Writes what is pending now and waits for every batch in progress. */
  async flushPending(): Promise<void> {
    this.#dispatch();
    await Promise.allSettled([...this.#running]);
  }

  #dispatch(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const { maxEventsPerBatch, maxBatchBytes } = this.#context.options.flush;
    // Two jobs for one key in a batch (a stalled job's rerun, a sweep) share one snapshot and one outcome.
    const byKey = new Map<string, Pending[]>();
    for (const p of batch) {
      const sameKey = byKey.get(p.key);
      if (sameKey) sameKey.push(p);
      else byKey.set(p.key, [p]);
    }
    const isAppend = (key: string) => this.#isAppend(byKey.get(key) as Pending[]);
    const appendKeys = [...byKey.keys()].filter(isAppend).length;
    // The batch's append keys share `maxEventsPerBatch` events and `maxBatchBytes` bytes (at least one event
    // each: see lua/snapshot.lua), which bound the snapshot script's run and reply; the other keys are read
    // whole.
    const shares = {
      events: Math.max(1, Math.floor(maxEventsPerBatch / Math.max(1, appendKeys))),
      bytes: Math.max(1, Math.floor(maxBatchBytes / Math.max(1, appendKeys))),
    };
    // Append keys go in groups of at most APPEND_KEYS_PER_GROUP, all at once, each its own snapshot, inserts
    // and acknowledgement: while one group's inserts keep the database busy, the next one's snapshot and
    // decoding keep Redis and this process busy, where one group would leave each idle in turn.
    for (const keys of splitGroups(byKey, isAppend, APPEND_KEYS_PER_GROUP)) {
      const flush = this.#flushGroup(keys, shares).catch((error: unknown) => {
        for (const pendings of keys.values()) for (const p of pendings) p.done.reject(error);
      });
      this.#running.add(flush);
      void flush.finally(() => this.#running.delete(flush));
    }
  }

  /**
   * Flushes a group of a batch's keys (see `#dispatch`), each with the jobs that asked for it; `shares`: the most
   * events, and bytes of events, each append key takes.
   */
  async #flushGroup(byKey: Map<string, Pending[]>, shares: { events: number; bytes: number }): Promise<void> {
    const { redis, options, store } = this.#context;
    const keys = [...byKey.keys()];
    const take = shares.events;
    const takes = keys.map((key) => (this.#isAppend(byKey.get(key) as Pending[]) ? take : 0));
    const snapshots = await redis.wbSnapshotBuffer(
      keys.length,
      ...keys,
      ...takes,
      shares.bytes,
      options.flush.batchSize,
      STATEMENT_BYTES,
    );
    const items: SnapshotItem[] = keys.map((key, i) => {
      const first = (byKey.get(key) as Pending[])[0] as Pending;
      // One part (its hash, or an append key's head) and, for an append key, a part per run of its events;
      // none for a key clean or gone (see lua/snapshot.lua).
      const [head, ...runs] = snapshots[i] ?? [];
      return {
        key,
        entity: first.entity,
        id: first.id,
        hash: head ? pairsToMap(unpack(head) as string[]) : new Map(),
        runs: runs.map((part) => unpack(part) as SnapshotRun),
      };
    });
    this.counters.batches++;
    // Their jobs ran, so they are acknowledged as they stand (see lua/ack.lua): a key in the dirty index with
    // nothing dirty leaves it, rather than wait there for a flush that finds nothing.
    const foundClean = items.filter((item) => item.hash.size === 0).map((item) => item.key);

    const failed = new Map<string, unknown>();
    const written: { key: string; version: number }[] = [];
    /** Append keys whose flush took as many events as it may: more may be waiting. */
    const full = new Set<string>();
    /** Events the database refused: set aside for an operator, so the events behind them still flow. */
    const refused: RefusedEvent[] = [];
    let eventsAppended = 0;
    let plans = planFlush(items, this.#context.entities);
    // Child rows whose parent has a flush pending in the cache wait for it: not written, not acknowledged.
    const waiting = await this.#related.waitingForParents(plans);
    if (waiting.size > 0) {
      plans = new Map([...plans].map(([name, plan]) => [name, withoutKeys(plan, waiting)]));
    }
    // Parents' rows before their children's, children's deletes before their parents' (see relation-plan.ts).
    const ordered = [...plans]
      .map(([name, plan]) => ({ entity: this.#context.entities.get(name), plan }))
      .filter((p): p is { entity: ResolvedEntity; plan: EntityPlan } => p.entity !== undefined)
      .sort((a, b) => a.entity.flushOrder - b.entity.flushOrder);
    const isUnavailable = (e: unknown) => store.isUnavailable(e);
    const count =
      <R>(write: (rows: readonly R[]) => Promise<void>) =>
      async (rows: readonly R[]) => {
        this.counters.statements++;
        await write(rows);
      };
    const refusals: RefusedRow[] = [];
    const refusedEvents: { row: RefusedRow; event: RefusedEvent }[] = [];
    const reasonOf = (error: unknown) => store.describeError?.(error) ?? { message: errorMessage(error) };
    try {
      for (const { entity, plan } of ordered) {
        const refuse =
          <R extends { id: string; sqlTexts?: readonly (string | null)[] }>(
            write: (rows: readonly R[]) => Promise<void>,
          ) =>
          (f: RowFailure<R>) =>
            refusals.push({
              entity,
              key: plan.keys.get(f.row.id) as string,
              id: f.row.id,
              kind: 'write',
              ...(f.row.sqlTexts ? { fields: f.row.sqlTexts } : {}),
              reason: reasonOf(f.error),
              error: f.error,
              retry: () => write([f.row]),
            });
        const upsert = count<UpsertRow>((rows) => store.upsert(entity, rows));
        (await writeIsolatingFailures(plan.upserts, upsert, isUnavailable)).forEach(refuse(upsert));
        const add = count<DeltaRow>((rows) => addTo(store, entity, rows));
        (await writeIsolatingFailures(plan.deltas, add, isUnavailable)).forEach(refuse(add));
        // Events of many keys, in statements of at most `batchSize` rows and about STATEMENT_BYTES, a few at once.
        const insert = count<PlannedEvent>((some) => appendTo(store, entity, some));
        const insertRuns = count<PlannedRun>((runs) => appendRunsTo(store, entity, runs));
        const statements = runStatements(plan.appends, options.flush.batchSize, STATEMENT_BYTES);
        const lanes = Array.from({ length: Math.min(INSERTS_IN_FLIGHT, statements.length) }, async () => {
          for (let runs = statements.shift(); runs; runs = statements.shift()) {
            const failures = await writeRunsIsolatingFailures(runs, insertRuns, insert, isUnavailable);
            for (const f of failures) {
              const reason = reasonOf(f.error);
              refusedEvents.push({
                row: {
                  entity,
                  key: plan.keys.get(f.row.id) as string,
                  id: f.row.id,
                  kind: 'write',
                  ...(f.row.sqlTexts ? { fields: f.row.sqlTexts } : {}),
                  reason,
                  error: f.error,
                  retry: () => insert([f.row]),
                },
                event: {
                  entity: entity.name,
                  id: f.row.id,
                  sequence: f.row.sequence,
                  event: f.row.event,
                  reason,
                },
              });
            }
          }
        });
        await Promise.all(lanes);
      }
      for (const { entity, plan } of [...ordered].reverse()) {
        const remove = count<DeleteRow>((rows) => store.delete(entity, rows));
        for (const f of await writeIsolatingFailures(plan.deletes, remove, isUnavailable)) {
          refusals.push({
            entity,
            key: plan.keys.get(f.row.id) as string,
            id: f.row.id,
            kind: 'delete',
            reason: reasonOf(f.error),
            error: f.error,
            retry: () => remove([f.row]),
          });
        }
      }
    } catch (error) {
      throw this.#outage(error);
    }
    // Refused on a foreign key while a related key's flush is pending: those wait, spending no attempt.
    let judged: Judgement;
    try {
      judged = await this.#related.judge([...refusals, ...refusedEvents.map((e) => e.row)]);
    } catch (error) {
      if (isUnavailable(error)) throw this.#outage(error);
      throw error;
    }
    for (const key of judged.waiting) waiting.add(key);
    for (const refusal of refusals) {
      if (waiting.has(refusal.key) || judged.written.has(refusal.key)) continue;
      failed.set(
        refusal.key,
        new RowRejectedError(refusal.entity.name, refusal.id, refusal.reason, refusal.error),
      );
    }
    for (const { row, event } of refusedEvents) {
      if (!waiting.has(row.key) && !judged.written.has(row.key))
        refused.push({ ...event, reason: row.reason });
    }
    for (const { plan } of ordered) {
      for (const row of [...plan.upserts, ...plan.deltas, ...plan.deletes, ...plan.appendedKeys]) {
        const key = plan.keys.get(row.id) as string;
        if (!failed.has(key) && !waiting.has(key)) written.push({ key, version: row.version });
      }
      for (const appended of plan.appendedKeys) {
        if (appended.more || appended.events >= take) full.add(plan.keys.get(appended.id) as string);
      }
      const events = plan.appends.reduce((sum, run) => sum + run.count, 0);
      this.counters.eventsInserted += events;
      eventsAppended += events;
    }
    this.counters.rowsDeferred += waiting.size;
    this.counters.rowsRejected += failed.size + refused.length;
    this.counters.rowsWritten += written.length;
    // The same figures, summed over every worker process, for the dashboard's charts.
    const activity = activityOf(this.#context);
    activity.add(this.#shard.shard, 'rowsWritten', written.length);
    activity.add(this.#shard.shard, 'rowsRefused', failed.size + refused.length);
    activity.add(this.#shard.shard, 'eventsInserted', eventsAppended);
    // Before the acknowledgement drops them from their keys: a crash in between sets them aside again.
    if (refused.length > 0) await this.#setAside(refused);
    await this.#placeInRankings(items, written);

    const outcomes = new Map<string, FlushOutcome>();
    if (written.length + foundClean.length > 0) {
      const { memory } = options;
      const flags = await redis.wbAck(
        written.length + foundClean.length + 4,
        this.#shard.dirty,
        this.#shard.failed,
        this.#shard.pendingEvents,
        this.#shard.clean,
        ...written.map((w) => w.key),
        ...foundClean,
        Date.now(),
        options.cacheTtlMs,
        memory.maxKeys > 0 || memory.maxBytes > 0 ? '1' : '0',
        ...written.map((w) => w.version),
        ...foundClean.map(() => 'c'),
      );
      written.forEach((w, i) => {
        outcomes.set(w.key, flags[i] !== '1' ? 'flushed' : full.has(w.key) ? 'behind' : 'dirty');
      });
      this.counters.keysFlushed += written.length;
    }
    this.#beforeSettle();
    for (const [key, jobs] of byKey) {
      const error = failed.get(key);
      // A key waiting for a related key's flush is dirty still: its job runs again after a window.
      const outcome = outcomes.get(key) ?? (waiting.has(key) ? 'dirty' : 'clean');
      for (const p of jobs) {
        if (error) p.done.reject(error);
        else p.done.resolve(outcome);
      }
    }
  }

  /** Whether the jobs of one key are an append entity's (all jobs of a key are one entity's). */
  #isAppend(jobs: readonly Pending[]): boolean {
    return this.#context.entities.get(jobs[0]?.entity as string)?.append !== undefined;
  }

  /**
   * Keys a capped ranking could not place when their adds came (`_r`: lua/includes/ranking-cap.lua), placed
   * now that their rows are committed; before the acknowledgement, so a worker lost in between leaves them
   * marked for the job's next run.
   */
  async #placeInRankings(items: readonly SnapshotItem[], written: readonly { key: string }[]): Promise<void> {
    const flushed = new Set(written.map((w) => w.key));
    const byEntity = new Map<ResolvedEntity, string[]>();
    for (const item of items) {
      const entity = this.#context.entities.get(item.entity);
      if (!entity || !item.hash.has('_r') || !flushed.has(item.key)) continue;
      getOrCreate(byEntity, entity, () => []).push(item.id);
    }
    try {
      for (const [entity, ids] of byEntity) await this.#rankings.scoreFlushed(entity, this.#shard, ids);
    } catch (error) {
      if (error instanceof UnavailableError) throw this.#outage(error.cause ?? error);
      throw error;
    }
  }

  /** Counts an outage of the database: the error that makes the batch's jobs pause for it. */
  #outage(error: unknown): UnavailableError {
    this.counters.outages++;
    activityOf(this.#context).add(this.#shard.shard, 'outages');
    return new UnavailableError('the database is unreachable', { cause: error });
  }

  /**
   * Keeps refused events for an operator: each in the shard's refused-event hash, and a job of its own on the
   * shard's queue that tries the insert again when retried from Bull Board (see `FlushWorker`). Its job id is
   * its key and number, so setting the same event aside twice (a replayed flush) adds nothing.
   */
  async #setAside(refused: readonly RefusedEvent[]): Promise<void> {
    const { redis, logger } = this.#context;
    const jobs = refused.map((r) => refusedEventJob(r.entity, r.id, r.sequence));
    const at = Date.now();
    await redis.hset(
      this.#shard.refused,
      ...refused.flatMap((r, i) => [jobs[i]?.opts.jobId as string, JSON.stringify({ ...r, at })]),
    );
    await this.#context.queue(this.#shard.shard).addBulk(jobs);
    for (const r of refused) {
      logger.warn(
        { entity: r.entity, id: r.id, sequence: r.sequence, reason: r.reason.message, dbCode: r.reason.code },
        'the database refused an event; it is set aside as a failed job, and the events after it go on',
      );
    }
  }
}

/** An event of an append entity that the database refused, as set aside (see `FlushBatcher.#setAside`). */
export interface RefusedEvent {
  entity: string;
  id: string;
  sequence: number;
  /** Its Redis form (see `schema/event-codec.ts`). */
  event: string;
  reason: { code?: string; message: string };
}

function errorMessage(error: unknown): string {
  return String((error as Error)?.message ?? error);
}

/**
 * Bytes of events in one insert statement, past its first row: about a thousand ordinary events, a few
 * dozen large ones. Bounds the statement's text and what a refused statement's bisection sends again.
 */
const STATEMENT_BYTES = 1 << 20;

/** The store's add of sums; a store without one was refused by `cache.add`. */
function addTo(store: Store, entity: ResolvedEntity, rows: readonly DeltaRow[]): Promise<void> {
  if (!store.add) throw new Error(`the store cannot add to the counters of ${entity.name}`);
  return store.add(entity, rows);
}

/** The store's insert of runs of events, or of their rows when it takes no runs. */
function appendRunsTo(store: Store, entity: ResolvedEntity, runs: readonly PlannedRun[]): Promise<void> {
  if (store.appendRuns) return store.appendRuns(entity, runs);
  return appendTo(
    store,
    entity,
    runs.flatMap((run) => run.rows),
  );
}

/** The store's insert of append rows; a store without one was refused when the cache was created. */
function appendTo(store: Store, entity: ResolvedEntity, rows: readonly AppendRow[]): Promise<void> {
  if (!store.append) throw new Error(`the store cannot insert the events of ${entity.name}`);
  return store.append(entity, rows);
}

/**
 * A batch's keys as groups flushed at once (see `FlushBatcher.#dispatch`): the append keys in groups of at
 * most `perGroup`; every other key in the first group, so that related rows (a parent and its child, a delete
 * and the rows pointing at it) stay in one group, whose statements the flush orders. Pure.
 */
export function splitGroups<V>(
  byKey: ReadonlyMap<string, V>,
  isAppend: (key: string) => boolean,
  perGroup: number,
): Map<string, V>[] {
  const groups: Map<string, V>[] = [new Map()];
  let appendsInGroup = 0;
  for (const [key, value] of byKey) {
    if (!isAppend(key)) continue;
    if (appendsInGroup === perGroup) {
      groups.push(new Map());
      appendsInGroup = 0;
    }
    appendsInGroup++;
    (groups.at(-1) as Map<string, V>).set(key, value);
  }
  const first = groups[0] as Map<string, V>;
  for (const [key, value] of byKey) if (!isAppend(key)) first.set(key, value);
  return groups;
}

/**
 * Append keys of a batch flushed together (see `FlushBatcher.#dispatch`): a batch of the default 500 keys
 * goes as four groups. (Not the runs of one key's events that a snapshot returns: see `PlannedRun`.)
 */
const APPEND_KEYS_PER_GROUP = 125;

/**
 * Insert statements of one group's events in flight at once. Their rows are already in memory, and one
 * statement at a time would leave the database idle while each round trip and the next statement's
 * encoding run.
 */
const INSERTS_IN_FLIGHT = 4;
