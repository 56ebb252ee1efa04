import { errorReason, type LogLimiter } from './log-limiter.ts';

/** The body of `/healthz`: a status, never the reason (that goes to the log, for the operator alone). */
export type HealthBody = { status: 'ok' } | { status: 'unavailable' };

/** What `/healthz` answers, framework-free: each app writes it in its own way. */
export interface HealthAnswer {
  status: 200 | 503;
  body: HealthBody;
}

/** The code of the log line a failed check writes. */
export const HEALTH_CHECK_FAILED = 'HEALTH_CHECK_FAILED';

/**
 * The health check of every app: Redis answers `stats()` within `timeoutMs`. Anyone may call `/healthz`
 * (orchestrators do, without credentials), so the answer says only ok or unavailable; why goes to the log
 * at warn, through `refusals`, so that an outage polled every second writes a line per window, not per poll.
 *
 * @example
 * ```ts
 * const check = healthCheck(cache, { timeoutMs: 1000, refusals: new LogLimiter(logger) });
 * app.get('/healthz', async (_req, res) => {
 *   const { status, body } = await check();
 *   res.status(status).json(body);
 * });
 * ```
 */
export function healthCheck(
  source: { stats(): Promise<unknown> },
  { timeoutMs, refusals }: { timeoutMs: number; refusals: LogLimiter },
): () => Promise<HealthAnswer> {
  return async () => {
    try {
      await withDeadline(source.stats(), timeoutMs);
      return { status: 200, body: { status: 'ok' } };
    } catch (error) {
      refusals.warn(
        HEALTH_CHECK_FAILED,
        { reason: errorReason(error) },
        'health check failed: cannot read Redis',
      );
      return { status: 503, body: { status: 'unavailable' } };
    }
  };
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
