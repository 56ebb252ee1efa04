import { ClosedError, type Logger, TimeoutError, UnavailableError } from '@write-behind/core';
import { createBullBoardRouter } from '@write-behind/core/bull-board';
import {
  type BacklogSource,
  backlogReader,
  errorReason,
  healthCheck,
  LogLimiter,
  registerBacklogMetrics,
} from '@write-behind/demo';
import express from 'express';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { basicAuth } from './auth.ts';
import { DEFAULT_LOGIN_LIMIT, loginLimit } from './login-limit.ts';
import { renderPage } from './page.ts';
import { sameOriginOnly } from './same-origin.ts';
import { bullBoardHeaders, cspNonce, lagPageHeaders, securityHeaders } from './security-headers.ts';

/** Where Bull Board is mounted. */
export const BOARD_PATH = '/admin/queues';

export interface DashboardDependencies {
  /** The cache whose queues and backlog are shown: `cache.queues` go to Bull Board. */
  cache: BacklogSource;
  /** HTTP Basic credentials: every route but `/healthz` asks for them. */
  credentials: { user: string; password: string };
  /** Failed logins (at warn, user name and address, never the password) and unexpected errors. */
  logger?: Logger;
  /**
   * Writes the warnings about refused requests (cross-site, too many failed logins, not found, Redis away)
   * and failed health checks, a few lines per code and window.
   * @defaultValue a {@link LogLimiter} over `logger` with its default window
   */
  refusals?: LogLimiter;
  /**
   * Failed logins a client address may make per window before every login from it gets 429.
   * @defaultValue {@link DEFAULT_LOGIN_LIMIT}: 10 per 15 minutes
   */
  loginLimit?: { failures: number; windowMs: number };
  /** How long `/healthz` waits for Redis. @defaultValue `1000` */
  healthTimeoutMs?: number;
  /** Also export Node's process metrics. @defaultValue `true` */
  processMetrics?: boolean;
}

/**
 * The operators' dashboard: Bull Board over the flush queues at {@link BOARD_PATH}, a live chart of lag and
 * dirty keys at `/` (fed by `/api/stats`), Prometheus metrics at `/metrics`, all behind HTTP Basic auth;
 * `/healthz` stays open for orchestrators. Every response forbids framing and sniffing; a state-changing
 * request from another site is refused before authentication; failed logins are logged and limited.
 */
export function createApp({
  cache,
  credentials,
  logger = console,
  refusals = new LogLimiter(logger),
  loginLimit: limit = DEFAULT_LOGIN_LIMIT,
  healthTimeoutMs = 1000,
  processMetrics = true,
}: DashboardDependencies): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const readBacklog = backlogReader(cache);
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry });
  registerBacklogMetrics(registry, readBacklog);
  const checkHealth = healthCheck(cache, { timeoutMs: healthTimeoutMs, refusals });

  app.use(securityHeaders());

  app.get('/healthz', async (_req, res) => {
    const { status, body } = await checkHealth();
    res.status(status).json(body);
  });

  app.use(
    sameOriginOnly((req, reason) =>
      refusals.warn(
        'CROSS_SITE_REFUSED',
        { status: 403, method: req.method, path: req.path, client: req.ip, reason },
        'request refused: not from the dashboard itself',
      ),
    ),
  );
  app.use(
    loginLimit({
      ...limit,
      logger,
      onLimited: (client) =>
        refusals.warn(
          'TOO_MANY_LOGIN_FAILURES',
          { status: 429, client },
          'login refused: too many failures from this address',
        ),
    }),
  );
  app.use(
    basicAuth({
      ...credentials,
      // Each one, not rate-limited: the login limit bounds them per address, and each may matter.
      onFailure: ({ user, client }) => logger.warn({ user, client }, 'dashboard login failed'),
    }),
  );

  app.get('/', lagPageHeaders(), (_req, res) => {
    res
      .type('html')
      .send(
        renderPage({ nonce: cspNonce(res), statsPath: 'api/stats', boardPath: `${BOARD_PATH.slice(1)}/` }),
      );
  });

  app.get('/api/stats', async (_req, res) => {
    const snapshot = await readBacklog().catch((error: unknown) => unavailable(res, error));
    if (snapshot) res.set('Cache-Control', 'no-store').json(snapshot);
  });

  app.get('/metrics', async (_req, res) => {
    const text = await registry.metrics().catch((error: unknown) => unavailable(res, error));
    if (text !== undefined) res.set('Content-Type', registry.contentType).send(text);
  });

  // The same router library users mount in their own apps; it refuses retries of completed jobs.
  app.use(BOARD_PATH, bullBoardHeaders(), createBullBoardRouter(cache, { basePath: BOARD_PATH }));

  app.use((req, res) => {
    refusals.warn('NOT_FOUND', { status: 404, method: req.method, path: req.path }, 'request refused');
    res.status(404).json({ error: { code: 'NOT_FOUND', message: `no route for ${req.method} ${req.path}` } });
  });
  app.use((error: unknown, req: express.Request, res: express.Response, _next: express.NextFunction) => {
    if (error instanceof UnavailableError || error instanceof TimeoutError || error instanceof ClosedError) {
      unavailable(res, error);
      return;
    }
    logger.error({ err: error, method: req.method, path: req.path }, 'dashboard request failed');
    res.status(500).json({ error: { code: 'INTERNAL', message: 'internal error' } });
  });
  return app;

  /** Redis could not be read: 503 without the reason, which goes to the log. */
  function unavailable(res: express.Response, error: unknown): undefined {
    refusals.warn('UNAVAILABLE', { status: 503, reason: errorReason(error) }, 'could not read the queues');
    res
      .status(503)
      .json({ error: { code: 'UNAVAILABLE', message: 'could not read the queues; retry later' } });
    return undefined;
  }
}
