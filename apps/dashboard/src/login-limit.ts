/**
 * A bound on password guessing: each client address may fail to log in a few times per window, then gets
 * 429 with `Retry-After` until the window ends, for right and wrong credentials alike (else the one guess
 * that gets through would show).
 */
import type { Logger } from '@write-behind/core';
import type { RequestHandler } from 'express';
import { type AugmentedRequest, rateLimit } from 'express-rate-limit';
import { hasBasicCredentials } from './auth.ts';

/** The defaults of {@link LoginLimitOptions} `failures` and `windowMs`: 10 failures per 15 minutes. */
export const DEFAULT_LOGIN_LIMIT = { failures: 10, windowMs: 15 * 60 * 1000 } as const;

/** The `error.code` of the 429 answer. */
export const TOO_MANY_LOGIN_FAILURES = 'TOO_MANY_LOGIN_FAILURES';

export interface LoginLimitOptions {
  /** Failed logins a client address may make per window (`DASHBOARD_LOGIN_FAILURES`). @defaultValue `10` */
  failures: number;
  /**
   * The window, ms (`DASHBOARD_LOGIN_WINDOW_MS`); it starts at a client's first failure.
   * @defaultValue `900000` (15 minutes)
   */
  windowMs: number;
  /** Told of each refused request (for a rate-limited warning). */
  onLimited: (client: string | undefined) => void;
  /** Where express-rate-limit reports its own problems (a misconfiguration it detects). */
  logger: Logger;
}

/**
 * Middleware to mount before `basicAuth`. Counts failures only: a request with credentials is counted
 * when it arrives and taken back once it is answered with anything but 401; a request without credentials
 * is not counted (it guesses nothing). The count lives in this process's memory: several dashboard
 * processes each allow `failures`.
 */
export function loginLimit({ failures, windowMs, onLimited, logger }: LoginLimitOptions): RequestHandler {
  return rateLimit({
    windowMs,
    limit: failures,
    skip: (req) => !hasBasicCredentials(req),
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode !== 401,
    // No `RateLimit` headers: on every authenticated response they would count the request in flight as a
    // failure (it is taken back only once answered). The 429 says when to come back.
    standardHeaders: false,
    legacyHeaders: false,
    logger: {
      warn: (error, message) => logger.warn({ err: error }, message ?? 'express-rate-limit warning'),
      error: (error, message) => logger.error({ err: error }, message ?? 'express-rate-limit error'),
    },
    handler: (req, res) => {
      onLimited(req.ip);
      // Set by the limiter before it calls this handler (`requestPropertyName`, `rateLimit` by default).
      const resetTime = (req as AugmentedRequest).rateLimit?.resetTime;
      const retryAfterSeconds = Math.max(
        1,
        Math.ceil(((resetTime?.getTime() ?? Date.now() + windowMs) - Date.now()) / 1000),
      );
      res
        .status(429)
        .set('Retry-After', String(retryAfterSeconds))
        .json({
          error: {
            code: TOO_MANY_LOGIN_FAILURES,
            message: `too many failed logins from this address; retry in ${retryAfterSeconds} s`,
          },
        });
    },
  });
}
