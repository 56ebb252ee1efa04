// A flush worker in a child process, for crash tests: `node --import tsx test/support/worker-process.ts`.
//
// Environment:
//   WB_PREFIX, WB_SCHEMA   the harness's key prefix and database schema (required)
//   HANG_ON_UPSERT=1       the first upsert prints `upsert-started` and never resolves (killed mid-flush)
//   HANG_AFTER_UPSERT=1    the first upsert commits, prints `upsert-committed`, then never resolves
//                          (killed after the commit, before the acknowledgement)
//   LOCK_DURATION_MS, STALLED_INTERVAL_MS, WINDOW_MS   worker settings (defaults 1000, 500, 100)
// Prints `ready` once the worker is connected. Stays up until killed.
import { createWriteBehind, type Store } from '@write-behind/core';
import { PrismaStore } from '@write-behind/core/internal';
import { createPrismaClient } from '@write-behind/db';
import { REDIS_URL, schemaUrl } from './env.ts';
import { entities, type TestEntities } from './harness.ts';

const { WB_PREFIX: prefix, WB_SCHEMA: schema } = process.env;
if (!prefix || !schema) throw new Error('worker-process needs WB_PREFIX and WB_SCHEMA');
// biome-ignore lint/suspicious/noUndeclaredEnvVars: set by the crash test for this child only; no turbo task reads it.
const hangBefore = process.env.HANG_ON_UPSERT === '1';
// biome-ignore lint/suspicious/noUndeclaredEnvVars: as above.
const hangAfter = process.env.HANG_AFTER_UPSERT === '1';
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

const say = (line: string) => process.stdout.write(`${line}\n`);
const never = new Promise<void>(() => {});

const inner = new PrismaStore(createPrismaClient(schemaUrl(schema)), {
  tombstoneTable: 'write_behind_tombstone',
});
let signalled = false;
const store: Store = {
  dataModel: inner.dataModel,
  verify: (e) => inner.verify(e),
  load: (e, ids) => inner.load(e, ids),
  delete: (e, rows) => inner.delete(e, rows),
  purgeTombstones: (ms) => inner.purgeTombstones(ms),
  isUnavailable: (err) => inner.isUnavailable(err),
  async upsert(e, rows) {
    if (hangBefore) {
      if (!signalled) say('upsert-started');
      signalled = true;
      return never;
    }
    await inner.upsert(e, rows);
    if (hangAfter) {
      if (!signalled) say('upsert-committed');
      signalled = true;
      return never;
    }
  },
};

const cache = createWriteBehind<TestEntities>({
  redis: REDIS_URL,
  entities,
  prefix,
  store,
  flush: { windowMs: num('WINDOW_MS', 100), backoffMs: 50 },
  logger: {
    info: () => {},
    warn: (obj, msg) => process.stderr.write(`warn: ${msg} ${JSON.stringify(obj)}\n`),
    error: (obj, msg) => process.stderr.write(`error: ${msg} ${JSON.stringify(obj)}\n`),
  },
});
const worker = cache.createWorker({
  lockDurationMs: num('LOCK_DURATION_MS', 1000),
  stalledIntervalMs: num('STALLED_INTERVAL_MS', 500),
  // Recovery must come from BullMQ's stalled-job check alone, not from the sweep.
  sweep: false,
});
await worker.ready;
say('ready');
