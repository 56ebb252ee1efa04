import { type Deferred, deferred } from './util.js';

export interface TurnBatcherOptions {
  /**
   * Most items in one call. A batch that reaches it goes out at once, before the turn ends: the server starts
   * on it while this process prepares the next, so the two overlap instead of taking turns.
   */
  maxItems: number;
  /**
   * When the gathered items go out. `tick` (process.nextTick): after the promise continuations of the current
   * turn, so callers woken together by one batch of replies write together. `immediate` (setImmediate): after
   * the pending I/O callbacks too, gathering more at the price of one event-loop phase.
   */
  schedule: 'tick' | 'immediate';
  /**
   * Sends a batch early, once it holds this fraction (1/n) of the callers waiting in all batches, so that
   * several smaller batches are in flight instead of one large one. One batch at a time makes the client and
   * the server take turns (the server idles while the client handles replies and gathers the next batch); a
   * few let them overlap, and a few callers still get most of the benefit of going together. Undefined:
   * batches go out at the end of the turn or when full.
   */
  spread?: number;
}

/**
 * Gathers the calls made in one event-loop turn and sends them with one call of `send`, which answers each
 * item in order. Under concurrency, many callers cost one round trip and one request to parse instead of one
 * each; a lone caller waits no longer than the end of its turn. Every caller still gets its own answer or
 * error. Holds nothing between turns, so nothing is lost if the process dies: an item is either sent or its
 * caller is still waiting for it.
 */
export class TurnBatcher<Item, Answer> {
  readonly #send: (items: Item[]) => Promise<readonly Answer[]>;
  readonly #options: TurnBatcherOptions;
  #pending: { item: Item; done: Deferred<Answer> }[] = [];
  /** Items submitted and not yet answered, in every batch: how many callers wait, roughly. */
  #outstanding = 0;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(send: (items: Item[]) => Promise<readonly Answer[]>, options: TurnBatcherOptions) {
    this.#send = send;
    this.#options = options;
  }

  submit(item: Item): Promise<Answer> {
    const done = deferred<Answer>();
    if (this.#pending.length === 0) {
      if (this.#options.schedule === 'tick') process.nextTick(() => this.#flush());
      else setImmediate(() => this.#flush());
    }
    this.#pending.push({ item, done });
    this.#outstanding++;
    if (this.#pending.length >= this.#sendAt()) this.#flush();
    return done.promise;
  }

  /** How many items make a batch go out before the turn ends. */
  #sendAt(): number {
    const { maxItems, spread } = this.#options;
    if (spread === undefined) return maxItems;
    return Math.max(1, Math.min(maxItems, Math.floor(this.#outstanding / spread)));
  }

  /** Resolves once every item submitted so far has been answered (or failed). */
  async settled(): Promise<void> {
    while (this.#pending.length > 0 || this.#inFlight.size > 0) {
      await Promise.allSettled([...this.#inFlight, new Promise((r) => setImmediate(r))]);
    }
  }

  #flush(): void {
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#call(batch);
  }

  #call(batch: { item: Item; done: Deferred<Answer> }[]): void {
    const sending = (async () => {
      try {
        let answers: readonly Answer[];
        try {
          answers = await this.#send(batch.map((b) => b.item));
        } finally {
          this.#outstanding -= batch.length;
        }
        if (answers.length !== batch.length) {
          throw new Error(`a batch of ${batch.length} got ${answers.length} answers`);
        }
        for (const [i, b] of batch.entries()) b.done.resolve(answers[i] as Answer);
      } catch (error) {
        for (const b of batch) b.done.reject(error);
      }
    })();
    this.#inFlight.add(sending);
    void sending.finally(() => this.#inFlight.delete(sending));
  }
}
