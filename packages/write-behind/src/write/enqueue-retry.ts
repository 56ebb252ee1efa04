import type { FlushJob } from '../flush/job.js';

/** A flush job and the shard whose queue takes it. */
export interface ShardJob {
  shard: number;
  job: FlushJob;
}

/** Most failed enqueues remembered; past it a key waits for the sweep, as every key did before. */
export const MAX_REMEMBERED_JOBS = 10_000;
/** The first retry's delay, doubled after each round that leaves jobs behind, up to the most. */
export const RETRY_DELAYS_MS = { first: 100, most: 5000 } as const;

/** What a round of retries did: how many jobs it added, and how many still wait. */
export interface RetryRound {
  added: number;
  left: number;
  /** The last error of a job that still waits. */
  error?: unknown;
}

/**
 * Flush jobs whose enqueue failed (Redis unreachable, a failover under way), added again with backoff until
 * each add succeeds. Only latency rides on it: a key whose write was acknowledged is in the dirty index (the
 * write script put it there), so the sweep would enqueue it anyway, but up to `sweep.intervalMs` +
 * `sweep.graceMs` later (40 s by default). Adding a job twice is harmless: BullMQ ignores an add whose id
 * exists, and a job for a key flushed in the meantime finds nothing to write.
 */
export class EnqueueRetry {
  readonly #add: (entry: ShardJob) => Promise<void>;
  readonly #onRound: (round: RetryRound) => void;
  /** By job id. */
  readonly #jobs = new Map<string, ShardJob>();
  #delayMs: number = RETRY_DELAYS_MS.first;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /** `add` enqueues one job (the writer's batcher); `onRound` hears what each round did, for the log. */
  constructor(add: (entry: ShardJob) => Promise<void>, onRound: (round: RetryRound) => void) {
    this.#add = add;
    this.#onRound = onRound;
  }

  /** Jobs waiting for a retry. */
  get size(): number {
    return this.#jobs.size;
  }

  /** Remembers a job whose enqueue failed; false when it is not kept (closed, or the memory is full). */
  remember(entry: ShardJob): boolean {
    const id = entry.job.opts.jobId as string;
    if (this.#closed || (this.#jobs.size >= MAX_REMEMBERED_JOBS && !this.#jobs.has(id))) return false;
    this.#jobs.set(id, entry);
    this.#timer ??= this.#schedule();
    return true;
  }

  /** Stops retrying; what is left waits for the sweep. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): NodeJS.Timeout {
    // Unref'd: a process that is otherwise done need not stay for a retry the sweep would cover.
    return setTimeout(() => void this.#round(), this.#delayMs).unref();
  }

  async #round(): Promise<void> {
    const entries = [...this.#jobs.values()];
    let error: unknown;
    const results = await Promise.allSettled(entries.map((entry) => this.#add(entry)));
    let added = 0;
    for (const [i, result] of results.entries()) {
      const entry = entries[i] as ShardJob;
      if (result.status === 'fulfilled') {
        const id = entry.job.opts.jobId as string;
        // Unless the same id failed again meanwhile, through a newer write's enqueue.
        if (this.#jobs.get(id) === entry) this.#jobs.delete(id);
        added++;
      } else {
        error = result.reason;
      }
    }
    this.#delayMs =
      this.#jobs.size === 0 ? RETRY_DELAYS_MS.first : Math.min(this.#delayMs * 2, RETRY_DELAYS_MS.most);
    this.#timer = this.#closed || this.#jobs.size === 0 ? undefined : this.#schedule();
    this.#onRound({ added, left: this.#jobs.size, ...(error === undefined ? {} : { error }) });
  }
}
