import type { Worker } from 'bullmq';
import type { Context } from '../context.js';
import { dueAtOfDelayedScore, waitAndDelayedKeys } from './bullmq-internals.js';
import { isStuck, type QueueBacklog, type ShardActivity } from './stuck.js';

/** What the watchdog sees of one served shard, and how it replaces the shard's BullMQ worker. */
export interface WatchedShard {
  shard: number;
  activity: ShardActivity;
  worker(): Worker;
  /** Closes the stuck worker (in the background) and starts a new one in its place. */
  replace(stuck: Worker): void;
}

/**
 * Replaces shard BullMQ workers that take no job while jobs wait for them (see `stuckAfterMs`): BullMQ's fetch
 * loop can stay parked after a Redis failover. Checks every fifth of `stuckAfterMs`; the decision is
 * `stuck.ts`'s. A read that fails (Redis unreachable) decides nothing: the next check reads again.
 */
export class StuckWatchdog {
  readonly #context: Context;
  readonly #shards: readonly WatchedShard[];
  readonly #stuckAfterMs: number;
  readonly #active: () => boolean;
  #timer: NodeJS.Timeout | undefined;

  /** `active()`: false while the worker closes or is paused by a schema mismatch (nothing to check then). */
  constructor(
    context: Context,
    shards: readonly WatchedShard[],
    stuckAfterMs: number,
    active: () => boolean,
  ) {
    this.#context = context;
    this.#shards = shards;
    this.#stuckAfterMs = stuckAfterMs;
    this.#active = active;
  }

  start(): void {
    if (this.#stuckAfterMs <= 0) return;
    this.#timer = setInterval(() => void this.check(), Math.max(100, Math.floor(this.#stuckAfterMs / 5)));
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async check(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      this.#shards.map(async (watched) => {
        const { activity } = watched;
        if (!this.#active()) return;
        if (now - activity.lastStartedAt < this.#stuckAfterMs || activity.running > 0) return;
        const worker = watched.worker();
        let backlog: QueueBacklog;
        try {
          backlog = await this.#backlog(watched.shard);
        } catch {
          return;
        }
        if (!isStuck(Date.now(), activity, backlog, this.#stuckAfterMs)) return;
        if (!this.#active() || watched.worker() !== worker) return;
        this.#context.logger.warn(
          { shard: watched.shard, idleMs: Date.now() - activity.lastStartedAt, waiting: backlog.waiting },
          'flush worker took no job while jobs waited (its connection did not recover); replacing it',
        );
        watched.replace(worker);
      }),
    );
  }

  /** What the shard's queue holds: its wait list, its earliest delayed job, an outage pause, an operator's pause. */
  async #backlog(shard: number): Promise<QueueBacklog> {
    const queue = this.#context.queue(shard);
    const { wait, delayed } = waitAndDelayedKeys(queue);
    const [waiting, earliest, rateLimitTtl, paused] = await Promise.all([
      this.#context.redis.llen(wait),
      this.#context.redis.zrange(delayed, '0', '0', 'WITHSCORES'),
      queue.getRateLimitTtl(),
      queue.isPaused(),
    ]);
    return {
      waiting,
      earliestDueAt: earliest[1] === undefined ? undefined : dueAtOfDelayedScore(Number(earliest[1])),
      rateLimited: rateLimitTtl > 0,
      paused,
    };
  }
}
