import type { Context } from './context.js';
import { redactError } from './context.js';
import { ClosedError, ConfigurationError } from './errors.js';

/** How long to wait before checking the database again while it cannot be reached. */
const RETRY_MS = { first: 1000, max: 30_000 };

/**
 * The check of the entities against the live database (`Store.verify`), shared by a cache and its workers.
 * A mismatch is final: no write is accepted and no worker runs. While the database cannot be reached the
 * cache keeps accepting writes (the definitions already passed the Prisma schema) and the check is retried
 * in the background until it can decide.
 */
export class SchemaCheck {
  /** `ok`: verified; `unverified`: the database could not be reached yet; an error: it does not match. */
  #state: 'checking' | 'ok' | 'unverified' | ConfigurationError = 'checking';
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  readonly #mismatchListeners = new Set<(error: ConfigurationError) => void>();
  /** Settles (never rejects) once the first attempt has decided or found the database unreachable. */
  readonly firstAttempt: Promise<void>;
  /** Resolves when the database matches; rejects with the {@link ConfigurationError} when it does not. */
  readonly verified: Promise<void>;

  constructor(context: Context) {
    let settleFirst!: () => void;
    this.firstAttempt = new Promise((resolve) => {
      settleFirst = resolve;
    });
    this.verified = this.#run(context, settleFirst);
    // A caller that never awaits `verified` must not see an unhandled rejection: the error also reaches every
    // write, and the worker.
    this.verified.catch(() => {});
  }

  /** The mismatch, once found. */
  get error(): ConfigurationError | undefined {
    return this.#state instanceof ConfigurationError ? this.#state : undefined;
  }

  /** Whether the first attempt is still running (writes wait for it). */
  get pending(): boolean {
    return this.#state === 'checking';
  }

  /**
   * What the check has found: `verified` (`ready` resolved), `mismatch` (`ready` rejected; every call is
   * refused), `unverified` (the database could not be reached yet; writes are accepted, the check is retried),
   * or `checking` (the first attempt is under way).
   */
  get state(): 'checking' | 'verified' | 'unverified' | 'mismatch' {
    if (this.#state === 'ok') return 'verified';
    if (this.#state instanceof ConfigurationError) return 'mismatch';
    return this.#state;
  }

  /** Cuts the wait before the next attempt short (the database is known to answer again). */
  retryNow(): void {
    if (this.#state === 'unverified') this.#wake?.();
  }

  /** Calls `listener` when a later attempt finds a mismatch (after the database was unreachable at first). */
  onMismatch(listener: (error: ConfigurationError) => void): () => void {
    this.#mismatchListeners.add(listener);
    return () => this.#mismatchListeners.delete(listener);
  }

  /** Stops retrying; a check still waiting to decide rejects `verified` with a {@link ClosedError}. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#wake?.();
  }

  async #run(context: Context, settleFirst: () => void): Promise<void> {
    const entities = [...context.entities.values()];
    for (let delay = RETRY_MS.first; ; delay = Math.min(delay * 2, RETRY_MS.max)) {
      try {
        await context.store.verify(entities);
        this.#state = 'ok';
        settleFirst();
        return;
      } catch (error) {
        if (error instanceof ConfigurationError) {
          const wasUnverified = this.#state === 'unverified';
          this.#state = error;
          settleFirst();
          context.logger.error(
            { err: error },
            'the database does not match the entity definitions; writes are refused',
          );
          if (wasUnverified) for (const listener of this.#mismatchListeners) listener(error);
          throw error;
        }
        if (this.#state === 'checking') {
          context.logger.warn(
            { err: redactError(error), retryMs: delay },
            'could not check the entities against the database; writes are accepted meanwhile, the check is retried',
          );
        }
        this.#state = 'unverified';
        settleFirst();
      }
      // Not `sleep`: an unreferenced timer, so a pending check never keeps the process alive.
      await new Promise<void>((resolve) => {
        this.#wake = () => {
          clearTimeout(this.#timer);
          resolve();
        };
        if (this.#stopped) return resolve();
        this.#timer = setTimeout(resolve, delay);
        this.#timer.unref();
      });
      if (this.#stopped) throw new ClosedError('write-behind cache');
    }
  }
}
