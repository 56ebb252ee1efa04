// Many increments of one key (an Int key, a composite key) land as the exact total, in at most one row write
// per flush window.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { countRowWrites, createKindsHarness, type KindsHarness, rowWrites } from './harness.ts';

const WINDOW_MS = 1000;
const ROUNDS = 20;
const PER_ROUND = 100;
const TOTAL = ROUNDS * PER_ROUND;

let h: KindsHarness;
before(async () => {
  h = await createKindsHarness({ flush: { windowMs: WINDOW_MS } });
  await countRowWrites(h.db, 'players', 'NEW.id::text');
  await countRowWrites(h.db, 'memberships', `NEW.org_id || '/' || NEW.user_id`);
  await h.startWorker();
});
after(() => h.close());

/** Runs `increment` TOTAL times, PER_ROUND at once; returns every result and how long it took. */
async function hammer(increment: () => Promise<number>): Promise<{ results: number[]; elapsedMs: number }> {
  const started = Date.now();
  const results: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    results.push(...(await Promise.all(Array.from({ length: PER_ROUND }, increment))));
  }
  return { results: results.sort((a, b) => a - b), elapsedMs: Date.now() - started };
}

function assertFewWrites(writes: number, elapsedMs: number): void {
  const windows = Math.ceil(elapsedMs / WINDOW_MS) + 1;
  assert.ok(writes >= 1 && writes <= windows, `expected 1 to ${windows} row writes, saw ${writes}`);
}

test(`player (Int key): ${TOTAL} increments of an Int and a BigInt counter land exactly, in few row writes`, async () => {
  await h.cache.set('player', 7, { name: 'hot', ratio: 0 });
  const score = await hammer(() => h.cache.increment('player', 7, 'score'));
  const xp = await hammer(() => h.cache.increment('player', 7, 'xp', 1_000_000_000));
  assert.deepEqual(
    score.results,
    Array.from({ length: TOTAL }, (_, i) => i + 1),
  );
  assert.equal(xp.results.at(-1), TOTAL * 1_000_000_000);
  await h.cache.flushed('player', 7, { timeoutMs: 15_000 });
  const { rows } = await h.db.pool.query('SELECT score, xp::text FROM players WHERE id = 7');
  assert.deepEqual(rows[0], { score: TOTAL, xp: String(TOTAL * 1_000_000_000) });
  assertFewWrites(await rowWrites(h.db, 'players', '7'), score.elapsedMs + xp.elapsedMs);
});

test(`membership (composite key): ${TOTAL} increments land exactly, in few row writes`, async () => {
  const id = { orgId: '1b4e28ba-2fa1-11d2-883f-0016d3cca427', userId: 3 };
  await h.cache.set('membership', id, { role: 'member', since: new Date() });
  const visits = await hammer(() => h.cache.increment('membership', id, 'visits'));
  assert.deepEqual(
    visits.results,
    Array.from({ length: TOTAL }, (_, i) => i + 1),
  );
  await h.cache.flushed('membership', id, { timeoutMs: 15_000 });
  const { rows } = await h.db.pool.query(
    'SELECT visits FROM memberships WHERE org_id = $1 AND user_id = $2',
    [id.orgId, id.userId],
  );
  assert.equal(rows[0]?.visits, TOTAL);
  assertFewWrites(await rowWrites(h.db, 'memberships', h.canonical('membership', id)), visits.elapsedMs);
});
