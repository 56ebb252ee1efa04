import { randomBytes } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Logger } from '@write-behind/core';
import { type BacklogSource, backlogReader, registerBacklogMetrics } from '@write-behind/demo';
import type { Queue } from 'bullmq';
import express from 'express';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { basicAuth } from './auth.ts';
import { renderPage } from './page.ts';

/** Where Bull Board is mounted; its `setBasePath` must say the same. */
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

  const { router, queuesByName } = bullBoard(cache.queues);
  // Bull Board's own retry endpoints do not enforce `allowCompletedRetries: false` (it only hides the
  // button). A completed flush job already wrote its data; running it again is pointless at best, so the
  // endpoints refuse completed jobs here before Bull Board sees the request.
  app.put(`${BOARD_PATH}/api/queues/:queueName/retry/:status`, (req, res, next) => {
    if (req.params.status !== 'completed') return next();
    refuseCompletedRetry(res);
  });
  app.put(`${BOARD_PATH}/api/queues/:queueName/:jobId/retry`, async (req, res, next) => {
    const queue = queuesByName.get(req.params.queueName);
    if (queue && (await queue.getJobState(req.params.jobId)) === 'completed')
      return refuseCompletedRetry(res);
    next();
  });
  app.use(BOARD_PATH, router);

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

function refuseCompletedRetry(res: express.Response): void {
  res.status(405).json({
    error: {
      code: 'COMPLETED_RETRY_REFUSED',
      message: 'a completed flush job already wrote its data; only failed jobs can be retried',
    },
  });
}

/** Bull Board over the flush queues, one per shard, named so that several shards stay apart. */
function bullBoard(queues: readonly Queue[]) {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  const queuesByName = new Map<string, Queue>();
  const adapters = queues.map((queue, shard) => {
    const prefix = queues.length > 1 ? `shard${shard}-` : '';
    queuesByName.set(`${prefix}${queue.name}`, queue);
    // `allowCompletedRetries` is read by the adapter but missing from its options type in 9.x.
    const options = {
      allowRetries: true,
      allowCompletedRetries: false,
      prefix,
      description: `write-behind flush jobs (${queue.qualifiedName})`,
    };
    return new BullMQAdapter(queue, options);
  });
  createBullBoard({
    queues: adapters,
    serverAdapter,
    options: { uiConfig: { boardTitle: 'write-behind flush queues' } },
  });
  return { router: serverAdapter.getRouter() as express.Router, queuesByName };
}
