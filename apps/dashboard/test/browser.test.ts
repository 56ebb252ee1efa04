// The dashboard in a real browser: Debian's Chromium, driven through playwright-core, against the real
// dashboard and worker processes on a prefix and a PostgreSQL schema of their own. An operator logs in,
// watches the lag and dirty keys while writes come in, finds a flush the database refused in Bull Board,
// fixes the cause, clicks Retry and the row reaches PostgreSQL. Takes a screenshot of Bull Board each run,
// into docs/bull-board.png with WB_SCREENSHOTS=docs, otherwise into a temporary folder (so a test run leaves
// the checkout clean); the overview's, docs/dashboard.png, is charts-under-load.test.ts's.
//
// Needs /usr/bin/chromium (`apt-get install -y chromium`; CI's .ci/run installs it). SKIP_BROWSER_TESTS=1
// skips the test instead.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DemoCacheHandle } from '@write-behind/demo';
import { type AppProcess, eventually, type TestDatabase } from '@write-behind/testkit';
import type { BrowserContext, Page } from 'playwright-core';
import {
  BROWSER_SKIP,
  type DashboardSession,
  likesInDatabase,
  screenshot,
  startDashboardSession,
  writeContinuously,
} from './browser-harness.ts';

const BOARD = 'admin/queues';
const USER = 'operator';
const PASSWORD = 'correct horse battery staple';
/** The row the database refuses until the constraint is dropped. */
const REFUSED_ID = 'browser-refused';
const CONSTRAINT = 'browser_test_refuse';

describe('the dashboard in Chromium', { skip: BROWSER_SKIP }, () => {
  let session: DashboardSession;
  let db: TestDatabase;
  let writer: DemoCacheHandle;
  let dashboard: AppProcess;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    session = await startDashboardSession({
      credentials: { user: USER, password: PASSWORD },
      flushWindowMs: 1000,
      sampleMs: 500,
      viewport: { width: 1200, height: 760 },
    });
    ({ db, writer, dashboard, context, page } = session);
  });
  after(() => session?.close());

  test('an operator watches the backlog, then retries a refused flush from Bull Board', async () => {
    // 1. Logs in: the context answers the HTTP Basic challenge; without credentials the page is refused.
    const anonymous = await fetch(dashboard.url);
    assert.equal(anonymous.status, 401);
    const response = await page.goto('');
    assert.equal(response?.status(), 200);
    assert.equal(await page.locator('h1').textContent(), 'write-behind');

    // 2. The figures and both charts fill while writes come in, faster and faster, to ever new keys.
    const writes = writeContinuously(writer);
    try {
      const filled = async () =>
        (await figure(page, 'lag')) > 0 &&
        (await figure(page, 'dirty')) > 0 &&
        (await chartPoints(page, 'lag-chart')) >= 8 &&
        (await chartPoints(page, 'dirty-chart')) >= 8;
      assert.ok(
        await eventually(filled, 20_000, 100),
        `the figures and charts fill: ${await describePage(page)}`,
      );
      assert.match((await page.locator('#lag').textContent()) ?? '', /^\d+\.\d s$/);
      assert.equal(await page.locator('#status').textContent(), '', 'the page reads its stats');
      for (const chart of ['#lag-chart', '#dirty-chart']) {
        // uPlot draws on a canvas, with an axis element per axis.
        assert.equal(await page.locator(`${chart} canvas`).count(), 1, `${chart} draws a chart`);
        assert.ok((await page.locator(`${chart} .u-axis`).count()) >= 2, `${chart} has its axes`);
      }
    } finally {
      await writes.stop();
    }

    // 3. A flush fails for a real cause: the database refuses the row, and the one attempt is spent.
    await db.pool.query(`ALTER TABLE "Video" ADD CONSTRAINT ${CONSTRAINT} CHECK (id <> '${REFUSED_ID}')`);
    await writer.cache.increment('video', REFUSED_ID, 'likes', 5);
    assert.ok(
      await eventually(async () => (await figure(page, 'failed')) === 1, 20_000, 100),
      `the dashboard counts the failed key: ${await describePage(page)}`,
    );

    // ...and the operator finds it in Bull Board: the queue, its Failed tab, the job with the database's error.
    const queueName = await boardQueueName(context);
    await page
      .locator('main')
      .getByRole('link', { name: /Bull Board/ })
      .click();
    // The sidebar's link: the overview may also show the queue's card, which links to the same page.
    await page.locator('#bull-board-sidebar').getByRole('link', { name: queueName, exact: true }).click();
    await page.getByRole('link', { name: /^failed/i }).click();
    await page.getByText(`violates check constraint "${CONSTRAINT}"`).waitFor();
    const jobLinks = page.locator(`a[href*="/queue/${encodeURIComponent(queueName)}/"]`);
    assert.equal(await jobLinks.count(), 1, 'one failed job');
    const jobId = (await jobLinks.textContent()) ?? '';
    assert.ok(jobId.length > 0, 'the card shows the job id');
    await screenshot(page, 'bull-board.png');

    // 4. Fixes the cause, clicks Retry on the job's card and confirms; the row reaches PostgreSQL.
    await db.pool.query(`ALTER TABLE "Video" DROP CONSTRAINT ${CONSTRAINT}`);
    // The card's header: the innermost element holding both the job's link and its action buttons.
    const cardHeader = page
      .locator('div', { has: page.getByRole('link', { name: jobId, exact: true }) })
      .filter({ has: page.getByRole('button') })
      .last();
    const retry = cardHeader.getByRole('button').first();
    // The action buttons are icons; each names itself in a tooltip on hover.
    await retry.hover();
    await page.getByText('Retry', { exact: true }).waitFor();
    await retry.click();
    const dialog = page.getByRole('alertdialog');
    await dialog.getByText(/retry this job/).waitFor();
    await dialog.getByRole('button', { name: 'Confirm' }).click();

    assert.ok(
      await eventually(async () => (await likesInDatabase(db, REFUSED_ID)) === 5, 20_000, 50),
      `the retried flush wrote video ${REFUSED_ID} to PostgreSQL`,
    );
  });
});

// The page's figures and charts, read through locators and polled with a deadline. (A function handed to
// `page.waitForFunction` would not do: tsx compiles it with helpers the page lacks, and the page's CSP
// forbids evaluating strings.)

/** A figure of the page as a number: `'0.8 s'` is 0.8, the placeholder `–` is NaN. */
async function figure(page: Page, id: string): Promise<number> {
  return Number.parseFloat((await page.locator(`#${id}`).textContent()) ?? '');
}

/** How many points a chart draws (the page sets `data-points` at each redraw). */
async function chartPoints(page: Page, id: string): Promise<number> {
  return Number((await page.locator(`#${id}`).getAttribute('data-points')) ?? 0);
}

async function describePage(page: Page): Promise<string> {
  const texts = await Promise.all(
    ['lag', 'dirty', 'failed', 'status'].map(
      async (id) => `#${id}=${await page.locator(`#${id}`).textContent()}`,
    ),
  );
  const charts = await Promise.all(
    ['lag-chart', 'dirty-chart'].map(async (id) => `#${id} points=${await chartPoints(page, id)}`),
  );
  return [...texts, ...charts].join(', ');
}

/** The name Bull Board gives the flush queue (its URLs and its menu use it), read from its JSON API. */
async function boardQueueName(context: BrowserContext): Promise<string> {
  const response = await context.request.get(`${BOARD}/api/queues`);
  assert.equal(response.status(), 200);
  const { queues } = (await response.json()) as { queues: { name: string }[] };
  assert.equal(queues.length, 1, 'one shard, one queue');
  return (queues[0] as { name: string }).name;
}
