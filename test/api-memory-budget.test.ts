// Guarantee 23 through the api (issue 27): 10,000 distinct videos written through the demo api's HTTP routes
// (`POST /videos/:id/likes` and `/views`, one id each, alternately), the api and a worker running as processes
// under a memory budget scaled down from 64 MiB for 1,000,000 ids: clean keys are evicted, no acknowledged write
// is lost, every row in PostgreSQL is exact, and the cache's data keys, measured with MEMORY USAGE at every
// sample, stay within the budget, with the rankings' kept entries. The full run (`scripts/flood.ts`, 1,000,000
// ids under 64 MiB) and its figures are in docs/RELIABILITY.md, "Guarantee 23 at scale".
// The run itself lives in packages/testkit/src/flood.ts.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { floodPassed, formatFloodReport, runFlood } from '@write-behind/testkit';

const IDS = 10_000;
/** 64 MiB for 1,000,000 ids, scaled to 10,000: 671,089 bytes, room for about 2,400 of the 5,000 records. */
const MAX_BYTES = Math.round((64 * 1024 * 1024 * IDS) / 1_000_000);
/**
 * Entries each of the two rankings keeps (`CACHE_RANKING_ENTRIES`): the demo's 10,000 for 1,000,000 ids would
 * be 1 %; 500 of 10,000 is 5 %, and its reserve (2 × 500 × 160 bytes) leaves the keys half the budget.
 */
const RANKING_ENTRIES = 500;
/** The api's one writer state (1,024 batches' replies of a few writes each), the clock and figures: about 120 KiB. */
const BOOKKEEPING_BYTES = 256 * 1024;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

describe('10,000 distinct videos through the api under a 655 KiB memory budget', () => {
  let report: Awaited<ReturnType<typeof runFlood>>;
  before(async () => {
    report = await runFlood({
      ids: IDS,
      maxBytes: MAX_BYTES,
      rankingEntries: RANKING_ENTRIES,
      concurrency: 32,
      // Shorter than the demo's second, so the drain after the load is short too.
      flushWindowMs: 200,
      sampleEveryMs: 500,
      measureKeys: true,
    });
    console.log(formatFloodReport(report));
  });

  test('every acknowledged write is in PostgreSQL, exactly; refused writes changed nothing', () => {
    assert.ok(floodPassed(report), formatFloodReport(report));
    assert.deepEqual(report.errors, {});
    // A refused write was sent again until acknowledged: every id ends with one acknowledged write.
    assert.equal(report.abandoned, 0);
    assert.equal(report.acked, IDS);
    assert.equal(report.rows.rows, IDS);
    assert.equal(report.rows.missing, 0);
    assert.equal(report.rows.mismatches, 0, report.rows.examples.join('\n'));
  });

  test('the budget evicted clean keys: it was reached', () => {
    assert.ok(report.evictions > 0, `evictions: ${report.evictions}`);
  });

  test('each ranking keeps its highest entries, whatever the videos written', () => {
    for (const s of report.samples) {
      // Each ranking holds its built mark besides its entries.
      assert.ok(
        s.rankingEntries <= 2 * (RANKING_ENTRIES + 1),
        `at ${s.atMs} ms: ${s.rankingEntries} entries`,
      );
    }
  });

  test("the cache's data keys stay within the budget, measured at every sample", () => {
    for (const s of report.samples) {
      assert.ok(s.measured, 'every sample is measured');
      assert.ok(
        s.measured.data.bytes <= MAX_BYTES,
        `at ${s.atMs} ms: ${s.measured.data.keys} data keys take ${kib(s.measured.data.bytes)}, the budget is ${kib(MAX_BYTES)}`,
      );
      assert.ok(s.cacheBytes <= MAX_BYTES, `at ${s.atMs} ms: stats() estimates ${kib(s.cacheBytes)}`);
    }
  });

  // The budget counts a key's entry in the dirty or clean sorted set as INDEX_ENTRY_BYTES plus the key's name
  // (lua/includes/memory-budget.lua); measured here, key by key.
  test('the data keys with their dirty and clean index entries stay within the budget', () => {
    for (const s of report.samples) {
      const m = s.measured;
      assert.ok(m);
      const bytes = m.data.bytes + m.indexes.bytes;
      assert.ok(bytes <= MAX_BYTES, `at ${s.atMs} ms: ${kib(bytes)} for ${m.data.keys} keys`);
    }
  });

  // The issue's bound: Redis holds the budget plus the dirty keys' jobs. Besides the jobs (BullMQ's keys), the
  // prefix holds the rankings of the ranked counters (their highest entries, reserved in the budget), and
  // bookkeeping that does not grow with the keys: each writing connection's state per shard (the replies of its
  // last 1,024 write batches, so that a resent batch is answered, not applied twice: lua/write.lua), the
  // shard's clock and figures.
  test('the data keys, their indexes and the rankings stay within the budget; the rest is bookkeeping', () => {
    for (const s of report.samples) {
      const m = s.measured;
      assert.ok(m);
      const bytes = m.data.bytes + m.indexes.bytes + m.rankings.bytes;
      assert.ok(
        bytes <= MAX_BYTES,
        `at ${s.atMs} ms: ${kib(bytes)} (rankings ${kib(m.rankings.bytes)}) besides ${kib(m.jobs.bytes)} of jobs`,
      );
      assert.ok(m.other.bytes <= BOOKKEEPING_BYTES, `at ${s.atMs} ms: ${kib(m.other.bytes)} of other keys`);
    }
  });
});
