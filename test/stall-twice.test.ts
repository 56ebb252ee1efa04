// A flush job whose worker dies twice (BullMQ maxStalledCount 1) is moved to the failed set with "job stalled
// more than allowable limit". The key is still dirty and nothing else writes it: it must still reach
// PostgreSQL: the sweep re-enqueues it under a fresh job id, since the failed job keeps the old one.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createHarness, type Harness, videoRow } from './support/harness.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKER_ENTRY = fileURLToPath(new URL('./support/worker-process.ts', import.meta.url));

function hangingWorker(h: Harness): { child: ChildProcess; started: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER_ENTRY], {
    cwd: ROOT,
    env: {
      ...process.env,
      WB_PREFIX: h.prefix,
      WB_SCHEMA: h.db.schema,
      HANG_ON_UPSERT: '1',
      LOCK_DURATION_MS: '1000',
      STALLED_INTERVAL_MS: '500',
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no upsert-started in 20 s')), 20_000);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line.trim() === 'upsert-started') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { child, started };
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

let h: Harness;
const children: ChildProcess[] = [];
before(async () => {
  h = await createHarness({
    flush: { windowMs: 100, backoffMs: 50 },
    sweep: { intervalMs: 300, graceMs: 300 },
  });
});
after(async () => {
  for (const c of children) await kill(c);
  await h.close();
});

test('a job stalled twice still gets its key flushed', async () => {
  assert.equal(await h.cache.increment('video', 'twice', 'likes', 5), 5);
  for (let round = 0; round < 2; round++) {
    const w = hangingWorker(h);
    children.push(w.child);
    await w.started;
    await kill(w.child);
  }
  // A healthy worker with a fast stalled check: it finds the job stalled a second time and fails it.
  await h.startWorker({ lockDurationMs: 1000, stalledIntervalMs: 500 });
  let drained = true;
  try {
    await h.cache.drain({ timeoutMs: 15_000 });
  } catch {
    drained = false;
  }
  const failed = await h.queue.getFailed();
  const reasons = failed.map((j) => j.failedReason);
  assert.ok(
    drained,
    `drain finished (failed jobs: ${JSON.stringify(failed.map((j) => j.id))} ${JSON.stringify(reasons)})`,
  );
  assert.ok(
    reasons.some((r) => r.includes('stalled')),
    `the job failed by stalling, as the test intends: ${JSON.stringify(reasons)}`,
  );
  assert.deepEqual(await videoRow(h.db, 'twice'), { likes: 5, views: 0, version: 1 });
});

test('retrying the stalled job by hand afterwards changes nothing', async () => {
  for (const job of await h.queue.getFailed()) await job.retry();
  await h.cache.drain({ timeoutMs: 10_000 });
  assert.deepEqual(await videoRow(h.db, 'twice'), { likes: 5, views: 0, version: 1 });
});
