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

/** Too many keys wait to be flushed; the write was rejected and nothing changed. Retry later. */
export class BacklogFullError extends WriteBehindError {
  readonly dirtyKeys: number;
  readonly limit: number;

  constructor(dirtyKeys: number, limit: number) {
    super(
      'BACKLOG_FULL',
      `write rejected: ${dirtyKeys} keys are waiting to be flushed and the backlog limit is ${limit}. ` +
        'Check that flush workers are running and the database is reachable, or raise `backlog.limit`.',
    );
    this.dirtyKeys = dirtyKeys;
    this.limit = limit;
  }
}

/** Redis or the database could not be reached. */
export class UnavailableError extends WriteBehindError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNAVAILABLE', message, options);
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
