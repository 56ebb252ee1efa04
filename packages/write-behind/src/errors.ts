/**
 * Every error the library throws on purpose is a {@link WriteBehindError} with a stable `code`,
 * so callers can branch on `err.code` (or `instanceof`) instead of parsing messages.
 */
export type WriteBehindErrorCode =
  | 'VALIDATION'
  | 'UNKNOWN_ENTITY'
  | 'COUNTER_OVERFLOW'
  | 'NOT_FOUND'
  | 'BACKLOG_FULL'
  | 'UNAVAILABLE'
  | 'TIMEOUT'
  | 'CONFIGURATION'
  | 'NOT_REPLICATED'
  | 'UNKNOWN_RESULT'
  | 'CLOSED';

export class WriteBehindError extends Error {
  readonly code: WriteBehindErrorCode;

  constructor(code: WriteBehindErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bad input: an unknown field, a value of the wrong type, an id that is empty or too long. Nothing was written. */
export class ValidationError extends WriteBehindError {
  constructor(message: string, code: 'VALIDATION' | 'UNKNOWN_ENTITY' | 'COUNTER_OVERFLOW' = 'VALIDATION') {
    super(code, message);
  }
}

/** The write needs an existing record (a partial set on a record that does not exist). Nothing was written. */
export class NotFoundError extends WriteBehindError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

/**
 * Too many keys (or, for `append`, events) wait to be flushed; the write was rejected and nothing changed.
 * Retry later.
 */
export class BacklogFullError extends WriteBehindError {
  /** Keys waiting in the shard; for `backlog: 'events'`, the events waiting. */
  readonly dirtyKeys: number;
  readonly limit: number;
  /**
   * Which limit refused the write: `backlog.limit` (dirty keys), `backlog.eventLimit` (events), or the memory
   * budget (`memory`: every key the budget allows is dirty, so none could be evicted for a new one).
   */
  readonly backlog: 'keys' | 'events' | 'memory';

  constructor(dirtyKeys: number, limit: number, backlog: 'keys' | 'events' | 'memory' = 'keys') {
    super(
      'BACKLOG_FULL',
      backlog === 'memory'
        ? 'write rejected: the memory budget is full of keys waiting to be flushed, and only a clean key can be evicted. ' +
            'Check that flush workers are running and the database is reachable, or raise `memory.maxKeys` / `memory.maxBytes`.'
        : `write rejected: ${dirtyKeys} ${backlog} are waiting to be flushed and the backlog limit is ${limit}. ` +
            `Check that flush workers are running and the database is reachable, or raise \`backlog.${backlog === 'events' ? 'eventLimit' : 'limit'}\`.`,
    );
    this.dirtyKeys = dirtyKeys;
    this.limit = limit;
    this.backlog = backlog;
  }
}

/**
 * Redis or the database could not be reached. A write refused with it was certainly not applied: Redis
 * never ran it (it was never sent, or Redis refused it before running it). Where that is not certain the
 * write fails with {@link IndeterminateError} instead.
 */
export class UnavailableError extends WriteBehindError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNAVAILABLE', message, options);
  }
}

/**
 * The write **may have been applied**: it was sent to Redis, and its reply was lost (the connection closed
 * after it went out, a Redis Cluster failover took its node) or Redis failed while running it. The library
 * sent the batch again with its id for `writes.resolveTimeoutMs` (a batch Redis applied already is answered,
 * never applied twice) and got no answer. Do not retry an increment blindly: read the record first, or
 * accept that it may count twice. A write still queued in the connection when this is thrown may yet be
 * applied once when Redis answers again, never twice.
 *
 * @example
 * ```ts
 * try {
 *   await cache.increment('video', 'v1', 'likes');
 * } catch (error) {
 *   if (error instanceof IndeterminateError) {
 *     // Applied or not, unknown: do not retry the increment; tell the user to reload.
 *   }
 * }
 * ```
 */
export class IndeterminateError extends WriteBehindError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNKNOWN_RESULT', message, options);
  }
}

/** A wait (`flushed`, `drain`, backlog `wait` policy) ran out of time. */
export class TimeoutError extends WriteBehindError {
  constructor(message: string) {
    super('TIMEOUT', message);
  }
}

/** The options object is wrong; the message names the option and quotes the value. */
export class ConfigurationError extends WriteBehindError {
  constructor(message: string) {
    super('CONFIGURATION', message);
  }
}

/** The instance was closed. */
export class ClosedError extends WriteBehindError {
  constructor(what: string) {
    super('CLOSED', `${what} is closed`);
  }
}

/**
 * A write asked for durability `'replicas'` or `'fsync'` and Redis applied it, but fewer replicas than
 * `replication.replicas` confirmed it (or the primary did not fsync it) within `replication.timeoutMs`. The
 * write stands: it is readable and will be flushed to the database, but a failover before the replicas catch
 * up may lose it. Retrying applies it again (an increment twice), so prefer checking the replicas.
 */
export class NotReplicatedError extends WriteBehindError {
  readonly level: 'replicas' | 'fsync';
  /** Replicas that confirmed the write: that hold it (`'replicas'`) or fsynced it (`'fsync'`). */
  readonly confirmed: number;
  /** `replication.replicas`. */
  readonly required: number;
  /** For `'fsync'`: whether the primary fsynced it to its own AOF. */
  readonly localFsynced: boolean | undefined;

  constructor(
    shortfall: {
      level: 'replicas' | 'fsync';
      confirmed: number;
      required: number;
      localFsynced?: boolean;
      timeoutMs: number;
      cause?: Error;
    },
    what: string,
  ) {
    const { level, confirmed, required, localFsynced, timeoutMs } = shortfall;
    const confirmedBy =
      level === 'replicas'
        ? `${confirmed} of ${required} replicas confirmed holding it`
        : `${localFsynced ? 'the primary' : 'not the primary'} and ${confirmed} of ${required} replicas confirmed an fsync of it`;
    super(
      'NOT_REPLICATED',
      `${what} is applied in Redis and will be flushed, but only ${confirmedBy} within ${timeoutMs} ms ` +
        `(durability '${level}'): a failover now could lose it. Check the replicas (INFO replication), or raise \`replication.timeoutMs\`.`,
      shortfall.cause ? { cause: shortfall.cause } : undefined,
    );
    this.level = level;
    this.confirmed = confirmed;
    this.required = required;
    this.localFsynced = localFsynced;
  }
}
