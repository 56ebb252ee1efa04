// The operator console in a real browser (Debian's Chromium through playwright-core, as browser.test.ts),
// against real dashboard and worker processes on a prefix and a PostgreSQL schema of their own: the overview's
// charts render with time and value axes; the key inspector tells the story of a clean, a dirty, a deleted
// and a failed key (a CHECK constraint the test adds), the operator fixes the cause, retries from the
// inspector and sees the key clean with the row right; a cause group of 50 failed keys is retried in batches
// from the failures page; every action leaves an audit line naming the operator. Screenshots go to
// docs/dashboard-*.png with WB_SCREENSHOTS=docs, otherwise to a temporary folder.
//
// Needs /usr/bin/chromium; SKIP_BROWSER_TESTS=1 skips it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { cacheConfigSpec, createDemoCache, type DemoCacheHandle, loadConfig } from '@write-behind/demo';
import {
  type AppProcess,
  cleanupRedis,
  createTestDatabase,
  eventually,
  REDIS_URL,
  startApp,
  type TestDatabase,
  testPrefix,
} from '@write-behind/testkit';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const SKIP = process.env.SKIP_BROWSER_TESTS === '1';
const DOCS =
  process.env.WB_SCREENSHOTS === 'docs'
    ? fileURLToPath(new URL('../../../docs/', import.meta.url))
    : join(tmpdir(), `wb-screenshots-${process.pid}/`);
const USER = 'ada';
const PASSWORD = 'correct horse battery staple';
const CONSTRAINT = 'operator_browser_refuse';
const STEP_TIMEOUT_MS = 15_000;
/** Long enough that a dirty key is seen dirty; the tests flush it now from the inspector. */
const WINDOW_MS = 5000;

describe('the operator console in Chromium', { skip: SKIP && 'SKIP_BROWSER_TESTS=1' }, () => {
  let db: TestDatabase;
  let prefix: string;
  let writer: DemoCacheHandle;
  let apps: AppProcess[] = [];
  let dashboard: AppProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const consoleMessages: string[] = [];

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: install it with \`apt-get install -y chromium\`, or set SKIP_BROWSER_TESTS=1.`,
      );
    }
    db = await createTestDatabase();
    prefix = testPrefix();
    const env = {
      REDIS_URL,
      DATABASE_URL: db.url,
      WB_PREFIX: prefix,
      FLUSH_WINDOW_MS: String(WINDOW_MS),
      // One attempt: a row the database refuses fails its job at once, and waits for an operator.
      FLUSH_ATTEMPTS: '1',
      WORKER_CLOSE_TIMEOUT_MS: '3000',
    };
    const started = await Promise.allSettled([
      startApp('worker', env),
      startApp('dashboard', {
        ...env,
        DASHBOARD_USER: USER,
        DASHBOARD_PASSWORD: PASSWORD,
        HOST: '127.0.0.1',
        DASHBOARD_SAMPLE_MS: '250',
      }),
    ]);
    apps = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    dashboard = apps[1] as AppProcess;
    writer = createDemoCache(loadConfig(env, cacheConfigSpec), { info() {}, warn() {}, error() {} });

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    context = await browser.newContext({
      baseURL: `${dashboard.url}/`,
      httpCredentials: { username: USER, password: PASSWORD },
      viewport: { width: 1280, height: 900 },
    });
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    context.on('console', (message) => consoleMessages.push(message.text()));
    page = await context.newPage();
    await mkdir(DOCS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await writer?.close();
    await Promise.all(apps.map((app) => app.stop()));
    if (prefix) await cleanupRedis(prefix);
    await db?.drop();
  });

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
    await page.screenshot({ path: `${DOCS}dashboard.png`, fullPage: true });
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
    await page.screenshot({ path: `${DOCS}dashboard-key.png`, fullPage: true });
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
      await page.screenshot({ path: `${DOCS}dashboard-failed-key.png`, fullPage: true });
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
      await page.screenshot({ path: `${DOCS}dashboard-failures.png`, fullPage: true });
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

async function likesInDatabase(db: TestDatabase, id: string): Promise<number | undefined> {
  const { rows } = await db.pool.query<{ likes: number }>(
    'SELECT likes::int AS likes FROM "Video" WHERE id = $1',
    [id],
  );
  return rows[0]?.likes;
}

/** Increments new `video` keys every 100 ms until stopped, so the charts have something to show. */
function writeContinuously({ cache }: DemoCacheHandle): { stop(): Promise<void> } {
  let stopped = false;
  const loop = (async () => {
    for (let round = 0; !stopped; round++) {
      const keys = Array.from({ length: Math.min(2 + round, 25) }, (_, i) => `chart-${round}-${i}`);
      await Promise.all(keys.map((id) => cache.increment('video', id, 'likes')));
      await delay(100); // the pace of the writes, not a wait for anything
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
