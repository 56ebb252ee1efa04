// Issue 25: the overview's charts show non-empty series under load, read from the page in a real browser
// (Debian's Chromium through playwright-core, as operator-browser.test.ts), against real dashboard and worker
// processes on a prefix and a PostgreSQL schema of their own.
//
// Not `npm run chaos` itself: `runChaos` makes its own prefix and schema inside (`openWorld`), takes no option
// to choose them and drops them when it ends, so a dashboard cannot be pointed at its keys (guessing them
// from the keys in a Redis other tests share would be a race). Instead this process drives a steady mix of
// writes through the library, with a worker flushing them, on the dashboard's own prefix: increments and
// adds over a rolling set of videos, appends to event streams, a counter at its ceiling whose increments are
// refused (COUNTER_OVERFLOW), and now and then a video that a CHECK constraint refuses, whose flush fails (one
// attempt per job, as the harness configures it). Every chart then has something to show: lag, dirty keys,
// writes acknowledged/s, rows written/s, writes refused/s by code, flush failures/s and the memory budget's
// keys (the demo cache runs under a 64 MiB budget by default).
//
// The page says what each chart holds through data attributes that overview.js reads back from uPlot:
// `data-series` (names), `data-values` and `data-non-zero` (samples with a value, with a non-zero one).
// The overview's screenshot, every chart filled, goes to docs/dashboard.png with WB_SCREENSHOTS=docs
// (otherwise to a temporary folder).
//
// Needs /usr/bin/chromium; SKIP_BROWSER_TESTS=1 skips it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { DemoCacheHandle } from '@write-behind/demo';
import { eventually } from '@write-behind/testkit';
import type { Page } from 'playwright-core';
import { BROWSER_SKIP, type DashboardSession, screenshot, startDashboardSession } from './browser-harness.ts';

const USER = 'ada';
const PASSWORD = 'correct horse battery staple';
/** Videos whose rows the database refuses while the test runs. */
const REFUSED_PREFIX = 'refused-';
const CONSTRAINT = 'charts_under_load_refuse';
/** A video whose likes sit at the column's ceiling (BigInt: 2^53 - 1): every further increment is refused. */
const PEAK_ID = 'peak';
/** Non-zero samples each chart's series must hold: several, so one stray sample does not pass the test. */
const NON_ZERO_SAMPLES = 4;
/** Samples on the charts before the screenshot (docs/dashboard.png), so that it shows more than a start. */
const SCREENSHOT_SAMPLES = 30;

/** Each chart, and the series that must fill: `all` shards, or for refusals the code the load provokes. */
const CHARTS = [
  { id: 'lag-chart', series: 'all' },
  { id: 'dirty-chart', series: 'all' },
  { id: 'acknowledged-chart', series: 'all' },
  { id: 'rows-chart', series: 'all' },
  { id: 'refused-chart', series: 'COUNTER_OVERFLOW' },
  { id: 'failures-chart', series: 'all' },
  { id: 'memory-chart', series: 'all' },
] as const;

/** What a chart's section says it holds (see overview.js, `describeHeld`). */
interface Held {
  hidden: boolean;
  points: number;
  series: Record<string, { values: number; nonZero: number; max: string }>;
}

describe('the overview charts under load', { skip: BROWSER_SKIP }, () => {
  let session: DashboardSession;
  let page: Page;

  before(async () => {
    session = await startDashboardSession({
      credentials: { user: USER, password: PASSWORD },
      flushWindowMs: 1000,
      // The activity counters reach Redis once a second: sampled faster, most samples of a rate would be 0 and
      // the others a multiple of it.
      sampleMs: 1000,
      viewport: { width: 1280, height: 900 },
    });
    ({ page } = session);
    await session.db.pool.query(
      `ALTER TABLE "Video" ADD CONSTRAINT ${CONSTRAINT} CHECK (id NOT LIKE '${REFUSED_PREFIX}%') NOT VALID`,
    );
    await session.writer.cache.increment('video', PEAK_ID, 'likes', Number.MAX_SAFE_INTEGER);
  });
  after(() => session?.close());

  test('every chart holds non-zero samples while a mixed load runs', async () => {
    assert.equal((await page.goto(''))?.status(), 200);
    const load = mixedLoad(session.writer);
    let held: Record<string, Held> = {};
    try {
      const filled = async () => {
        load.check();
        held = await chartsHeld(page);
        return CHARTS.every(({ id, series }) => (held[id]?.series[series]?.nonZero ?? 0) >= NON_ZERO_SAMPLES);
      };
      assert.ok(
        await eventually(filled, 90_000, 250),
        `every chart fills under load: ${JSON.stringify(held, null, 1)}`,
      );
      const longer = async () => {
        load.check();
        return Number(await page.locator('#lag-chart').getAttribute('data-points')) >= SCREENSHOT_SAMPLES;
      };
      assert.ok(await eventually(longer, 90_000, 250), `${SCREENSHOT_SAMPLES} samples on the charts`);
      await screenshot(page, 'dashboard.png');
    } finally {
      await load.stop();
    }
    assert.ok(load.acknowledged() > 0 && load.refused() > 0, 'the load wrote, and was refused');
    for (const { id, series } of CHARTS) {
      const chart = held[id] as Held;
      assert.equal(chart.hidden, false, `${id} is shown`);
      const values = chart.series[series] as Held['series'][string];
      assert.ok(values.values <= chart.points, `${id}: ${values.values} values of ${chart.points} samples`);
      assert.ok(Number(values.max) > 0, `${id} ${series}: largest value ${values.max}`);
    }
    assert.equal(await page.locator('#status').textContent(), '', 'the page reads its stats');
    assert.deepEqual(
      session.consoleMessages.filter((text) => /error|refused/i.test(text)),
      [],
      'no error in the console',
    );
  });
});

/** Every chart section's `data-*` summary of what its uPlot instance holds, by the section's id. */
async function chartsHeld(page: Page): Promise<Record<string, Held>> {
  // Plain data out of the page, parsed here: a function declared inside `evaluate` would be compiled by tsx,
  // which names it with a helper the page does not have.
  const sections = await page.locator('section.chart').evaluateAll((elements) =>
    elements.map((element) => ({
      id: element.id,
      hidden: element.hasAttribute('hidden'),
      data: {
        points: element.getAttribute('data-points') ?? undefined,
        series: element.getAttribute('data-series') ?? undefined,
        values: element.getAttribute('data-values') ?? undefined,
        nonZero: element.getAttribute('data-non-zero') ?? undefined,
        max: element.getAttribute('data-max') ?? undefined,
      },
    })),
  );
  const list = (text = '') => (text === '' ? [] : text.split(','));
  return Object.fromEntries(
    sections.map(({ id, hidden, data }) => {
      const [values, nonZero, max] = [list(data.values), list(data.nonZero), list(data.max)];
      const series = list(data.series).map((name, i) => [
        name,
        { values: Number(values[i] ?? 0), nonZero: Number(nonZero[i] ?? 0), max: max[i] ?? '' },
      ]);
      return [id, { hidden, points: Number(data.points ?? 0), series: Object.fromEntries(series) }];
    }),
  );
}

/**
 * Writes through `writer` every 100 ms until stopped: increments to 10 of 300 videos in turn (each written
 * again every 3 s, so keys are dirty and flushed all along), an add of views, an event on one of 8 streams,
 * an increment of {@link PEAK_ID} (refused: COUNTER_OVERFLOW), and every 5th round a video the database
 * refuses. Counts what was acknowledged and refused; any other error stops the load, and `check()` and
 * `stop()` throw it.
 */
function mixedLoad({ cache }: DemoCacheHandle): {
  acknowledged(): number;
  refused(): number;
  /** Throws what stopped the load, if anything did. */
  check(): void;
  stop(): Promise<void>;
} {
  let stopped = false;
  let failure: unknown;
  let acknowledged = 0;
  let refused = 0;
  const write = async (call: () => Promise<unknown>) => {
    await call();
    acknowledged++;
  };
  const loop = (async () => {
    for (let round = 0; !stopped; round++) {
      const ids = Array.from({ length: 10 }, (_, i) => `load-${(round * 10 + i) % 300}`);
      await Promise.all([
        ...ids.map((id) => write(() => cache.increment('video', id, 'likes'))),
        write(() => cache.add('video', `load-${round % 300}`, 'views', 2)),
        write(() =>
          cache.append('videoEvent', `stream-${round % 8}`, {
            type: 'play',
            context: { round },
            createdAt: new Date(),
          }),
        ),
        ...(round % 5 === 0
          ? [write(() => cache.increment('video', `${REFUSED_PREFIX}${round}`, 'likes'))]
          : []),
        cache.increment('video', PEAK_ID, 'likes').then(
          () => assert.fail(`${PEAK_ID} went past its ceiling`),
          (error: { code?: string }) => {
            if (error.code !== 'COUNTER_OVERFLOW') throw error;
            refused++;
          },
        ),
      ]);
      await delay(100); // the pace of the writes, not a wait for anything
    }
  })().catch((error: unknown) => {
    failure = error;
  });
  return {
    acknowledged: () => acknowledged,
    refused: () => refused,
    check() {
      if (failure !== undefined) throw failure;
    },
    async stop() {
      stopped = true;
      await loop;
      this.check();
    },
  };
}
