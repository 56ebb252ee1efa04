import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ClosedError, type Logger, TimeoutError, UnavailableError } from '@write-behind/core';
import { createBullBoardRouter } from '@write-behind/core/bull-board';
import {
  createOperatorRouter,
  Operator,
  type OperatorOptions,
  parseActivity,
} from '@write-behind/core/operator';
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
import { basicAuth, basicUser } from './auth.ts';
import { DEFAULT_LOGIN_LIMIT, loginLimit } from './login-limit.ts';
import { type PageName, renderPage } from './page.ts';
import { sameOriginOnly } from './same-origin.ts';
import { bullBoardHeaders, cspNonce, pageHeaders, securityHeaders } from './security-headers.ts';
import { type Sample, Sampler } from './series.ts';

/** Where Bull Board is mounted. */
export const BOARD_PATH = '/admin/queues';
/** Where the operator's JSON API is mounted (`@write-behind/core/operator`): `/api/keys/...`, `/api/failures`. */
export const API_PATH = '/api';
/** How often the overview's charts are sampled, and how much of them is kept. */
export const DEFAULT_SAMPLING = { intervalMs: 2000, windowMs: 3_600_000 } as const;

/** The pages' own scripts and stylesheet, and uPlot's, served from this app (never from a CDN). */
const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));
const requireFromHere = createRequire(import.meta.url);
const UPLOT_FILES: Record<string, string> = {
  'uPlot.iife.min.js': requireFromHere.resolve('uplot/dist/uPlot.iife.min.js'),
  'uPlot.min.css': requireFromHere.resolve('uplot/dist/uPlot.min.css'),
};

/** Whether the cache runs under a memory budget (the overview then charts it); false for a stand-in. */
function memoryBudget(cache: BacklogSource): boolean {
  try {
    return Object.values(new Operator(cache).settings().memory).some((limit) => limit > 0);
  } catch {
    return false;
  }
}

/**
 * Samples a cache for the overview's charts: its backlog per shard (`stats()`) and its activity counters.
 * Start it at process start (`.start()`) so the charts have history when an operator first looks.
 */
export function cacheSampler(
  cache: BacklogSource,
  {
    intervalMs = DEFAULT_SAMPLING.intervalMs,
    windowMs = DEFAULT_SAMPLING.windowMs,
  }: { intervalMs?: number; windowMs?: number } = {},
): Sampler {
  let operator: Operator | undefined;
  return new Sampler(
    async (): Promise<Sample> => {
      operator ??= new Operator(cache);
      const [stats, activity] = await Promise.all([cache.stats(), operator.activity()]);
      return {
        at: Date.now(),
        shards: stats.shards.map((shard, i) => ({
          lagMs: shard.oldestDirtyAgeMs,
          dirtyKeys: shard.dirtyKeys,
          failedKeys: shard.failedKeys,
          keys: shard.keys,
          bytes: shard.bytes,
          // A shard that has counted nothing yet has no hash: its totals are an empty hash's, all zero.
          activity: activity[i] ?? parseActivity(shard.shard, {}),
        })),
      };
    },
    { intervalMs, windowMs },
  );
}

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
  /**
   * What feeds the overview's charts. @defaultValue a {@link cacheSampler} started on the first request for
   * the charts' data (the process's own `index.ts` starts one at once)
   */
  sampler?: Sampler;
  /** Options of the operator's API (retry batch size, …). @defaultValue the library's defaults */
  operator?: OperatorOptions;
  /** How often the inspector refreshes a key shown, ms. @defaultValue `2000` */
  refreshMs?: number;
}

/**
 * The operators' dashboard: the overview at `/` (figures from `/api/stats`, live charts from `/api/series`),
 * the key inspector at `/keys`, failures by cause at `/failures`, the operator's JSON API under
 * {@link API_PATH} (the library's `createOperatorRouter`: every action audited with the signed-in user's name),
 * Bull Board over the flush queues at {@link BOARD_PATH}, Prometheus metrics at `/metrics`, all behind HTTP
 * Basic auth; `/healthz` stays open for orchestrators. Every response forbids framing and sniffing; a
 * state-changing request from another site is refused before authentication; failed logins are logged and
 * limited.
 */
export function createApp({
  cache,
  credentials,
  logger = console,
  refusals = new LogLimiter(logger),
  loginLimit: limit = DEFAULT_LOGIN_LIMIT,
  healthTimeoutMs = 1000,
  processMetrics = true,
  sampler = cacheSampler(cache),
  operator: operatorOptions = {},
  refreshMs = 2000,
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

  app.use('/assets', (req, res, next) => {
    const uplot = UPLOT_FILES[req.path.slice(1)];
    if (uplot) res.sendFile(uplot);
    else next();
  });
  app.use('/assets', express.static(PUBLIC_DIR, { index: false, redirect: false }));

  const api = API_PATH.slice(1);
  const pages: Record<PageName, { path: string; settings: Record<string, unknown> }> = {
    overview: {
      path: '/',
      settings: {
        statsPath: `${api}/stats`,
        seriesPath: `${api}/series`,
        pollMs: 1000,
        sampleMs: sampler.intervalMs,
      },
    },
    keys: { path: '/keys', settings: { apiPath: `${api}/`, refreshMs } },
    failures: { path: '/failures', settings: { apiPath: `${api}/` } },
  };
  for (const [name, page] of Object.entries(pages) as [PageName, (typeof pages)[PageName]][]) {
    app.get(page.path, pageHeaders(), (req, res) => {
      res.set('Cache-Control', 'no-store');
      const settings =
        name === 'overview' ? { ...page.settings, memoryBudget: memoryBudget(cache) } : page.settings;
      res.type('html').send(
        renderPage(name, {
          nonce: cspNonce(res),
          user: basicUser(req) ?? '',
          boardPath: `${BOARD_PATH.slice(1)}/`,
          settings,
        }),
      );
    });
  }

  app.get(`${API_PATH}/stats`, async (_req, res) => {
    const snapshot = await readBacklog().catch((error: unknown) => unavailable(res, error));
    if (snapshot) res.set('Cache-Control', 'no-store').json(snapshot);
  });

  app.get(`${API_PATH}/series`, (req, res) => {
    sampler.start();
    const since = Number(req.query.since);
    res.set('Cache-Control', 'no-store').json(sampler.series(Number.isFinite(since) ? since : undefined));
  });

  // The library's operator API: inspection, flush now, retry, discard, failures by cause, retries in batches.
  // Behind the same-origin check and the login above; each action's audit line names the signed-in user.
  // Made on first use: a backlog source that is no cache (a stand-in in tests) still serves the rest.
  let operatorRouter: express.Router | undefined;
  app.use(API_PATH, (req, res, next) => {
    operatorRouter ??= createOperatorRouter(cache, {
      ...operatorOptions,
      actor: (request) => basicUser(request) ?? 'unknown',
      audit: logger,
    });
    operatorRouter(req, res, next);
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
