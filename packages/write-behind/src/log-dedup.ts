import type { Logger } from './options.js';

/*
 * Folds a log line that repeats (the same message and error, as during an outage: BullMQ and ioredis report
 * every failed reconnect) into one line with a count: the first occurrence is logged at once, the next ones
 * are counted and logged as one line per interval while they go on (`repeated`: how many since the last line),
 * and one last line with the rest when they stop. An 8 s Redis outage is then three lines, not thirty.
 * `LogDedup` decides, purely (the caller passes the time); `dedupLogger` wraps a Logger with it and a timer.
 */

/** How often a repeating line is logged while it keeps repeating, and how long it must stop to count as ended. */
export const LOG_REPEAT_INTERVAL_MS = 10_000;

/** What to log for one occurrence, or for a line that stopped repeating. */
export interface Repeat {
  /** Occurrences this line stands for: 1 for a first, the count since the line before it otherwise. */
  repeated: number;
  /** Since the line before it (0 for a first). */
  sinceMs: number;
}

interface KeyState {
  lastLoggedAt: number;
  lastSeenAt: number;
  /** Occurrences since the last line logged. */
  untold: number;
}

/** The decisions, without clocks or I/O. */
export class LogDedup {
  readonly #intervalMs: number;
  readonly #keys = new Map<string, KeyState>();

  constructor(intervalMs = LOG_REPEAT_INTERVAL_MS) {
    this.#intervalMs = intervalMs;
  }

  /** One occurrence of `key` at `now`: what to log, or `undefined` when it is counted for a later line. */
  occur(key: string, now: number): Repeat | undefined {
    const state = this.#keys.get(key);
    if (!state) {
      this.#keys.set(key, { lastLoggedAt: now, lastSeenAt: now, untold: 0 });
      return { repeated: 1, sinceMs: 0 };
    }
    state.lastSeenAt = now;
    state.untold++;
    if (now - state.lastLoggedAt < this.#intervalMs) return undefined;
    const repeat = { repeated: state.untold, sinceMs: now - state.lastLoggedAt };
    state.lastLoggedAt = now;
    state.untold = 0;
    return repeat;
  }

  /**
   * The keys that have not occurred for an interval at `now`, forgotten (so the next occurrence is a first
   * again); with the count of those still untold, which deserve a last line.
   */
  quiet(now: number): { key: string; repeat: Repeat | undefined }[] {
    const ended: { key: string; repeat: Repeat | undefined }[] = [];
    for (const [key, state] of this.#keys) {
      if (now - state.lastSeenAt < this.#intervalMs) continue;
      this.#keys.delete(key);
      ended.push({
        key,
        repeat: state.untold > 0 ? { repeated: state.untold, sinceMs: now - state.lastLoggedAt } : undefined,
      });
    }
    return ended;
  }

  /** When {@link LogDedup.quiet} may next find a key quiet; `undefined` when no key is held. */
  nextQuietAt(): number | undefined {
    let next: number | undefined;
    for (const state of this.#keys.values()) {
      const at = state.lastSeenAt + this.#intervalMs;
      if (next === undefined || at < next) next = at;
    }
    return next;
  }
}

/** What makes two lines the same: level, message, and the error's code and message. */
function keyOf(level: string, obj: object, msg: string | undefined): string {
  const err = (obj as { err?: unknown }).err;
  const code = err && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  const message = err instanceof Error ? err.message : err === undefined ? '' : String(err);
  return JSON.stringify([level, msg ?? '', code ?? null, message]);
}

const wrapped = new WeakMap<Logger, Logger>();

/**
 * `logger` with repeated warnings and errors folded (see the module's comment): one wrapper per logger, so every
 * listener that logs through it shares the counts, and the same error from several shards or connections is
 * one line. `info` and `debug` pass through. A folded line carries `repeated` (occurrences since the line
 * before) and `sinceMs`; the last one, once the line has stopped for an interval, also `ended: true`.
 */
export function dedupLogger(logger: Logger, intervalMs = LOG_REPEAT_INTERVAL_MS): Logger {
  const cached = intervalMs === LOG_REPEAT_INTERVAL_MS ? wrapped.get(logger) : undefined;
  if (cached) return cached;
  const dedup = new LogDedup(intervalMs);
  /** The last line of each key held, for its closing line. */
  const last = new Map<string, { level: 'warn' | 'error'; obj: object; msg: string | undefined }>();
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Number.POSITIVE_INFINITY;

  const schedule = () => {
    const next = dedup.nextQuietAt();
    if (next === undefined || next >= timerAt) return;
    clearTimeout(timer);
    timerAt = next;
    timer = setTimeout(onTimer, Math.max(0, next - Date.now()));
    // A pending closing line never keeps the process alive.
    timer.unref();
  };
  const onTimer = () => {
    timer = undefined;
    timerAt = Number.POSITIVE_INFINITY;
    for (const { key, repeat } of dedup.quiet(Date.now())) {
      const line = last.get(key);
      last.delete(key);
      if (line && repeat) logger[line.level]({ ...line.obj, ...repeat, ended: true }, line.msg);
    }
    schedule();
  };
  const fold =
    (level: 'warn' | 'error') =>
    (obj: object, msg?: string): void => {
      const key = keyOf(level, obj, msg);
      const repeat = dedup.occur(key, Date.now());
      last.set(key, { level, obj, msg });
      if (repeat) logger[level](repeat.repeated === 1 ? obj : { ...obj, ...repeat }, msg);
      schedule();
    };
  const folded: Logger = {
    info: (obj, msg) => logger.info(obj, msg),
    warn: fold('warn'),
    error: fold('error'),
  };
  if (logger.debug) folded.debug = (obj, msg) => logger.debug?.(obj, msg);
  if (intervalMs === LOG_REPEAT_INTERVAL_MS) wrapped.set(logger, folded);
  return folded;
}
