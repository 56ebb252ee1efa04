import {
  BacklogFullError,
  ClosedError,
  IndeterminateError,
  NotFoundError,
  TimeoutError,
  UnavailableError,
  ValidationError,
} from '@write-behind/core';

/** An error with the HTTP status and the body's `error.code` it becomes. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** body-parser's errors carry `type` and `status`. */
interface BodyParserError {
  type: string;
  status: number;
  message: string;
}

function isBodyParserError(error: unknown): error is BodyParserError {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as BodyParserError).type === 'string' &&
    typeof (error as BodyParserError).status === 'number'
  );
}

/**
 * What the client sees for an error: the library's errors keep their stable codes; anything unexpected
 * becomes a 500 whose message reveals nothing (it is logged instead).
 */
export function toHttpError(error: unknown, retryAfterSeconds: number): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof ValidationError) return new HttpError(400, error.code, error.message);
  if (error instanceof NotFoundError) return new HttpError(404, error.code, error.message);
  if (error instanceof BacklogFullError) {
    return new HttpError(503, error.code, 'too many writes are waiting to be flushed; retry later', {
      'Retry-After': String(retryAfterSeconds),
    });
  }
  // Not "retry later": the write may have been applied, and a retried like would count twice. No Retry-After.
  if (error instanceof IndeterminateError) {
    return new HttpError(
      503,
      error.code,
      'the write may have been applied: Redis did not answer in time; read the resource before retrying it',
    );
  }
  if (error instanceof UnavailableError || error instanceof TimeoutError || error instanceof ClosedError) {
    return new HttpError(503, error.code, 'the service is unavailable; retry later', {
      'Retry-After': String(retryAfterSeconds),
    });
  }
  // The router could not percent-decode a path parameter: the id itself is malformed.
  if (error instanceof URIError) {
    return new HttpError(400, 'VALIDATION', 'the id in the path is not valid percent-encoded UTF-8');
  }
  if (isBodyParserError(error)) {
    switch (error.type) {
      case 'entity.parse.failed':
        return new HttpError(400, 'INVALID_JSON', `the request body is not valid JSON: ${error.message}`);
      case 'entity.too.large':
        return new HttpError(413, 'PAYLOAD_TOO_LARGE', 'the request body is too large');
      case 'encoding.unsupported':
      case 'charset.unsupported':
        return new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', error.message);
      default:
        if (error.status >= 400 && error.status < 500) {
          return new HttpError(error.status, 'BAD_REQUEST', error.message);
        }
    }
  }
  return new HttpError(500, 'INTERNAL', 'internal error');
}
