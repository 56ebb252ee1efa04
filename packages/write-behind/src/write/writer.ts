// Activity counters for charts (one command per shard per second, not per write).
import { type ActivityCounters, activityOf } from '../activity.js';
import { type Context, callRedis, mastersOf, redactError } from '../context.js';
import {
  BacklogFullError,
  ConfigurationError,
  IndeterminateError,
  NotFoundError,
  NotReplicatedError,
  UnavailableError,
  ValidationError,
} from '../errors.js';
import { type FlushJob, flushJob } from '../flush/job.js';
import { KeyLoader } from '../key-loader.js';
import { dataKey, rankingKey, type ShardKeys, shardOf } from '../keys.js';
import type { ShardBudget } from '../memory-share.js';
import type { DurabilityLevel } from '../options.js';
import { encodeField, encodeLoaded } from '../schema/codec.js';
import { makeDefault } from '../schema/defaults.js';
import type { ResolvedEntity, ResolvedField } from '../schema/resolve.js';
import type { TurnBatcher } from '../turn-batcher.js';
import { getOrCreate, sleep } from '../util.js';
import { waitAofProblem } from './durability.js';
import { createJobBatcher } from './enqueue.js';
import { EnqueueRetry } from './enqueue-retry.js';
import {
  appendCall,
  createArgs,
  type Fill,
  fillArgs,
  generalCall,
  incrementArgs,
  incrementCall,
  NO_CREATE,
  NO_FILL,
  NO_RANKINGS,
  rankingArgs,
  setArgs,
  type WriteCall,
  type WriteResult,
  WriteStatus,
} from './protocol.js';
import { type BatchedReply, type BatchedWrite, createWriteBatcher } from './write-batcher.js';
import { trackWriteScript } from './write-call.js';

/** Where a key lives: its shard and its data key. */
export interface Address {
  entity: ResolvedEntity;
  /** The canonical id. */
  id: string;
  shard: ShardKeys;
  key: string;
}

/** An entity's ranked fields in one shard: the general form's trailing arguments, and each field's ranking key. */
interface ShardRankings {
  args: readonly string[];
  keyOf: ReadonlyMap<string, string>;
}

/** What a write does, in the script's terms (see `write/protocol.ts`). */
export type WriteIntent =
  /** An increment that answers the new total: may load a cold key. */
  | { op: 'incr'; field: ResolvedField; by: number }
  /** An increment that answers nothing and never reads the database. */
  | { op: 'add'; field: ResolvedField; by: number }
  /** `set` names some fields (may load a cold key); `put` names every one (never reads). */
  | { op: 'set' | 'put'; pairs: readonly string[]; named: ReadonlySet<string> }
  | { op: 'del' }
  /** An event of an append entity, encoded (see `encodeEvent`): never reads. */
  | { op: 'append'; event: string };

/** The script's reply to a write that stood. */
export type WriteDone = Extract<WriteResult, { status: typeof WriteStatus.OK }>;

/** How often a write loads a key again that a flush acknowledged while it was loading (status STALE). */
export const MAX_STALE_LOADS = 5;

/**
 * The write side of the cache: sends writes through the shard's batcher, loads a key the write needs the
 * value of and writes again, applies the backlog policy, turns the script's refusals into typed errors, and
 * enqueues the flush job of a key the write made dirty.
 */
export class Writer {
  readonly #context: Context;
  readonly #loader: KeyLoader;
  readonly #writeBatchers = new Map<number, TurnBatcher<BatchedWrite, BatchedReply>>();
  /** Whether every primary can give `durability: 'fsync'`; asked once, on the first write that wants it. */
  #fsyncCheck: Promise<void> | undefined;
  readonly #jobBatchers = new Map<number, TurnBatcher<FlushJob, void>>();
  /** Per entity, per shard index. */
  readonly #rankings = new Map<string, ShardRankings[]>();
  /** Flush jobs whose enqueue failed, added again until Redis takes them. */
  readonly #retry: EnqueueRetry;
  /** Writes acknowledged and refused, per shard (see `activity.ts`). */
  readonly #activity: ActivityCounters;

  constructor(context: Context) {
    this.#context = context;
    this.#activity = activityOf(context);
    this.#loader = new KeyLoader(context.store, context.options.limits.maxLoadBatch);
    // Before anything can wrap the connection's `wbWrite`: its failures must say whether the batch went out.
    trackWriteScript(context.redis);
    const { logger } = context;
    this.#retry = new EnqueueRetry(
      ({ shard, job }) => this.#jobBatcher(shard).submit(job),
      ({ added, left, error }) => {
        if (left === 0) logger.info({ added }, 'flush jobs whose enqueue had failed are enqueued');
        else if (added > 0)
          logger.warn(
            { added, left, err: redactError(error) },
            'some flush jobs whose enqueue had failed are enqueued; retrying the rest',
          );
      },
    );
  }

  address(entity: ResolvedEntity, id: string): Address {
    const shard = this.#context.shards[shardOf(entity.name, id, this.#context.options.shards)] as ShardKeys;
    return { entity, id, shard, key: dataKey(shard, entity.name, id) };
  }

  /** The shard's memory budget: the cache's divided among the shards (0: none; see memory-share.ts). */
  budget(): ShardBudget {
    return this.#context.budget;
  }

  /**
   * Runs a write; when the script needs the key's stored state, loads it and runs it again with it; waits or
   * refuses while the backlog is full; enqueues the flush job when the write made the key dirty. Returns the
   * script's answer, or throws {@link NotReplicatedError} when the write stands but its `durability` was not
   * confirmed.
   */
  async write(
    address: Address,
    intent: WriteIntent,
    durability: DurabilityLevel = this.#context.options.durability,
  ): Promise<WriteDone> {
    // Counts the outcome for the dashboard's charts, in memory (sent once a second).
    try {
      const done = await this.#write(address, intent, durability);
      this.#activity.add(address.shard.shard, 'acknowledged');
      return done;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      this.#activity.refused(address.shard.shard, typeof code === 'string' ? code : 'ERROR');
      throw error;
    }
  }

  async #write(address: Address, intent: WriteIntent, durability: DurabilityLevel): Promise<WriteDone> {
    const { options } = this.#context;
    const { entity, id } = address;
    if (durability === 'fsync') await this.#checkFsync();
    let fill: Fill = NO_FILL;
    let loads = 0;
    const deadline = Date.now() + options.backlog.waitTimeoutMs;
    // Increments try a short form first: `i` needs the key in Redis in whole, `add` nothing. A key the short
    // form cannot serve (deleted, or not held in whole for `i`) takes the general form.
    let form: 'i' | 'add' | 'general' = intent.op === 'incr' ? 'i' : intent.op === 'add' ? 'add' : 'general';
    for (let backoff = 5; ; ) {
      const call = this.#call(address, intent, form, fill);
      const { reply, shortfall } = await callRedis(() =>
        this.#writeBatcher(address.shard).submit({ call, durability }),
      );
      switch (reply.status) {
        case WriteStatus.OK:
          // The enqueue goes unconfirmed: a job lost in a failover is found again by the sweep, from the dirty
          // index that the script wrote with the data and that the wait confirmed.
          if (reply.jobId) await this.#enqueue(address, reply.jobId);
          if (shortfall) {
            throw new NotReplicatedError(shortfall, `this write to ${entity.name} ${JSON.stringify(id)}`);
          }
          return reply;
        case WriteStatus.COLD:
          // An add never loads: the key left Redis between its two forms, and the short form serves it again.
          if (intent.op === 'add') {
            form = 'add';
            continue;
          }
          fill = await this.loadFill(entity, id);
          form = 'general';
          continue;
        case WriteStatus.STALE:
          if (++loads > MAX_STALE_LOADS) {
            throw new UnavailableError(
              `${entity.name} ${JSON.stringify(id)} was flushed again during each of ${MAX_STALE_LOADS} loads; try again`,
            );
          }
          fill = await this.loadFill(entity, id);
          continue;
        case WriteStatus.DELETED:
          form = 'general';
          continue;
        case WriteStatus.UNKNOWN:
          throw new IndeterminateError(
            `this write to ${entity.name} ${JSON.stringify(id)} may have been applied: its batch was sent again after its reply was lost, and Redis no longer holds the record that would tell (the batch is older than the replies it keeps). Read the record before writing it again: a retried increment may count twice`,
          );
        case WriteStatus.BACKLOG_FULL:
        case WriteStatus.EVENT_BACKLOG_FULL:
        case WriteStatus.MEMORY_FULL:
          if (options.backlog.policy === 'wait' && Date.now() < deadline) {
            await sleep(Math.min(backoff, deadline - Date.now()));
            backoff = Math.min(backoff * 2, 100);
            continue;
          }
          if (reply.status === WriteStatus.EVENT_BACKLOG_FULL) {
            throw new BacklogFullError(reply.count, options.backlog.eventLimit, 'events');
          }
          if (reply.status === WriteStatus.BACKLOG_FULL) {
            throw new BacklogFullError(reply.count, options.backlog.limit);
          }
          throw new BacklogFullError(this.budget().maxKeys, this.budget().maxKeys, 'memory');
        case WriteStatus.OVERFLOW: {
          const { field, by } = intent as Extract<WriteIntent, { op: 'incr' | 'add' }>;
          throw new ValidationError(
            form === 'add'
              ? `${entity.name}.${field.name}: what is added to it since its last flush would be ${reply.current}, more than column ${field.column} (${field.type.sql}) can ever hold (${field.min} to ${field.max})`
              : `${entity.name}.${field.name} would leave its range ${field.min} to ${field.max} (column ${field.column} is ${field.type.sql}): it is ${reply.current}, the increment is ${by}`,
            'COUNTER_OVERFLOW',
          );
        }
        case WriteStatus.NOT_FOUND: {
          const named = intent.op === 'set' || intent.op === 'put' ? intent.named : new Set<string>();
          const missing = entity.requiredFields.filter((f) => !named.has(f));
          throw new NotFoundError(
            `${entity.name} ${JSON.stringify(id)} does not exist, and a write that creates it must name ${missing.join(', ')} (no default)`,
          );
        }
      }
    }
  }

  /** The script call of a write in the given form. */
  #call(address: Address, intent: WriteIntent, form: 'i' | 'add' | 'general', fill: Fill): WriteCall {
    if ((intent.op === 'incr' || intent.op === 'add') && form !== 'general') {
      const { field, by } = intent;
      const ranking = this.#rankingsOf(address).keyOf.get(field.name);
      return incrementCall(address.key, field.name, by, field.min, field.max, ranking, form);
    }
    return this.#generalCall(address, intent, fill);
  }

  /** Loads a key from the database as the script's fill: mode, version, field/value pairs in Redis form. */
  async loadFill(entity: ResolvedEntity, id: string): Promise<Fill> {
    let loaded: Awaited<ReturnType<KeyLoader['load']>>;
    try {
      loaded = await this.#loader.load(entity, id);
    } catch (error) {
      throw new UnavailableError(`could not load ${entity.name} ${JSON.stringify(id)} from the database`, {
        cause: redactError(error),
      });
    }
    // An append key holds no values: only the highest sequence number its events reached in the database.
    if (entity.append) return fillArgs({ version: loaded.version, pairs: [] });
    if (!loaded.values) return fillArgs({ version: loaded.version });
    const pairs: string[] = [];
    for (const field of entity.fields) {
      const value = loaded.values[field.name];
      if (value !== undefined) pairs.push(field.name, encodeLoaded(entity.name, id, field, value));
    }
    return fillArgs({ version: loaded.version, pairs });
  }

  /** Stops retrying failed enqueues (the sweep finds those keys). */
  close(): void {
    this.#retry.close();
  }

  /** Resolves once every write and enqueue submitted so far has been answered. */
  async settled(): Promise<void> {
    await Promise.all([...this.#writeBatchers.values()].map((b) => b.settled()));
    await Promise.all([...this.#jobBatchers.values()].map((b) => b.settled()));
    // The last counts go out before the cache closes its connection.
    await this.#activity.stop();
  }

  /** The general form: the fill, the creation arguments (built only here), then the op's own arguments. */
  #generalCall(address: Address, intent: WriteIntent, fill: Fill): WriteCall {
    const { entity, key } = address;
    if (intent.op === 'append')
      return appendCall(key, this.#context.options.backlog.eventLimit, intent.event);
    const rankings = this.#rankingsOf(address).args;
    if (intent.op === 'del') return generalCall(key, 'del', fill, NO_CREATE, [], rankings);
    if (intent.op === 'incr' || intent.op === 'add') {
      const { field, by } = intent;
      return generalCall(
        key,
        'incr',
        fill,
        this.creationArgs(entity, new Set()),
        incrementArgs(field.name, by, field.min, field.max),
        rankings,
      );
    }
    return generalCall(
      key,
      intent.op,
      fill,
      this.creationArgs(entity, intent.named),
      setArgs(intent.pairs),
      rankings,
    );
  }

  /** The entity's ranked fields and their ranking keys in the key's shard, built once per entity and shard. */
  #rankingsOf({ entity, shard }: Address): ShardRankings {
    const perShard = getOrCreate(this.#rankings, entity.name, () => []);
    let rankings = perShard[shard.shard];
    if (!rankings) {
      const keyOf = new Map(
        entity.fields.filter((f) => f.ranked).map((f) => [f.name, rankingKey(shard, entity.name, f.name)]),
      );
      rankings = { args: keyOf.size === 0 ? NO_RANKINGS : rankingArgs([...keyOf].flat()), keyOf };
      perShard[shard.shard] = rankings;
    }
    return rankings;
  }

  /** What creating the record needs: how many required fields the write leaves out, the others' defaults. */
  creationArgs(entity: ResolvedEntity, named: ReadonlySet<string>): string[] {
    let missing = 0;
    const defaults: string[] = [];
    for (const field of entity.fields) {
      if (named.has(field.name)) continue;
      if (field.kind === 'counter') {
        // A counter not written yet reads as its default, 0 unless the schema says otherwise.
        if (field.encodedDefault !== undefined && field.encodedDefault !== '0') {
          defaults.push(field.name, field.encodedDefault);
        }
      } else if (field.encodedDefault !== undefined) defaults.push(field.name, field.encodedDefault);
      else if (field.dynamicDefault) {
        defaults.push(field.name, encodeField(entity.name, field, makeDefault(field.dynamicDefault)));
      } else if (field.nullable) defaults.push(field.name, 'z');
      else missing++;
    }
    return createArgs(missing, defaults);
  }

  /** The shard's write batcher: the writes of one event-loop turn go to Redis as one script call. */
  #writeBatcher(shard: ShardKeys): TurnBatcher<BatchedWrite, BatchedReply> {
    const { redis, options } = this.#context;
    return getOrCreate(this.#writeBatchers, shard.shard, () =>
      createWriteBatcher(
        redis,
        shard,
        () => ({
          now: Date.now(),
          backlogLimit: options.backlog.limit,
          cacheTtlMs: options.cacheTtlMs,
          ...this.budget(),
        }),
        () => options.replication,
        () => options.writes,
      ),
    );
  }

  /**
   * Refuses `durability: 'fsync'` with a {@link ConfigurationError} naming the server's version when a primary
   * lacks `WAITAOF` (before Redis 7.2) or an AOF, before anything is written. Asked once; a Redis that cannot
   * be reached is asked again on the next write.
   */
  async #checkFsync(): Promise<void> {
    const { redis } = this.#context;
    this.#fsyncCheck ??= (async () => {
      const nodes = mastersOf(redis);
      const infos = await callRedis(() => Promise.all(nodes.map((node) => node.info())));
      for (const [i, info] of infos.entries()) {
        const node = nodes[i];
        // A connection through Sentinel has no fixed address to name.
        const where =
          'nodes' in redis && node
            ? `the primary at ${node.options.host}:${node.options.port}`
            : 'the primary';
        const problem = waitAofProblem(info, where);
        if (problem) throw new ConfigurationError(problem);
      }
    })().catch((error: unknown) => {
      if (!(error instanceof ConfigurationError)) this.#fsyncCheck = undefined;
      throw error;
    });
    await this.#fsyncCheck;
  }

  #jobBatcher(shard: number): TurnBatcher<FlushJob, void> {
    return getOrCreate(this.#jobBatchers, shard, () => createJobBatcher(this.#context.queue(shard)));
  }

  async #enqueue({ entity, id, shard }: Address, jobId: string): Promise<void> {
    const job = flushJob({ entity: entity.name, id }, jobId, this.#context.options.flush.windowMs);
    try {
      await this.#jobBatcher(shard.shard).submit(job);
    } catch (error) {
      // The write is already acknowledged by Redis and the key is in the dirty index: the job is added again
      // shortly, and failing that the sweep enqueues the key.
      const kept = this.#retry.remember({ shard: shard.shard, job });
      this.#context.logger.warn(
        { err: redactError(error), entity: entity.name, id, retrying: this.#retry.size },
        kept
          ? 'could not enqueue a flush job; retrying it'
          : 'could not enqueue a flush job; the sweep will enqueue its key',
      );
    }
  }
}
