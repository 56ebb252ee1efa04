import type { TurnBatcher } from '../batch.js';
import { type Context, callRedis, redactError } from '../context.js';
import {
  BacklogFullError,
  ConfigurationError,
  NotFoundError,
  NotReplicatedError,
  UnavailableError,
  ValidationError,
  WriteBehindError,
} from '../errors.js';
import { type FlushJob, flushJob } from '../flush/job.js';
import { dataKey, rankingKey, type ShardKeys, shardOf } from '../keys.js';
import { BatchLoader } from '../loader.js';
import type { DurabilityLevel } from '../options.js';
import { encodeLoaded } from '../schema/codec.js';
import type { ResolvedEntity, ResolvedField } from '../schema/resolve.js';
import { getOrCreate, sleep } from '../util.js';
import { type BatchedReply, type BatchedWrite, createWriteBatcher } from './batcher.js';
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
  type WriteReply,
  WriteStatus,
} from './protocol.js';

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
  | { op: 'incr'; field: ResolvedField; by: number }
  | { op: 'set' | 'put'; pairs: readonly string[]; named: ReadonlySet<string> }
  | { op: 'del' }
  /** An event of an append entity, encoded (see `encodeEvent`). */
  | { op: 'append'; event: string };

/**
 * The write side of the cache: sends writes through the shard's batcher, loads a cold key and writes again,
 * applies the backlog policy, turns the script's refusals into typed errors, and enqueues the flush job of a
 * key the write made dirty.
 */
export class Writer {
  readonly #context: Context;
  readonly #loader: BatchLoader;
  readonly #writeBatchers = new Map<number, TurnBatcher<BatchedWrite, BatchedReply>>();
  /** Whether every primary can give `durability: 'fsync'`; asked once, on the first write that wants it. */
  #fsyncCheck: Promise<void> | undefined;
  readonly #jobBatchers = new Map<number, TurnBatcher<FlushJob, void>>();
  /** Per entity, per shard index. */
  readonly #rankings = new Map<string, ShardRankings[]>();
  /** Flush jobs whose enqueue failed, added again until Redis takes them. */
  readonly #retry: EnqueueRetry;

  constructor(context: Context) {
    this.#context = context;
    this.#loader = new BatchLoader(context.store, context.options.limits.maxLoadBatch);
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

  /**
   * Runs a write; on a cold key loads it and runs it again with the loaded state; waits or refuses while the
   * backlog is full; enqueues the flush job when the write made the key dirty. Returns the script's reply, or
   * throws {@link NotReplicatedError} when the write stands but its `durability` was not confirmed.
   */
  async write(
    address: Address,
    intent: WriteIntent,
    durability: DurabilityLevel = this.#context.options.durability,
  ): Promise<WriteReply> {
    const { options } = this.#context;
    const { entity, id, key } = address;
    if (durability === 'fsync') await this.#checkFsync();
    let fill: Fill = NO_FILL;
    const deadline = Date.now() + options.backlog.waitTimeoutMs;
    // An increment tries the short form first; a cold or deleted key takes the general one.
    let short = intent.op === 'incr';
    for (let backoff = 5; ; ) {
      const call =
        short && intent.op === 'incr'
          ? incrementCall(
              key,
              intent.field.name,
              intent.by,
              intent.field.min,
              intent.field.max,
              this.#rankingsOf(address).keyOf.get(intent.field.name),
            )
          : this.#generalCall(address, intent, fill);
      const { reply, shortfall } = await callRedis(() =>
        this.#writeBatcher(address.shard).submit({ call, durability }),
      );
      switch (reply[0]) {
        case WriteStatus.OK:
          // The enqueue goes unconfirmed: a job lost in a failover is found again by the sweep, from the dirty
          // index that the script wrote with the data and that the wait confirmed.
          if (reply[3]) await this.#enqueue(address, reply[3]);
          if (shortfall) {
            throw new NotReplicatedError(shortfall, `this write to ${entity.name} ${JSON.stringify(id)}`);
          }
          return reply;
        case WriteStatus.COLD:
          fill = await this.loadFill(entity, id);
          short = false;
          continue;
        case WriteStatus.DELETED:
          short = false;
          continue;
        case WriteStatus.UNKNOWN:
          throw new UnavailableError(
            `the connection to Redis was lost while this write to ${entity.name} ${JSON.stringify(id)} was in flight; it may have been applied, and its reply is lost`,
          );
        case WriteStatus.BACKLOG_FULL:
        case WriteStatus.EVENT_BACKLOG_FULL:
          if (options.backlog.policy === 'wait' && Date.now() < deadline) {
            await sleep(Math.min(backoff, deadline - Date.now()));
            backoff = Math.min(backoff * 2, 100);
            continue;
          }
          throw reply[0] === WriteStatus.EVENT_BACKLOG_FULL
            ? new BacklogFullError(Number(reply[1]), options.backlog.eventLimit, 'events')
            : new BacklogFullError(Number(reply[1]), options.backlog.limit);
        case WriteStatus.OVERFLOW: {
          const { field, by } = intent as Extract<WriteIntent, { op: 'incr' }>;
          throw new ValidationError(
            `${entity.name}.${field.name} would leave its range ${field.min} to ${field.max} (column ${field.column} is ${field.type.sql}): it is ${reply[1]}, the increment is ${by}`,
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
        default:
          throw new WriteBehindError(
            'UNAVAILABLE',
            `unexpected reply from the write script: ${JSON.stringify(reply)}`,
          );
      }
    }
  }

  /** Loads a key from the database as the script's fill: mode, version, field/value pairs in Redis form. */
  async loadFill(entity: ResolvedEntity, id: string): Promise<Fill> {
    let loaded: Awaited<ReturnType<BatchLoader['load']>>;
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
  }

  /** The general form: the fill, the creation arguments (built only here), then the op's own arguments. */
  #generalCall(address: Address, intent: WriteIntent, fill: Fill): WriteCall {
    const { entity, key } = address;
    if (intent.op === 'append') {
      return appendCall(key, fill, this.#context.options.backlog.eventLimit, intent.event);
    }
    const rankings = this.#rankingsOf(address).args;
    if (intent.op === 'del') return generalCall(key, 'del', fill, NO_CREATE, [], rankings);
    if (intent.op === 'incr') {
      const { field, by } = intent;
      return generalCall(
        key,
        'incr',
        fill,
        this.#createArgs(entity, new Set()),
        incrementArgs(field.name, by, field.min, field.max),
        rankings,
      );
    }
    return generalCall(
      key,
      intent.op,
      fill,
      this.#createArgs(entity, intent.named),
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
  #createArgs(entity: ResolvedEntity, named: ReadonlySet<string>): string[] {
    let missing = 0;
    const defaults: string[] = [];
    for (const field of entity.fields) {
      if (named.has(field.name) || field.kind === 'counter') continue;
      if (field.encodedDefault !== undefined) defaults.push(field.name, field.encodedDefault);
      else if (field.nullable) defaults.push(field.name, 'z');
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
          mayExpire: options.cacheTtlMs > 0,
        }),
        () => options.replication,
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
      const nodes = 'nodes' in redis ? redis.nodes('master') : [redis];
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
