import type { Logger } from '@write-behind/core';

export interface LogLimiterOptions {
  /** A key is logged at most once per window; the lines it would have written are counted instead. @defaultValue `10_000` */
  windowMs?: number;
  /** The clock (for tests). @defaultValue `Date.now` */
  now?: () => number;
}

/**
 * What went wrong, in one line for a warning: the error's message, then each cause's (`error.cause`), which
 * the library's errors use for the detail ("could not load video from the database: role does not exist").
 * No stack; secrets are masked later, by the logger.
 */
export function errorReason(error: unknown): string {
  const parts: string[] = [];
  for (let current = error, depth = 0; current !== undefined && depth < 4; depth++) {
    const message = (current instanceof Error ? current.message : String(current))
      .replace(/\s+/g, ' ')
      .trim();
    // A wrapper often quotes its cause already ("Redis command failed: <the cause's message>").
    if (message && !parts.some((part) => part.includes(message))) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': ');
}

/** Every default of {@link LogLimiterOptions}. */
export const DEFAULT_LOG_LIMITER_OPTIONS = { windowMs: 10_000 } as const;

interface KeyState {
  /** When a line for the key was last written. */
  loggedAt: number;
  /** Lines not written since then. */
  suppressed: number;
}

/**
 * Warnings about refused requests and unavailable dependencies, at most one line per key (an error code)
 * per window, plus one summary line per window for each key whose lines were held back. A client that sends
 * a thousand bad requests a second, or a Redis outage seen by every request, costs a few lines, not a flood
 * that buries everything else; the counts still say how many there were. For what is expected (a refusal,
 * an outage), not for bugs: callers usually give a reason rather than an error and its stack.
 *
 * @example
 * ```ts
 * const refusals = new LogLimiter(logger);
 * refusals.warn('VALIDATION', { status: 400, path: req.path }, 'request refused');
 * ```
 */
export class LogLimiter {
  readonly #logger: Logger;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #keys = new Map<string, KeyState>();
  #timer: NodeJS.Timeout | undefined;

  constructor(logger: Logger, options: LogLimiterOptions = {}) {
    const windowMs = options.windowMs ?? DEFAULT_LOG_LIMITER_OPTIONS.windowMs;
    if (!Number.isSafeInteger(windowMs) || windowMs <= 0) {
      throw new TypeError(`windowMs must be a positive integer of milliseconds, got ${String(windowMs)}`);
    }
    this.#logger = logger;
    this.#windowMs = windowMs;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Logs `msg` at warn with `{ code: key, ...fields }`, unless a line for `key` was written less than a
   * window ago; then it only counts it. Returns whether it logged.
   */
  warn(key: string, fields: object, msg: string): boolean {
    const now = this.#now();
    const state = this.#keys.get(key);
    if (state && now - state.loggedAt < this.#windowMs) {
      state.suppressed += 1;
      this.#startSummaries();
      return false;
    }
    // A key seen again after a quiet window: what it held back goes out first, so the counts stay in order.
    if (state && state.suppressed > 0) this.#summarise(key, state);
    this.#keys.set(key, { loggedAt: now, suppressed: 0 });
    this.#logger.warn({ code: key, ...fields }, msg);
    return true;
  }

  /**
   * Writes one line per key with lines held back (`{ code, suppressed, windowMs }`) and resets the counts.
   * A timer calls it every window while anything is held back; call it to write the counts now (at shutdown,
   * or in a test).
   */
  flush(): void {
    for (const [key, state] of this.#keys) {
      if (state.suppressed > 0) this.#summarise(key, state);
      // Nothing for a whole window: forget the key, so the map holds only keys seen lately.
      else if (this.#now() - state.loggedAt >= this.#windowMs) this.#keys.delete(key);
    }
    if (this.#keys.size === 0) this.close();
  }

  /** Stops the summary timer (the counts not yet written are dropped). */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #summarise(key: string, state: KeyState): void {
    this.#logger.warn(
      { code: key, suppressed: state.suppressed, windowMs: this.#windowMs },
      'similar lines suppressed',
    );
    state.suppressed = 0;
  }

  #startSummaries(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.flush(), this.#windowMs);
    // The summaries never keep a process alive that has nothing else to do.
    this.#timer.unref();
  }
}
