// The operator console in a real browser (Debian's Chromium through playwright-core, as browser.test.ts),
// against real dashboard and worker processes on a prefix and a PostgreSQL schema of their own: the overview's
// charts render with time and value axes; the key inspector tells the story of a clean, a dirty, a deleted
// and a failed key (a CHECK constraint the test adds), the operator fixes the cause, retries from the
// inspector and sees the key clean with the row right; a cause group of 50 failed keys is retried in batches
// from the failures page; every action leaves an audit line naming the operator. Screenshots of the inspector
// and the failures page go to docs/dashboard-*.png with WB_SCREENSHOTS=docs, otherwise to a temporary folder
// (the overview's, docs/dashboard.png, is charts-under-load.test.ts's: every chart filled there).
//
// Needs /usr/bin/chromium; SKIP_BROWSER_TESTS=1 skips it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DemoCacheHandle } from '@write-behind/demo';
import { type AppProcess, eventually, type TestDatabase } from '@write-behind/testkit';
import type { Page } from 'playwright-core';
import {
  BROWSER_SKIP,
  type DashboardSession,
  likesInDatabase,
  screenshot,
  startDashboardSession,
  writeContinuously,
} from './browser-harness.ts';

const USER = 'ada';
const PASSWORD = 'correct horse battery staple';
const CONSTRAINT = 'operator_browser_refuse';
/** Long enough that a dirty key is seen dirty; the tests flush it now from the inspector. */
const WINDOW_MS = 5000;

describe('the operator console in Chromium', { skip: BROWSER_SKIP }, () => {
  let session: DashboardSession;
  let db: TestDatabase;
  let writer: DemoCacheHandle;
  let dashboard: AppProcess;
  let page: Page;
  let consoleMessages: string[];

  before(async () => {
    session = await startDashboardSession({
      credentials: { user: USER, password: PASSWORD },
      flushWindowMs: WINDOW_MS,
      sampleMs: 250,
      viewport: { width: 1280, height: 900 },
    });
    ({ db, writer, dashboard, page, consoleMessages } = session);
  });
  after(() => session?.close());

  test('the overview charts the last hour with time and value axes', async () => {
    const writes = writeContinuously(writer);
    try {
      assert.equal((await page.goto(''))?.status(), 200);
      const filled = async () => {
        for (const id of ['lag-chart', 'dirty-chart', 'acknowledged-chart', 'rows-chart']) {
          if (Number((await page.locator(`#${id}`).getAttribute('data-points')) ?? 0) < 8) return false;
        }
        return (
          (await page.locator('#acknowledged-chart').getAttribute('data-y-ticks'))?.includes('/s') ?? false
        );
      };
      assert.ok(await eventually(filled, 20_000, 100), 'the charts fill');
    } finally {
      await writes.stop();
    }
    for (const [id, unit] of [
      ['lag-chart', / s$/],
      ['dirty-chart', /^\d/],
      ['acknowledged-chart', /\/s$/],
      ['rows-chart', /\/s$/],
      ['refused-chart', /\/s$/],
      ['failures-chart', /\/s$/],
    ] as const) {
      const chart = page.locator(`#${id}`);
      assert.equal(await chart.locator('canvas').count(), 1, `${id} draws on a canvas`);
      assert.ok((await chart.locator('.u-axis').count()) >= 2, `${id} has an x and a y axis`);
      const xTicks = ((await chart.getAttribute('data-x-ticks')) ?? '').split('|');
      const yTicks = ((await chart.getAttribute('data-y-ticks')) ?? '').split('|');
      assert.ok(
        xTicks.length >= 1 && xTicks.every((t) => /\d{1,2}:\d{2}/.test(t)),
        `${id} x: times ${xTicks}`,
      );
      assert.ok(yTicks.length >= 2 && yTicks.every((t) => unit.test(t)), `${id} y: units ${yTicks}`);
      assert.match((await chart.locator('.u-legend').textContent()) ?? '', /all shards|none/);
    }
    assert.equal(await page.locator('#status').textContent(), '', 'the page reads its stats');
    const refused = consoleMessages.filter((text) => /Content Security Policy/i.test(text));
    assert.deepEqual(refused, [], 'the policy refuses nothing the pages load');
  });

  test('the inspector: a clean, a dirty and a deleted key, flushed now from the page', async () => {
    // Clean: Redis and PostgreSQL agree.
    await writer.cache.increment('video', 'op-clean', 'likes', 3);
    await writer.cache.flush({ timeoutMs: 15_000 });
    await inspect(page, 'video', 'op-clean');
    await expectState(page, 'clean');
    assert.equal(await cell(page, 'likes', 'redis'), '3');
    assert.equal(await cell(page, 'likes', 'database'), '3');
    assert.equal(await cell(page, 'version', 'redis'), await cell(page, 'version', 'database'));

    // Dirty: the write waits in Redis; its job is delayed until the window ends; Flush now runs it.
    await writer.cache.increment('video', 'op-clean', 'likes', 2);
    await expectState(page, 'dirty');
    assert.equal(await cell(page, 'likes', 'redis'), '5');
    assert.equal(await cell(page, 'likes', 'database'), '3');
    assert.equal(await page.locator('#job-state').textContent(), 'delayed');
    assert.match((await page.locator('#dirty-since').textContent()) ?? '', /s ago/);
    await screenshot(page, 'dashboard-key.png');
    await act(page, 'flush');
    await expectState(page, 'clean');
    assert.equal(await cell(page, 'likes', 'database'), '5');

    // Deleted: the tombstone in Redis, then (flushed now) in PostgreSQL, and Redis lets the key go.
    await writer.cache.delete('video', 'op-clean');
    await expectState(page, 'dirty');
    assert.match((await page.locator('#redis-tombstone').textContent()) ?? '', /delete waits/);
    await act(page, 'flush');
    await expectState(page, 'not-cached');
    assert.match((await page.locator('#db-tombstone').textContent()) ?? '', /^version \d+/);
    assert.equal(await page.locator('#db-row').textContent(), 'none');

    // Typed ids: the form's field is the key's; an empty id is refused with the library's message.
    await page.goto('keys');
    await page.locator('#entity').selectOption('video');
    await page.locator('#key-parts input[name="id"]').fill('op-clean');
    await page.locator('#inspect').click();
    await expectState(page, 'not-cached');
    assert.match(page.url(), /entity=video&id=op-clean/);
  });

  test('the inspector: a refused flush, its SQLSTATE, fixed and retried from the page', async () => {
    await db.pool.query(
      `ALTER TABLE "Video" ADD CONSTRAINT ${CONSTRAINT} CHECK (id <> 'op-failed') NOT VALID`,
    );
    try {
      await writer.cache.increment('video', 'op-failed', 'likes', 7);
      await inspect(page, 'video', 'op-failed');
      await expectState(page, 'dirty');
      await act(page, 'flush');
      await expectState(page, 'failed');
      assert.equal(await page.locator('#job-state').textContent(), 'failed');
      assert.equal(
        await page.locator('#job-error').textContent(),
        `SQLSTATE 23514: new row for relation "Video" violates check constraint "${CONSTRAINT}"`,
      );
      assert.equal(await page.locator('#failures tbody tr').count(), 1);
      assert.equal(await page.locator('#retry').isEnabled(), true);
      await screenshot(page, 'dashboard-failed-key.png');
      // Retrying before the fix fails again, and says so.
    } finally {
      await db.pool.query(`ALTER TABLE "Video" DROP CONSTRAINT ${CONSTRAINT}`);
    }
    await act(page, 'retry');
    await expectState(page, 'clean');
    assert.equal(await cell(page, 'likes', 'database'), '7');
    assert.equal(await likesInDatabase(db, 'op-failed'), 7);
  });

  test('discard drops a dirty key and its next read loads the row', async () => {
    await writer.cache.increment('video', 'op-discard', 'likes', 1);
    await writer.cache.flush({ timeoutMs: 15_000 });
    await writer.cache.increment('video', 'op-discard', 'likes', 100);
    await inspect(page, 'video', 'op-discard');
    await expectState(page, 'dirty');
    await act(page, 'discard');
    await expectState(page, 'not-cached');
    assert.match((await page.locator('#status').textContent()) ?? '', /discard: discarded/);
    assert.deepEqual(await writer.cache.get('video', 'op-discard'), { likes: 1, views: 0 });
  });

  test('a cause group of 50 failed keys, retried in batches from the failures page', async () => {
    await db.pool.query(
      `ALTER TABLE "Video" ADD CONSTRAINT ${CONSTRAINT} CHECK (id NOT LIKE 'op-group-%') NOT VALID`,
    );
    const ids = Array.from({ length: 50 }, (_, i) => `op-group-${i}`);
    const group = page.locator('section.group[data-entity="video"]').filter({ hasText: 'SQLSTATE 23514' });
    try {
      await Promise.all(ids.map((id, i) => writer.cache.increment('video', id, 'likes', i + 1)));
      await writer.cache.queues[0]?.promoteJobs();
      assert.equal((await page.goto('failures'))?.status(), 200);
      assert.ok(
        await eventually(
          async () => {
            await page.locator('#refresh').click();
            return /50 failed jobs, 50 keys/.test(
              (await group
                .locator('h2')
                .textContent()
                .catch(() => '')) ?? '',
            );
          },
          20_000,
          250,
        ),
        'the group counts 50 failed keys',
      );
      assert.equal(
        await group.locator('.message').textContent(),
        `new row for relation "Video" violates check constraint "${CONSTRAINT}"`,
      );
      assert.equal(await group.locator('tbody tr').count(), 20, 'a sample of the newest 20');
      await screenshot(page, 'dashboard-failures.png');
    } finally {
      await db.pool.query(`ALTER TABLE "Video" DROP CONSTRAINT ${CONSTRAINT}`);
    }
    await page.locator('#batch-size').fill('20');
    await group.locator('button.retry-cause').click();
    await page.locator('#confirm-ok').click();
    const run = page.locator('#run-status');
    assert.ok(
      await eventually(async () => (await run.getAttribute('data-done')) === 'true', 30_000, 100),
      `the run ends: ${await run.textContent()}`,
    );
    assert.match(
      (await run.textContent()) ?? '',
      /batch 3 of 3 · retried 50 of 50 · flushed 50 · failed again 0/,
    );
    for (const [i, id] of ids.entries()) assert.equal(await likesInDatabase(db, id), i + 1);
    assert.equal(await group.count(), 0, 'the group is gone');
  });

  test('every action left an audit line naming the operator', () => {
    const audit = dashboard.logs.filter(
      (line) => typeof line.action === 'string' && line.actor !== undefined,
    );
    const seen = audit.map(
      (line) => `${line.actor} ${line.action} ${line.entity} ${line.id ?? line.cause} ${line.outcome}`,
    );
    for (const expected of [
      'ada flush video op-clean promoted',
      'ada flush video op-failed promoted',
      'ada retry video op-failed retried',
      'ada discard video op-discard discarded',
    ]) {
      assert.ok(seen.includes(expected), `${expected} in ${JSON.stringify(seen)}`);
    }
    assert.ok(
      audit.some(
        (l) => l.action === 'retry-failures' && l.outcome === 'done' && l.flushed === 50 && l.actor === USER,
      ),
      JSON.stringify(audit),
    );
  });
});

/** Opens the inspector on a key by its URL, as a link from the failures page does. */
async function inspect(page: Page, entity: string, id: string): Promise<void> {
  assert.equal((await page.goto(`keys?${new URLSearchParams({ entity, id })}`))?.status(), 200);
  await page.locator('#result').waitFor();
}

/** Waits for the inspector to show `state` (it refreshes the key shown every 2 s). */
async function expectState(page: Page, state: string): Promise<void> {
  assert.ok(
    await eventually(
      async () => (await page.locator('#state').getAttribute('data-state')) === state,
      20_000,
      100,
    ),
    `the key becomes ${state}: it is ${await page.locator('#state').getAttribute('data-state')}; ${await page.locator('#status').textContent()}`,
  );
}

/** A cell of the side-by-side table: a field's value in Redis or in PostgreSQL. */
async function cell(page: Page, field: string, side: 'redis' | 'database'): Promise<string | null> {
  return page.locator(`#values tr[data-field="${field}"] td.${side}`).textContent();
}

/** Clicks an action and confirms it in the dialog. */
async function act(page: Page, action: 'flush' | 'retry' | 'discard'): Promise<void> {
  await page.locator(`#${action}`).click();
  await page.locator('#confirm').getByRole('button', { name: 'Confirm' }).click();
  await page
    .locator('#status')
    .filter({ hasText: new RegExp(`^${action}`) })
    .waitFor();
}
