import { type Queue, Worker } from 'bullmq';
import { type Context, redactError } from '../context.js';
import type { UnavailableError } from '../errors.js';
import { outageBackoff } from './plan.js';

/**
 * While the database is unreachable, every worker of a shard's queue waits instead of spending attempts: the
 * first flush that finds it down pauses the queue (all processes) for a while that doubles as the outage
 * lasts, and its job goes back without an attempt spent. The next flush that succeeds lifts the pauses.
 */
export class OutagePause {
  readonly #context: Context;
  #consecutive = 0;
  /**
   * Shards whose queue may carry an outage pause's global rate limit, lifted by the next successful flush. At
   * start, all of them: a worker that died during an outage may have left one behind.
   */
  readonly #paused: Set<number>;
  #current: { error: unknown; pause: Promise<void> } | undefined;

  constructor(context: Context, shards: readonly number[]) {
    this.#context = context;
    this.#paused = new Set(shards);
  }

  /** A flush went through: the outage, if any, is over. */
  succeeded(): void {
    this.#consecutive = 0;
    if (this.#paused.size > 0) this.#lift();
  }

  /**
   * A flush of `shard` found the database unreachable: pause the queue and wait the pause out, then return
   * the error BullMQ takes as "put the job back without an attempt". One failed batch is one probe of the
   * database however many jobs it carried (the batcher rejects them all with the same error): it is counted
   * once, and every job of the batch waits for the same pause.
   */
  async failed(shard: number, error: UnavailableError): Promise<Error> {
    if (this.#current?.error !== error) {
      const attempt = ++this.#consecutive;
      const { outageBackoffMs, maxOutageBackoffMs } = this.#context.options.flush;
      const delay = outageBackoff(attempt, outageBackoffMs, maxOutageBackoffMs);
      this.#paused.add(shard);
      this.#current = { error, pause: pauseQueue(this.#context.queue(shard), delay) };
      if (attempt === 1 || attempt % 20 === 0) {
        this.#context.logger.warn(
          { err: error.cause, pauseMs: delay },
          'database unreachable; flushing paused',
        );
      }
    }
    await this.#current.pause;
    return Worker.RateLimitError();
  }

  /** The database answers again: let every worker of the paused queues take jobs at full speed. */
  #lift(): void {
    const shards = [...this.#paused];
    this.#paused.clear();
    for (const shard of shards) {
      this.#context
        .queue(shard)
        .removeGlobalRateLimit()
        .catch((error: unknown) =>
          this.#context.logger.warn({ err: redactError(error), shard }, 'could not lift the outage pause'),
        );
    }
  }
}

/**
 * Pauses every worker of the queue, in every process, for `ms`. Workers heed the limiter key that
 * `rateLimit` sets only while a rate limit is configured, and a per-worker limiter costs every job of normal
 * operation a few Redis commands; so the pause sets a global limit, too high ever to throttle by itself, only
 * while an outage lasts.
 */
async function pauseQueue(queue: Queue, ms: number): Promise<void> {
  await queue.setGlobalRateLimit(Number.MAX_SAFE_INTEGER - 1, 1000);
  await queue.rateLimit(ms);
}
