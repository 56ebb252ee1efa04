// The writer's retry of flush jobs whose enqueue failed (see write/enqueue-retry.ts): added again with
// backoff until each add succeeds, bounded in memory, stopped by close.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flushJob } from '../../src/flush/job.ts';
import {
  EnqueueRetry,
  MAX_REMEMBERED_JOBS,
  RETRY_DELAYS_MS,
  type RetryRound,
  type ShardJob,
} from '../../src/write/enqueue-retry.ts';

const entry = (id: string, shard = 0): ShardJob => ({
  shard,
  job: flushJob({ entity: 'video', id }, `video.${id}.v1`, 0),
});

/** An add that fails for each job id the given number of times, then succeeds; and the rounds heard. */
function recorder(failures: Record<string, number>) {
  const added: string[] = [];
  const rounds: RetryRound[] = [];
  let heard: (() => void) | undefined;
  const add = async ({ job }: ShardJob) => {
    const id = job.opts.jobId as string;
    if ((failures[id] ?? 0) > 0) {
      failures[id] = (failures[id] ?? 0) - 1;
      throw new Error(`Redis unreachable for ${id}`);
    }
    added.push(id);
  };
  const onRound = (round: RetryRound) => {
    rounds.push(round);
    heard?.();
  };
  /** Resolves once `n` rounds have run in all (the retry's timer is unref'd: the wait holds the process). */
  const rounds_ = (n: number) =>
    new Promise<void>((resolve) => {
      const keepAlive = setInterval(() => {}, 1000);
      const check = () => {
        if (rounds.length < n) return;
        clearInterval(keepAlive);
        resolve();
      };
      heard = check;
      check();
    });
  return { add, onRound, added, rounds, untilRounds: rounds_ };
}

test('a job whose add keeps failing is added once Redis takes it, the others at the first round', async () => {
  const r = recorder({ 'video.b.v1': 2 });
  const retry = new EnqueueRetry(r.add, r.onRound);
  assert.equal(retry.remember(entry('a')), true);
  assert.equal(retry.remember(entry('b', 1)), true);
  assert.equal(retry.size, 2);
  await r.untilRounds(3);
  assert.deepEqual(r.added, ['video.a.v1', 'video.b.v1']);
  assert.deepEqual(
    r.rounds.map(({ added, left }) => ({ added, left })),
    [
      { added: 1, left: 1 },
      { added: 0, left: 1 },
      { added: 1, left: 0 },
    ],
  );
  assert.match(String(r.rounds[0]?.error), /unreachable for video\.b\.v1/);
  assert.equal(retry.size, 0);
  retry.close();
});

test('the same job remembered twice is added once per round', async () => {
  const r = recorder({});
  const retry = new EnqueueRetry(r.add, r.onRound);
  retry.remember(entry('a'));
  retry.remember(entry('a'));
  assert.equal(retry.size, 1);
  await r.untilRounds(1);
  assert.deepEqual(r.added, ['video.a.v1']);
  retry.close();
});

test('past the most it remembers, a job is refused (the sweep finds its key)', () => {
  const retry = new EnqueueRetry(
    async () => {},
    () => {},
  );
  for (let i = 0; i < MAX_REMEMBERED_JOBS; i++) assert.equal(retry.remember(entry(`k${i}`)), true);
  assert.equal(retry.remember(entry('one-more')), false);
  assert.equal(retry.remember(entry('k0')), true, 'one already remembered is kept');
  retry.close();
});

test('close stops the retries and refuses new jobs', async () => {
  const r = recorder({});
  const retry = new EnqueueRetry(r.add, r.onRound);
  retry.remember(entry('a'));
  retry.close();
  assert.equal(retry.remember(entry('b')), false);
  await new Promise((resolve) => setTimeout(resolve, RETRY_DELAYS_MS.first * 3));
  assert.deepEqual(r.rounds, [], 'no round ran after close');
});
