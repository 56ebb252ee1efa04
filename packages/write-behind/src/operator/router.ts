import { randomBytes } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import { WriteBehindError } from '../errors.js';
import type { Logger } from '../options.js';
import { internalsOf } from '../write-behind.js';
import type { FailureSelector } from './causes.js';
import { type ActionResult, Operator, OperatorError, type RetryProgress } from './operator.js';
import type { OperatorRouterOptions } from './options.js';

/** A background retry of failed jobs, as `GET /failures/runs/:run` reports it. */
export interface RetryRun {
  id: string;
  actor: string;
  selector: FailureSelector;
  startedAt: number;
  finishedAt: number | null;
  progress: RetryProgress | null;
  /** Why the run stopped early, if it did. */
  error: string | null;
}

/** Runs kept for `GET /failures/runs/:run`, the newest. */
const KEPT_RUNS = 50;
/** Largest request body: a selection of keys to retry. */
const BODY_LIMIT = '256kb';

/**
 * The operator's JSON API over a cache, as an express router (express 5) for an app of your own; mount it
 * behind your authentication and cross-site request checks (it has none of its own), and it names the
 * operator of each action with `actor` in an audit line.
 *
 * | request | answer |
 * | --- | --- |
 * | `GET /entities` | `{ entities, settings }`: names, key parts and their kinds, fields; shards, memory budget |
 * | `GET /keys/:entity/:id` | a key's whole story ({@link KeyInspection}) |
 * | `POST /keys/:entity/:id/flush` | flushes a dirty key now ({@link ActionResult}) |
 * | `POST /keys/:entity/:id/retry` | retries its failed jobs |
 * | `POST /keys/:entity/:id/discard` | drops what Redis holds for it (its unflushed writes too); reloads from the database |
 * | `GET /failures` | failed jobs grouped by entity and cause ({@link FailureReport}) |
 * | `POST /failures/retry` | body `{ cause, entity? }` or `{ keys: [{ entity, id }] }`, optional `batchSize` and `wait`: retries in batches; 202 `{ run }` (200 with the finished run with `wait: true`) |
 * | `GET /failures/runs/:run` | a retry run's progress |
 * | `GET /activity` | every shard's activity counters (running totals) |
 *
 * `:id` is the key's canonical text, URL-encoded (a composite key's `/` as `%2F`). Errors are
 * `{ error: { code, message } }`: 400 `VALIDATION` / `UNKNOWN_ENTITY`, 404 `NOT_FOUND`, 409 with an
 * {@link OperatorError} code when an action is refused, 503 `UNAVAILABLE`.
 *
 * @example
 * ```ts
 * import { createOperatorRouter } from '@write-behind/core/operator';
 *
 * app.use('/ops/api', requireAuth, createOperatorRouter(cache, { actor: (req) => req.user.name, audit: logger }));
 * ```
 */
export function createOperatorRouter(cache: object, options: OperatorRouterOptions): Router {
  const { actor, audit: auditOption, ...operatorOptions } = options;
  if (typeof actor !== 'function') {
    throw new TypeError(
      'createOperatorRouter needs options.actor, a function naming the operator of a request',
    );
  }
  const operator = new Operator(cache, operatorOptions);
  const audit: Logger = auditOption ?? internalsOf(cache).context.logger;
  const runs = new Map<string, RetryRun>();
  const router = Router();
  router.use(express.json({ limit: BODY_LIMIT }));

  const who = (req: Request): string => {
    try {
      const name = actor(req);
      return typeof name === 'string' && name !== '' ? name : 'unknown';
    } catch {
      return 'unknown';
    }
  };

  router.get('/entities', (_req, res) => {
    res.json({ entities: operator.entities(), settings: operator.settings() });
  });

  router.get('/activity', async (_req, res, next) => {
    try {
      res.set('Cache-Control', 'no-store').json({ at: Date.now(), shards: await operator.activity() });
    } catch (error) {
      next(error);
    }
  });

  router.get('/keys/:entity/:id', async (req, res, next) => {
    try {
      res.set('Cache-Control', 'no-store').json(await operator.inspect(req.params.entity, req.params.id));
    } catch (error) {
      next(error);
    }
  });

  const actions = {
    flush: (entity: string, id: string) => operator.flushNow(entity, id),
    retry: (entity: string, id: string) => operator.retry(entity, id),
    discard: (entity: string, id: string) => operator.discard(entity, id),
  } satisfies Record<ActionResult['action'], (entity: string, id: string) => Promise<ActionResult>>;
  for (const [action, run] of Object.entries(actions)) {
    router.post(`/keys/:entity/:id/${action}`, async (req, res, next) => {
      const line = { actor: who(req), action, entity: req.params.entity, id: req.params.id };
      try {
        const result = await run(req.params.entity as string, req.params.id as string);
        audit.info({ ...line, outcome: result.outcome, jobIds: result.jobIds }, `operator ${action}`);
        res.json(result);
      } catch (error) {
        audit.warn(
          { ...line, outcome: outcomeOf(error), reason: (error as Error).message },
          `operator ${action} refused`,
        );
        next(error);
      }
    });
  }

  router.get('/failures', async (_req, res, next) => {
    try {
      res.set('Cache-Control', 'no-store').json(await operator.failures());
    } catch (error) {
      next(error);
    }
  });

  router.post('/failures/retry', async (req, res, next) => {
    const body = (req.body ?? {}) as {
      cause?: unknown;
      entity?: unknown;
      keys?: unknown;
      batchSize?: unknown;
      wait?: unknown;
    };
    const selector = (
      body.keys !== undefined
        ? { keys: body.keys }
        : { cause: body.cause, ...(body.entity === undefined ? {} : { entity: body.entity }) }
    ) as FailureSelector;
    const name = who(req);
    const line = {
      actor: name,
      action: 'retry-failures',
      ...('keys' in selector
        ? { keys: Array.isArray(selector.keys) ? selector.keys.length : 0 }
        : { cause: selector.cause, entity: selector.entity }),
    };
    const batchSize = body.batchSize;
    if (
      batchSize !== undefined &&
      (typeof batchSize !== 'number' || !Number.isSafeInteger(batchSize) || batchSize < 1)
    ) {
      audit.warn({ ...line, outcome: 'VALIDATION' }, 'operator retry-failures refused');
      res.status(400).json({
        error: {
          code: 'VALIDATION',
          message: `batchSize must be a whole number of 1 or more, got ${JSON.stringify(batchSize)}`,
        },
      });
      return;
    }
    let selected: number;
    try {
      selected = (await operator.selectFailures(selector)).length;
    } catch (error) {
      audit.warn(
        { ...line, outcome: outcomeOf(error), reason: (error as Error).message },
        'operator retry-failures refused',
      );
      next(error);
      return;
    }
    const run: RetryRun = {
      id: randomBytes(8).toString('hex'),
      actor: name,
      selector,
      startedAt: Date.now(),
      finishedAt: null,
      progress: null,
      error: null,
    };
    runs.set(run.id, run);
    for (const old of [...runs.keys()].slice(0, Math.max(0, runs.size - KEPT_RUNS))) runs.delete(old);
    audit.info({ ...line, run: run.id, selected, outcome: 'started' }, 'operator retry-failures');
    const finished = operator
      .retryFailures(selector, {
        ...(batchSize === undefined ? {} : { batchSize }),
        onBatch: (progress) => {
          run.progress = progress;
        },
      })
      .then(
        (progress) => {
          run.progress = progress;
          audit.info(
            {
              ...line,
              run: run.id,
              outcome: 'done',
              retried: progress.retried,
              flushed: progress.flushed,
              failedAgain: progress.failedAgain,
              pending: progress.pending,
            },
            'operator retry-failures',
          );
        },
        (error: unknown) => {
          run.error = (error as Error)?.message ?? String(error);
          audit.warn(
            { ...line, run: run.id, outcome: outcomeOf(error), reason: run.error },
            'operator retry-failures stopped',
          );
        },
      )
      .finally(() => {
        run.finishedAt = Date.now();
      });
    if (body.wait === true) {
      await finished;
      res.status(run.error ? 503 : 200).json({ run });
      return;
    }
    res.status(202).json({ run });
  });

  router.get('/failures/runs/:run', (req, res) => {
    const run = runs.get(req.params.run);
    if (!run) {
      res.status(404).json({
        error: {
          code: 'NOT_FOUND',
          message: `no retry run ${JSON.stringify(req.params.run)} in this process`,
        },
      });
      return;
    }
    res.set('Cache-Control', 'no-store').json({ run });
  });

  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (error instanceof OperatorError) {
      res.status(409).json({ error: { code: error.code, message: error.message } });
    } else if (error instanceof WriteBehindError && ['VALIDATION', 'UNKNOWN_ENTITY'].includes(error.code)) {
      res.status(400).json({ error: { code: error.code, message: error.message } });
    } else if (isBodyError(error)) {
      res.status(400).json({ error: { code: 'INVALID_JSON', message: 'the body must be JSON' } });
    } else {
      // Unavailable, timeouts, a closed cache and anything unexpected: the app's own error handler decides.
      next(error);
    }
  });
  return router;
}

/** What an audit line says of a refused or failed action: the error's code. */
function outcomeOf(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'ERROR';
}

/** A body express.json() could not parse. */
function isBodyError(error: unknown): boolean {
  return (error as { type?: unknown })?.type === 'entity.parse.failed';
}
