// Bull Board over a cache's flush queues, as one express router the user mounts in their own app, behind
// their own authentication. Public entry `@write-behind/core/bull-board`, apart from the main entry so that
// only users who want it need `@bull-board/api`, `@bull-board/express` and `express` installed.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import { type Express, type Response, Router } from 'express';
import { checkKeys, type KeyShapeOf } from './check-keys.js';
import { ConfigurationError } from './errors.js';

/** Options of {@link createBullBoardRouter}. */
export interface BullBoardOptions {
  /**
   * The full URL path the router is mounted at, from the root of the site (`'/admin/queues'`): Bull Board's
   * page loads its scripts and calls its API under it. Starts with `/`, no trailing `/`.
   */
  basePath: string;
  /**
   * Show the jobs without any action: no retry, clean, promote, pause or delete, refused by the API too
   * (Bull Board's `readOnlyMode`), not only hidden. @defaultValue `false`
   */
  readOnly?: boolean;
  /** The board's title, shown in its header. @defaultValue `'write-behind flush queues'` */
  title?: string;
}

/** Every default of {@link BullBoardOptions}; the TSDoc above repeats them for editors. */
export const DEFAULT_BULL_BOARD_OPTIONS = {
  readOnly: false,
  title: 'write-behind flush queues',
} as const satisfies Omit<Required<BullBoardOptions>, 'basePath'>;

/** The name of every option of {@link createBullBoardRouter}: another is refused with the closest. */
const BULL_BOARD_OPTION_KEYS = {
  basePath: true,
  readOnly: true,
  title: true,
} as const satisfies KeyShapeOf<BullBoardOptions>;

/** What the router needs from the cache: a `WriteBehind` instance fits. */
export interface BullBoardSource {
  /** The flush queues, one per shard. */
  readonly queues: readonly Queue[];
}

/** The `error.code` of the `405` answer to a retry of a completed job. */
export const COMPLETED_RETRY_REFUSED = 'COMPLETED_RETRY_REFUSED';

/**
 * An express router serving Bull Board over every flush queue of `cache`, one queue per shard, for an app
 * of your own (express 5). It has no authentication: mount it behind yours, since it can retry and delete
 * jobs.
 *
 * Each shard's queue has a name of its own (`flush` with one shard; `flush-0`, `flush-1`, … with several), which
 * the board and its URLs and API use. Queues whose names collide (the caches of two prefixes mounted together)
 * are told apart by a `q<n>-` prefix, `n` their position in `cache.queues`.
 *
 * Failed flush jobs can be retried: a retried job writes the key's current state, and only if it is newer
 * than the row. Completed jobs cannot: they already wrote, and the retry endpoints answer `405` with
 * `{ error: { code: 'COMPLETED_RETRY_REFUSED' } }` (Bull Board's `allowCompletedRetries: false` only hides
 * the button). `readOnly: true` refuses every action.
 *
 * @throws {@link ConfigurationError} when `basePath` is not an absolute path without a trailing `/`.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { createWriteBehind } from '@write-behind/core';
 * import { createBullBoardRouter } from '@write-behind/core/bull-board';
 *
 * const cache = createWriteBehind({ redis, prisma, entities, shards: 2 });
 * const app = express();
 * // `requireAuth` is your own middleware: Bull Board has none.
 * app.use('/admin/queues', requireAuth, createBullBoardRouter(cache, { basePath: '/admin/queues' }));
 * app.listen(3000);
 * ```
 */
export function createBullBoardRouter(cache: BullBoardSource, options: BullBoardOptions): Router {
  const { basePath, readOnly, title } = resolveBullBoardOptions(options);
  const queues = cache.queues;

  const queuesByName = new Map<string, Queue>();
  // Bull Board keys its queues by name: two queues of one name would leave one of them out.
  const unique = new Set(queues.map((queue) => queue.name)).size === queues.length;
  const adapters = queues.map((queue, index) => {
    const prefix = unique ? '' : `q${index}-`;
    queuesByName.set(`${prefix}${queue.name}`, queue);
    // `allowCompletedRetries` is read by the adapter but missing from its options type in 9.x.
    const adapterOptions = {
      readOnlyMode: readOnly,
      allowRetries: !readOnly,
      allowCompletedRetries: false,
      prefix,
      description: `write-behind flush jobs (${queue.qualifiedName})`,
    };
    return new BullMQAdapter(queue, adapterOptions);
  });

  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({ queues: adapters, serverAdapter, options: { uiConfig: { boardTitle: title } } });
  const board = serverAdapter.getRouter() as Express;
  board.disable('x-powered-by');

  const router = Router();
  // Bull Board's own retry endpoints do not enforce `allowCompletedRetries: false`. A completed flush job
  // already wrote its data; running it again is pointless at best, so the endpoints refuse completed jobs
  // here, before Bull Board sees the request. Anything else (an unknown queue or job) goes on to Bull Board.
  router.put('/api/queues/:queueName/retry/:status', (req, res, next) => {
    if (req.params.status !== 'completed') return next();
    refuseCompletedRetry(res);
  });
  router.put('/api/queues/:queueName/:jobId/retry', async (req, res, next) => {
    const queue = queuesByName.get(req.params.queueName);
    if (queue && (await queue.getJobState(req.params.jobId)) === 'completed')
      return refuseCompletedRetry(res);
    next();
  });
  router.use(board);
  return router;
}

/**
 * Merges the defaults into `options` and checks them.
 * @throws {@link ConfigurationError} naming the option and quoting the bad value.
 */
export function resolveBullBoardOptions(options: BullBoardOptions): Required<BullBoardOptions> {
  checkKeys(options, BULL_BOARD_OPTION_KEYS, 'createBullBoardRouter()');
  // `??` rather than a spread, so that an option given as `undefined` takes its default.
  const resolved = {
    basePath: options.basePath,
    readOnly: options.readOnly ?? DEFAULT_BULL_BOARD_OPTIONS.readOnly,
    title: options.title ?? DEFAULT_BULL_BOARD_OPTIONS.title,
  };
  const { basePath, readOnly, title } = resolved;
  if (
    typeof basePath !== 'string' ||
    !basePath.startsWith('/') ||
    (basePath !== '/' && basePath.endsWith('/'))
  ) {
    throw new ConfigurationError(
      `basePath must be the absolute path the router is mounted at, starting with '/' and without a trailing '/' (like '/admin/queues'), got ${JSON.stringify(basePath)}`,
    );
  }
  if (typeof readOnly !== 'boolean') {
    throw new ConfigurationError(`readOnly must be true or false, got ${JSON.stringify(readOnly)}`);
  }
  if (typeof title !== 'string') {
    throw new ConfigurationError(`title must be a string, got ${JSON.stringify(title)}`);
  }
  return resolved;
}

function refuseCompletedRetry(res: Response): void {
  res.status(405).json({
    error: {
      code: COMPLETED_RETRY_REFUSED,
      message: 'a completed flush job already wrote its data; only failed jobs can be retried',
    },
  });
}
