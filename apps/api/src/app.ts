import { randomUUID } from 'node:crypto';
import type { AppendInput, EntityValues, Logger } from '@write-behind/core';
import { type DemoCache, type DemoEntities, errorReason, healthCheck, LogLimiter } from '@write-behind/demo';
import express, { type NextFunction, type Request, type Response } from 'express';
import { DEFAULT_MAX_INCREMENT_BY } from './config.ts';
import { HttpError, toHttpError } from './errors.ts';

/** The part of the cache the api uses; a fake with these methods serves tests. */
export type ApiCache = Pick<
  DemoCache,
  'get' | 'set' | 'increment' | 'add' | 'delete' | 'stats' | 'top' | 'rank' | 'append'
>;

export interface ApiDependencies {
  cache: ApiCache;
  /**
   * Where unexpected errors are logged (at error, with their stack), and refused requests (at warn, through
   * `refusals`). @defaultValue the console
   */
  logger?: Logger;
  /**
   * Writes the warnings about refused requests (4xx, 503) and failed health checks, a few lines per error
   * code and window. @defaultValue a {@link LogLimiter} over `logger` with its default window
   */
  refusals?: LogLimiter;
  /** `Retry-After` of a 503. @defaultValue `1` */
  retryAfterSeconds?: number;
  /** How long `/healthz` waits for Redis. @defaultValue `1000` */
  healthTimeoutMs?: number;
  /**
   * The largest `by` of `POST /videos/:id/likes` and `/views` (`MAX_INCREMENT_BY`): one request adds 1 to
   * this much. @defaultValue `1000`
   */
  maxIncrementBy?: number;
}

const SETTINGS_FIELDS = ['theme', 'language', 'notifications'] as const;
/** What a client sends of a video event; the api adds its time. */
const EVENT_FIELDS = ['type', 'context'] as const;
/** Checked by the library at run time; the cast only names the shape it checks. */
type EventWrite = AppendInput<DemoEntities['videoEvent']>;
/** What a client sends of a comment; the api adds its id, its video and its time. */
const COMMENT_FIELDS = ['author', 'body'] as const;
/** The video counters the demo ranks (`counter({ ranked: true })` in its entities). */
const RANKED_FIELDS = ['likes', 'views'] as const;
/** Entries `GET /videos/top` returns unless `n` says otherwise. */
const DEFAULT_TOP = 10;
/** Checked by the library at run time; the cast only names the shape it checks. */
type SettingsWrite = Partial<EntityValues<DemoEntities['settings']>>;
/** Bodies are small JSON objects; anything bigger is a mistake or an attack. */
const BODY_LIMIT = '100kb';

/**
 * The demo web app: video counters, events and comments, and user settings over the write-behind cache.
 * Every write is acknowledged from Redis alone; the flush worker persists it to PostgreSQL within the flush
 * window.
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
  refusals = new LogLimiter(logger),
  retryAfterSeconds = 1,
  healthTimeoutMs = 1000,
  maxIncrementBy = DEFAULT_MAX_INCREMENT_BY,
}: ApiDependencies): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: BODY_LIMIT }));

  const checkHealth = healthCheck(cache, { timeoutMs: healthTimeoutMs, refusals });
  app.get('/healthz', async (_req, res) => {
    const { status, body } = await checkHealth();
    res.status(status).json(body);
  });

  // Likes answer with the new total, which may read a video Redis does not hold; views are counted without
  // an answer (`add`), so a view never waits on the database, even for a video Redis evicted long ago.
  app.post('/videos/:id/likes', async (req, res) => {
    const by = incrementOf(req, maxIncrementBy);
    const likes = await cache.increment('video', req.params.id as string, 'likes', by);
    res.json({ id: req.params.id, likes });
  });
  app.post('/videos/:id/views', async (req, res) => {
    const by = incrementOf(req, maxIncrementBy);
    await cache.add('video', req.params.id as string, 'views', by);
    // Accepted: Redis holds the view; the total follows in PostgreSQL, and `GET /videos/:id` reads it.
    res.status(202).json({ id: req.params.id, added: { views: by } });
  });

  app.post('/videos/:id/events', async (req, res) => {
    const body = objectBody(req);
    rejectUnknownFields(body, EVENT_FIELDS);
    // The library checks `type` (text of at most 32 characters) and `context` (any JSON, or null).
    const event = { type: body.type, context: body.context ?? null, createdAt: new Date() } as EventWrite;
    const seq = await cache.append('videoEvent', req.params.id as string, event);
    // Accepted: Redis holds the event, its row follows within the flush window.
    res.status(202).json({ id: req.params.id, seq });
  });

  // A comment is a child row of its video (the table's foreign key): the flush writes a new video before its
  // comments. The video must exist (in Redis or PostgreSQL): a comment on no video would be acknowledged and
  // then refused by the database at every flush, a failed job instead of an answer.
  app.post('/videos/:id/comments', async (req, res) => {
    const videoId = req.params.id as string;
    const { author, body } = commentOf(req);
    // Reads PostgreSQL only for a video Redis does not hold (as a like does).
    if (!(await cache.get('video', videoId))) {
      throw new HttpError(404, 'NOT_FOUND', `video ${JSON.stringify(videoId)} does not exist`);
    }
    // The library checks the lengths (the columns' VarChar(64) and VarChar(2000)). Every field given: a new
    // record, acknowledged from Redis without reading the database.
    const commentId = randomUUID();
    await cache.set('comment', commentId, { videoId, author, body, createdAt: new Date() });
    // Accepted: Redis holds the comment, its row follows its video's within the flush window.
    res.status(202).json({ id: videoId, commentId });
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
    if (position) {
      res.json({ id, by, rank: position.rank, [by]: position.value });
      return;
    }
    // Under the memory budget a ranking keeps only its highest videos (CACHE_RANKING_ENTRIES): one below them
    // has a value but no rank.
    const video = await cache.get('video', id);
    if (!video) throw new HttpError(404, 'NOT_FOUND', `video ${JSON.stringify(id)} does not exist`);
    res.json({ id, by, rank: null, [by]: video[by] });
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
    const body = completeBody(
      req,
      SETTINGS_FIELDS,
      (missing) =>
        `PUT replaces the whole record and needs ${SETTINGS_FIELDS.join(', ')}; missing: ${missing} (PATCH changes some fields)`,
    );
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
    if (http.status === 500) {
      // Only what no mapping knows is a bug, worth a stack every time.
      logger.error({ err: error, method: req.method, path: req.path }, `${http.code} answering a request`);
    } else {
      // A refusal the client is told about (bad input, a full backlog, Redis away): a few lines per window.
      const reason = error === http ? http.message : errorReason(error);
      refusals.warn(
        http.code,
        { status: http.status, method: req.method, path: req.path, reason },
        'request refused',
      );
    }
    res.status(http.status).set(http.headers).json(errorBody(http.code, http.message));
  });

  return app;
}

function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/** The `by` of a likes or views request: 1 unless the body names it. */
function incrementOf(req: Request, maxIncrementBy: number): number {
  const body = objectBody(req, { optional: true });
  rejectUnknownFields(body, ['by']);
  return body.by === undefined ? 1 : incrementBy(body.by, maxIncrementBy);
}

/** A comment's `author` and `body`: both required, each text that is not blank. */
function commentOf(req: Request): Record<(typeof COMMENT_FIELDS)[number], string> {
  const body = completeBody(
    req,
    COMMENT_FIELDS,
    (missing) => `a comment needs ${COMMENT_FIELDS.join(' and ')}; missing: ${missing}`,
  );
  for (const field of COMMENT_FIELDS) {
    const value = body[field];
    if (typeof value !== 'string' || value.trim() === '') {
      const shown = JSON.stringify(value) ?? String(value);
      throw new HttpError(
        400,
        'VALIDATION',
        `${field} must be text that is not blank, got ${shown.length > 40 ? `${shown.slice(0, 40)}...` : shown}`,
      );
    }
  }
  return { author: body.author as string, body: body.body as string };
}

/**
 * The JSON body, an object of exactly `fields`, all given: any other field, or one of them missing, is a 400 whose
 * message `needs` writes from the missing fields' names.
 */
function completeBody(
  req: Request,
  fields: readonly string[],
  needs: (missing: string) => string,
): Record<string, unknown> {
  const body = objectBody(req);
  rejectUnknownFields(body, fields);
  const missing = fields.filter((f) => body[f] === undefined);
  if (missing.length > 0) throw new HttpError(400, 'VALIDATION', needs(missing.join(', ')));
  return body;
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

/**
 * `by` of an increment: a whole number from 1 to `max`. Bounded here rather than left to the library, which
 * takes any safe integer: one anonymous request must not move a counter by billions, or down.
 */
function incrementBy(by: unknown, max: number): number {
  if (typeof by === 'number' && Number.isInteger(by) && by >= 1 && by <= max) return by;
  const shown = JSON.stringify(by) ?? String(by);
  throw new HttpError(
    400,
    'VALIDATION',
    `by must be a whole number from 1 to ${max}, got ${shown.length > 40 ? `${shown.slice(0, 40)}...` : shown}`,
  );
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
