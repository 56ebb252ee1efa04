import type { JobsOptions, Queue } from 'bullmq';
import { type Deferred, deferred } from './util.js';

export interface FlushJob {
  name: string;
  data: { entity: string; id: string };
  opts: JobsOptions;
}

/**
 * Adds the flush jobs of one event-loop turn to their queue with one `addBulk`: under concurrency the keys
 * that became dirty together cost one round trip, not one each. Every caller still waits for its own add.
 */
export class JobBatcher {
  readonly #queue: Queue;
  #pending: { job: FlushJob; done: Deferred<void> }[] = [];
  readonly #inFlight = new Set<Promise<void>>();

  constructor(queue: Queue) {
    this.#queue = queue;
  }

  add(job: FlushJob): Promise<void> {
    const done = deferred<void>();
    if (this.#pending.length === 0) setImmediate(() => this.#send());
    this.#pending.push({ job, done });
    return done.promise;
  }

  /** Resolves once every add handed in so far has been answered. */
  async settled(): Promise<void> {
    while (this.#pending.length > 0 || this.#inFlight.size > 0) {
      await Promise.allSettled([...this.#inFlight, new Promise((r) => setImmediate(r))]);
    }
  }

  #send(): void {
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    const sending = this.#queue.addBulk(batch.map((b) => b.job)).then(
      () => {
        for (const b of batch) b.done.resolve();
      },
      (error: unknown) => {
        for (const b of batch) b.done.reject(error);
      },
    );
    this.#inFlight.add(sending);
    void sending.finally(() => this.#inFlight.delete(sending));
  }
}
