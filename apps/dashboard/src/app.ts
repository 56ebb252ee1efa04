import { randomBytes } from 'node:crypto';
import type { Logger } from '@write-behind/core';
import { createBullBoardRouter } from '@write-behind/core/bull-board';
import { type BacklogSource, backlogReader, registerBacklogMetrics } from '@write-behind/demo';
import express from 'express';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { basicAuth } from './auth.ts';
import { renderPage } from './page.ts';

/** Where Bull Board is mounted. */
export const BOARD_PATH = '/admin/queues';

export interface DashboardDependencies {
  /** The cache whose queues and backlog are shown: `cache.queues` go to Bull Board. */
  cache: BacklogSource;
  /** HTTP Basic credentials: every route but `/healthz` asks for them. */
  credentials: { user: string; password: string };
  logger?: Logger;
  /** How long `/healthz` waits for Redis. @defaultValue `1000` */
  healthTimeoutMs?: number;
  /** Also export Node's process metrics. @defaultValue `true` */
  processMetrics?: boolean;
}

/**
 * The operators' dashboard: Bull Board over the flush queues at {@link BOARD_PATH}, a live chart of lag and
 * dirty keys at `/` (fed by `/api/stats`), Prometheus metrics at `/metrics`, all behind HTTP Basic auth;
 * `/healthz` stays open for orchestrators.
 */
export function createApp({
  cache,
  credentials,
  logger = console,
  healthTimeoutMs = 1000,
  processMetrics = true,
}: DashboardDependencies): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const readBacklog = backlogReader(cache);
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry });
  registerBacklogMetrics(registry, readBacklog);

  app.get('/healthz', async (_req, res) => {
    try {
      await Promise.race([
        cache.stats(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), healthTimeoutMs).unref()),
      ]);
      res.json({ status: 'ok' });
    } catch (error) {
      res.status(503).json({
        error: { code: 'UNAVAILABLE', message: `Redis is unreachable: ${(error as Error).message}` },
      });
    }
  });

  app.use(basicAuth(credentials));

  app.get('/', (_req, res) => {
    const nonce = randomBytes(16).toString('base64');
    res
      .set(
        'Content-Security-Policy',
        `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; base-uri 'none'; form-action 'none'`,
      )
      .type('html')
      .send(renderPage({ nonce, statsPath: 'api/stats', boardPath: `${BOARD_PATH.slice(1)}/` }));
  });

  app.get('/api/stats', async (_req, res) => {
    res.set('Cache-Control', 'no-store').json(await readBacklog());
  });

  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', registry.contentType).send(await registry.metrics());
  });

  // The same router library users mount in their own apps; it refuses retries of completed jobs.
  app.use(BOARD_PATH, createBullBoardRouter(cache, { basePath: BOARD_PATH }));

  app.use((req, res) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: `no route for ${req.method} ${req.path}` } });
  });
  app.use((error: unknown, req: express.Request, res: express.Response, _next: express.NextFunction) => {
    logger.error({ err: error, method: req.method, path: req.path }, 'dashboard request failed');
    res
      .status(503)
      .json({ error: { code: 'UNAVAILABLE', message: 'could not read the queues; retry later' } });
  });
  return app;
}
