import { unpack } from 'msgpackr';
// Activity counters for charts (one command per shard per second, not per batch).
import { activityOf } from '../activity.js';
import type { Context } from '../context.js';
import { UnavailableError } from '../errors.js';
import { dataKey, type ShardKeys } from '../keys.js';
import type { ResolvedEntity } from '../schema/resolve.js';
import { pairsToMap } from '../scripts.js';
import type { AppendRow, DeltaRow, Store } from '../store/store.js';
import { type Deferred, deferred } from '../util.js';
import { chunks } from './append-plan.js';
import { refusedEventJob } from './job.js';
import { planFlush, type RowFailure, writeIsolatingFailures } from './plan.js';

/**
 * What a flush did for one key. `dirty`: written again meanwhile, needs another flush after the window.
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
}

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

  /** `beforeSettle` runs just before a batch's jobs are told their outcome (see `coalesceWrites`). */
  constructor(context: Context, shard: ShardKeys, counters: FlushCounters, beforeSettle: () => void) {
    this.#context = context;
    this.#shard = shard;
    this.counters = counters;
    this.#beforeSettle = beforeSettle;
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
    const run = this.#run(batch).catch((error: unknown) => {
      for (const p of batch) p.done.reject(error);
    });
    this.#running.add(run);
    void run.finally(() => this.#running.delete(run));
  }

  async #run(batch: Pending[]): Promise<void> {
    const { redis, options, store } = this.#context;
    // Two jobs for one key in a batch (a stalled job's rerun, a sweep) share one snapshot and one outcome.
    const byKey = new Map<string, Pending[]>();
    for (const p of batch) {
      const sameKey = byKey.get(p.key);
      if (sameKey) sameKey.push(p);
      else byKey.set(p.key, [p]);
    }
    const keys = [...byKey.keys()];
    // The batch's append keys share `maxEventsPerBatch` events, which bounds the snapshot script's run and
    // reply; the other keys are read whole.
    const isAppend = keys.map(
      (key) => this.#context.entities.get((byKey.get(key) as Pending[])[0]?.entity as string)?.append,
    );
    const appendKeys = isAppend.filter(Boolean).length;
    const take = Math.max(1, Math.floor(options.flush.maxEventsPerBatch / Math.max(1, appendKeys)));
    const takes = isAppend.map((append) => (append ? take : 0));
    // Each append key's share of the batch's bytes (at least one event each: see lua/snapshot.lua).
    const bytesPerKey = Math.max(1, Math.floor(options.flush.maxBatchBytes / Math.max(1, appendKeys)));
    const snapshots = unpack(await redis.wbSnapshotBuffer(keys.length, ...keys, ...takes, bytesPerKey)) as (
      | string[]
      | Record<string, never>
    )[];
    const items = keys.map((key, i) => {
      const first = (byKey.get(key) as Pending[])[0] as Pending;
      return { key, entity: first.entity, id: first.id, hash: pairsToMap(asList(snapshots[i])) };
    });
    this.counters.batches++;

    const failed = new Map<string, unknown>();
    const written: { key: string; version: number }[] = [];
    /** Append keys whose flush took as many events as it may: more may be waiting. */
    const full = new Set<string>();
    /** Events the database refused: set aside for an operator, so the events behind them still flow. */
    const refused: RefusedEvent[] = [];
    let eventsAppended = 0;
    for (const [entityName, plan] of planFlush(items, this.#context.entities)) {
      const entity = this.#context.entities.get(entityName);
      if (!entity) continue;
      const isUnavailable = (e: unknown) => store.isUnavailable(e);
      const count =
        <R>(write: (rows: readonly R[]) => Promise<void>) =>
        async (rows: readonly R[]) => {
          this.counters.statements++;
          await write(rows);
        };
      let failures: RowFailure<{ id: string; version: number }>[];
      try {
        failures = [
          ...(await writeIsolatingFailures(
            plan.upserts,
            count((rows) => store.upsert(entity, rows)),
            isUnavailable,
          )),
          ...(await writeIsolatingFailures(
            plan.deltas,
            count((rows) => addTo(store, entity, rows)),
            isUnavailable,
          )),
          ...(await writeIsolatingFailures(
            plan.deletes,
            count((rows) => store.delete(entity, rows)),
            isUnavailable,
          )),
        ];
        // Events of many keys, in statements of at most `batchSize` rows and about STATEMENT_BYTES, a few at once.
        const encodedOf = new Map(plan.appends.map((row, i) => [row, plan.encodedEvents[i] as string]));
        const insert = count<AppendRow>((some) => appendTo(store, entity, some));
        const statements = chunks(
          plan.appends,
          options.flush.batchSize,
          (row) => (encodedOf.get(row) as string).length,
          STATEMENT_BYTES,
        );
        const lanes = Array.from({ length: Math.min(INSERTS_IN_FLIGHT, statements.length) }, async () => {
          for (let rows = statements.shift(); rows; rows = statements.shift()) {
            for (const f of await writeIsolatingFailures(rows, insert, isUnavailable)) {
              refused.push({
                entity: entityName,
                id: f.row.id,
                sequence: f.row.sequence,
                event: encodedOf.get(f.row) as string,
                reason: store.describeError?.(f.error) ?? { message: errorMessage(f.error) },
              });
            }
          }
        });
        await Promise.all(lanes);
      } catch (error) {
        this.counters.outages++;
        activityOf(this.#context).add(this.#shard.shard, 'outages');
        throw new UnavailableError('the database is unreachable', { cause: error });
      }
      for (const f of failures) {
        const reason = store.describeError?.(f.error) ?? { message: errorMessage(f.error) };
        failed.set(
          plan.keys.get(f.row.id) as string,
          new RowRejectedError(entityName, f.row.id, reason, f.error),
        );
      }
      for (const row of [...plan.upserts, ...plan.deltas, ...plan.deletes, ...plan.appendedKeys]) {
        const key = plan.keys.get(row.id) as string;
        if (!failed.has(key)) written.push({ key, version: row.version });
      }
      for (const appended of plan.appendedKeys) {
        if (appended.more || appended.events >= take) full.add(plan.keys.get(appended.id) as string);
      }
      this.counters.eventsInserted += plan.appends.length;
      eventsAppended += plan.appends.length;
    }
    this.counters.rowsRejected += failed.size + refused.length;
    this.counters.rowsWritten += written.length;
    // The same figures, summed over every worker process, for the dashboard's charts.
    const activity = activityOf(this.#context);
    activity.add(this.#shard.shard, 'rowsWritten', written.length);
    activity.add(this.#shard.shard, 'rowsRefused', failed.size + refused.length);
    activity.add(this.#shard.shard, 'eventsInserted', eventsAppended);
    // Before the acknowledgement drops them from their keys: a crash in between sets them aside again.
    if (refused.length > 0) await this.#setAside(refused);

    const outcomes = new Map<string, FlushOutcome>();
    if (written.length > 0) {
      const { memory } = options;
      const flags = await redis.wbAck(
        written.length + 4,
        this.#shard.dirty,
        this.#shard.failed,
        this.#shard.pendingEvents,
        this.#shard.clean,
        ...written.map((w) => w.key),
        Date.now(),
        options.cacheTtlMs,
        memory.maxKeys > 0 || memory.maxBytes > 0 ? '1' : '0',
        ...written.map((w) => w.version),
      );
      written.forEach((w, i) => {
        outcomes.set(w.key, flags[i] !== '1' ? 'flushed' : full.has(w.key) ? 'behind' : 'dirty');
      });
      this.counters.keysFlushed += written.length;
    }
    this.#beforeSettle();
    for (const [key, waiting] of byKey) {
      const error = failed.get(key);
      const outcome = outcomes.get(key) ?? 'clean';
      for (const p of waiting) {
        if (error) p.done.reject(error);
        else p.done.resolve(outcome);
      }
    }
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

/** The store's insert of append rows; a store without one was refused when the cache was created. */
function appendTo(store: Store, entity: ResolvedEntity, rows: readonly AppendRow[]): Promise<void> {
  if (!store.append) throw new Error(`the store cannot insert the events of ${entity.name}`);
  return store.append(entity, rows);
}

/**
 * Insert statements of one batch's events in flight at once. Their rows are already in memory, and one
 * statement at a time would leave the database idle while each round trip and the next statement's
 * encoding run.
 */
const INSERTS_IN_FLIGHT = 4;

/** Lua's cmsgpack packs an empty table as an empty map, not an empty array. */
function asList(entry: string[] | Record<string, never> | undefined): string[] {
  return Array.isArray(entry) ? entry : [];
}
