import type { AppendInput, EntityValues, Logger } from '@write-behind/core';
import type { DemoCache, DemoEntities } from '@write-behind/demo';
import express, { type NextFunction, type Request, type Response } from 'express';
import { HttpError, toHttpError } from './errors.ts';

/** The part of the cache the api uses; a fake with these methods serves tests. */
export type ApiCache = Pick<
  DemoCache,
  'get' | 'set' | 'increment' | 'delete' | 'stats' | 'top' | 'rank' | 'append'
>;

export interface ApiDependencies {
  cache: ApiCache;
  /** Where unexpected errors are logged. @defaultValue the console */
  logger?: Logger;
  /** `Retry-After` of a 503. @defaultValue `1` */
  retryAfterSeconds?: number;
  /** How long `/healthz` waits for Redis. @defaultValue `1000` */
  healthTimeoutMs?: number;
}

const SETTINGS_FIELDS = ['theme', 'language', 'notifications'] as const;
/** What a client sends of a video event; the api adds its time. */
const EVENT_FIELDS = ['type', 'context'] as const;
/** Checked by the library at run time; the cast only names the shape it checks. */
type EventWrite = AppendInput<DemoEntities['videoEvent']>;
/** The video counters the demo ranks (`counter({ ranked: true })` in its entities). */
const RANKED_FIELDS = ['likes', 'views'] as const;
/** Entries `GET /videos/top` returns unless `n` says otherwise. */
const DEFAULT_TOP = 10;
/** Checked by the library at run time; the cast only names the shape it checks. */
type SettingsWrite = Partial<EntityValues<DemoEntities['settings']>>;
/** Bodies are small JSON objects; anything bigger is a mistake or an attack. */
const BODY_LIMIT = '100kb';

/**
 * The demo web app: video counters and user settings over the write-behind cache. Every write is
 * acknowledged from Redis alone; the flush worker persists it to PostgreSQL within the flush window.
 *
 * @example
 * ```ts
 * const app = createApp({ cache });
 * app.listen(3000);
 * ```
 */
export function createApp({
  cache,
  logger = console,
  retryAfterSeconds = 1,
  healthTimeoutMs = 1000,
}: ApiDependencies): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: BODY_LIMIT }));

  app.get('/healthz', async (_req, res) => {
    try {
      await withTimeout(cache.stats(), healthTimeoutMs, 'Redis did not answer');
      res.json({ status: 'ok' });
    } catch (error) {
      res.status(503).json(errorBody('UNAVAILABLE', `Redis is unreachable: ${(error as Error).message}`));
    }
  });

  for (const field of ['likes', 'views'] as const) {
    app.post(`/videos/:id/${field}`, async (req, res) => {
      const body = objectBody(req, { optional: true });
      rejectUnknownFields(body, ['by']);
      const by = body.by === undefined ? 1 : body.by;
      // The library checks `by` (a safe integer) and answers with a ValidationError otherwise.
      const value = await cache.increment('video', req.params.id as string, field, by as number);
      res.json({ id: req.params.id, [field]: value });
    });
  }

  app.post('/videos/:id/events', async (req, res) => {
    const body = objectBody(req);
    rejectUnknownFields(body, EVENT_FIELDS);
    // The library checks `type` (text of at most 32 characters) and `context` (any JSON, or null).
    const event = { type: body.type, context: body.context ?? null, createdAt: new Date() } as EventWrite;
    const seq = await cache.append('videoEvent', req.params.id as string, event);
    // Accepted: Redis holds the event, its row follows within the flush window.
    res.status(202).json({ id: req.params.id, seq });
  });

  // Before `/videos/:id`, which would take `top` for an id.
  app.get('/videos/top', async (req, res) => {
    const by = rankedField(req);
    const n = req.query.n === undefined ? DEFAULT_TOP : integerQuery(req, 'n');
    // The library checks n's range (1 to 1000) and answers with a ValidationError otherwise.
    const top = await cache.top('video', by, n);
    res.json({ by, top: top.map((e) => ({ id: e.id, [by]: e.value, rank: e.rank })) });
  });

  app.get('/videos/:id/rank', async (req, res) => {
    const id = req.params.id as string;
    const by = rankedField(req);
    const position = await cache.rank('video', by, id);
    if (!position) throw new HttpError(404, 'NOT_FOUND', `video ${JSON.stringify(id)} does not exist`);
    res.json({ id, by, rank: position.rank, [by]: position.value });
  });

  app.get('/videos/:id', async (req, res) => {
    const id = req.params.id;
    const video = await cache.get('video', id);
    if (!video) throw new HttpError(404, 'NOT_FOUND', `video ${JSON.stringify(id)} does not exist`);
    res.json({ id, likes: video.likes, views: video.views });
  });

  app.get('/users/:id/settings', async (req, res) => {
    const userId = req.params.id;
    const settings = await cache.get('settings', userId);
    if (!settings) {
      throw new HttpError(404, 'NOT_FOUND', `settings of user ${JSON.stringify(userId)} do not exist`);
    }
    res.json({ userId, ...settings });
  });

  app.put('/users/:id/settings', async (req, res) => {
    const body = objectBody(req);
    rejectUnknownFields(body, SETTINGS_FIELDS);
    const missing = SETTINGS_FIELDS.filter((f) => body[f] === undefined);
    if (missing.length > 0) {
      throw new HttpError(
        400,
        'VALIDATION',
        `PUT replaces the whole record and needs ${SETTINGS_FIELDS.join(', ')}; missing: ${missing.join(', ')} (PATCH changes some fields)`,
      );
    }
    const settings = await cache.set('settings', req.params.id, body as SettingsWrite);
    res.json({ userId: req.params.id, ...settings });
  });

  app.patch('/users/:id/settings', async (req, res) => {
    const body = objectBody(req);
    rejectUnknownFields(body, SETTINGS_FIELDS);
    // An empty object and wrong types are the library's to refuse (ValidationError → 400); a PATCH of a
    // user without settings is its NotFoundError (→ 404), since only a PUT can create them.
    const settings = await cache.set('settings', req.params.id, body as SettingsWrite);
    res.json({ userId: req.params.id, ...settings });
  });

  app.delete('/users/:id/settings', async (req, res) => {
    await cache.delete('settings', req.params.id);
    res.status(204).end();
  });

  app.use((req, _res) => {
    throw new HttpError(404, 'NOT_FOUND', `no route for ${req.method} ${req.path}`);
  });

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const http = toHttpError(error, retryAfterSeconds);
    if (http.status >= 500) {
      logger.error({ err: error, method: req.method, path: req.path }, `${http.code} answering a request`);
    }
    res.status(http.status).set(http.headers).json(errorBody(http.code, http.message));
  });

  return app;
}

function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/** The JSON body as an object; a missing body reads as `{}` when `optional`. */
function objectBody(req: Request, { optional = false } = {}): Record<string, unknown> {
  const body: unknown = req.body;
  if (body === undefined && optional) return {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(
      400,
      'VALIDATION',
      body === undefined
        ? 'the request needs a JSON object body (Content-Type: application/json)'
        : 'the request body must be a JSON object',
    );
  }
  return body as Record<string, unknown>;
}

/** `?by=`: one of the ranked fields. */
function rankedField(req: Request): (typeof RANKED_FIELDS)[number] {
  const by = req.query.by;
  const field = RANKED_FIELDS.find((f) => f === by);
  if (!field) {
    throw new HttpError(
      400,
      'VALIDATION',
      `by must be one of ${RANKED_FIELDS.join(', ')}, got ${by === undefined ? 'nothing' : JSON.stringify(by)}`,
    );
  }
  return field;
}

/** A query parameter that must be a whole number written in digits. */
function integerQuery(req: Request, name: string): number {
  const text = req.query[name];
  if (typeof text !== 'string' || !/^\d{1,9}$/.test(text)) {
    throw new HttpError(400, 'VALIDATION', `${name} must be a whole number, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function rejectUnknownFields(body: Record<string, unknown>, allowed: readonly string[]): void {
  const unknown = Object.keys(body).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    throw new HttpError(
      400,
      'VALIDATION',
      `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}; allowed: ${allowed.join(', ')}`,
    );
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
