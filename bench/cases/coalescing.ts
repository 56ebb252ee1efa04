// C1: how many acknowledged writes one database row write carries, on a skewed (Zipf) key set at full speed.
import { type BenchContext, type CaseResult, loadSummary } from '../lib/context.ts';
import { zipf } from '../lib/distributions.ts';
import { startFlushingCache } from '../lib/entities.ts';
import { runLoad } from '../lib/load.ts';

const DRAIN_TIMEOUT_MS = 60_000;

export async function coalescing(ctx: BenchContext): Promise<CaseResult> {
  const { plan, db } = ctx;
  const prefix = `${ctx.prefix}-c1`;
  // Count real row writes, as test/coalescing.test.ts does: a trigger logs every insert and update of a
  // C1 row (the version guard turns a stale upsert into no row write, and the trigger does not fire then).
  await db.pool.query(`
    CREATE TABLE bench_row_writes (id text);
    CREATE FUNCTION bench_log_row_write() RETURNS trigger AS $$
      BEGIN INSERT INTO bench_row_writes (id) VALUES (NEW.id); RETURN NEW; END $$ LANGUAGE plpgsql;
    CREATE TRIGGER bench_video_row_writes AFTER INSERT OR UPDATE ON "Video"
      FOR EACH ROW WHEN (NEW.id LIKE 'c1-%') EXECUTE FUNCTION bench_log_row_write();
  `);
  const { cache, worker, close } = await startFlushingCache(ctx, prefix);
  try {
    const nextKey = zipf(plan.coalescingKeys, plan.zipfS, 11);
    const load = await runLoad({
      concurrency: plan.inFlight,
      total: Number.MAX_SAFE_INTEGER,
      maxMs: plan.coalescingMs,
      op: () => cache.increment('video', `c1-${nextKey()}`, 'likes'),
    });
    // Every acknowledged write must reach the database before the row writes are counted.
    await cache.drain({ timeoutMs: DRAIN_TIMEOUT_MS });
    const counters = await worker.stop();
    const { rows } = await db.pool.query<{ row_writes: string; likes: string; keys: string }>(`
      SELECT (SELECT count(*) FROM bench_row_writes)::text AS row_writes,
             (SELECT coalesce(sum(likes), 0) FROM "Video" WHERE id LIKE 'c1-%')::text AS likes,
             (SELECT count(*) FROM "Video" WHERE id LIKE 'c1-%')::text AS keys`);
    const rowWrites = Number(rows[0]?.row_writes);
    const persistedLikes = Number(rows[0]?.likes);
    const writesPerRowWrite = load.completed / rowWrites;
    const seconds = load.elapsedMs / 1000;
    // Every key is written in every window here, so a scheme that writes each key once per window gets about
    // this many writes per row write (a little more: a flush cycle is the window plus the flush itself).
    const bestPossible = (load.opsPerSec * plan.windowMs) / 1000 / plan.coalescingKeys;
    return {
      id: 'C1',
      title: `coalescing: ${plan.coalescingKeys} Zipf(s=${plan.zipfS}) keys, ${Math.round(seconds)} s, window ${plan.windowMs} ms, worker running`,
      ...loadSummary(load),
      notes: [
        `${writesPerRowWrite.toFixed(0)} acked writes per row write (${load.completed.toLocaleString('en')} writes, ${rowWrites.toLocaleString('en')} row writes)`,
        `bound when every key is written in every window: rate × window / keys ≈ ${bestPossible.toFixed(0)}`,
        persistedLikes === load.completed
          ? 'sum(likes) in PostgreSQL = acked writes'
          : `MISMATCH: sum(likes) ${persistedLikes} ≠ acked ${load.completed}`,
      ],
      metrics: {
        writesPerRowWrite,
        bestPossible,
        rowWrites,
        ackedWrites: load.completed,
        persistedLikes,
        rowsKept: Number(rows[0]?.keys),
        workerRowsWritten: counters.rowsWritten ?? 0,
        workerStatements: counters.statements ?? 0,
      },
    };
  } finally {
    await close();
    await db.pool.query(`
      DROP TRIGGER IF EXISTS bench_video_row_writes ON "Video";
      DROP FUNCTION IF EXISTS bench_log_row_write();
      DROP TABLE IF EXISTS bench_row_writes;
    `);
  }
}
