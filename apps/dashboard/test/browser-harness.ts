// What the dashboard's browser tests share: Debian's Chromium driven through playwright-core, a signed-in
// page, screenshots, and the real dashboard and worker processes on a prefix and a PostgreSQL schema of their
// own, with a cache of this process writing to them.
//
// Needs /usr/bin/chromium (`apt-get install -y chromium`; CI's .ci/run installs it). SKIP_BROWSER_TESTS=1
// skips the tests instead.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { cacheConfigSpec, createDemoCache, type DemoCacheHandle, loadConfig } from '@write-behind/demo';
import {
  type AppProcess,
  cleanupRedis,
  createTestDatabase,
  REDIS_URL,
  startApp,
  type TestDatabase,
  testPrefix,
} from '@write-behind/testkit';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps calling Google's services, which a closed network
// answers with nothing but timeouts. playwright-core adds --headless and a fresh temporary --user-data-dir
// for every launch (and refuses a --user-data-dir of ours), and never downloads a browser.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
/** How long any one step in a page may take before the test fails. */
const STEP_TIMEOUT_MS = 15_000;
/** docs/ with WB_SCREENSHOTS=docs, otherwise a temporary folder (so a test run leaves the checkout clean). */
const SCREENSHOTS =
  process.env.WB_SCREENSHOTS === 'docs'
    ? fileURLToPath(new URL('../../../docs/', import.meta.url))
    : join(tmpdir(), `wb-screenshots-${process.pid}/`);

/** The `skip` option of a browser test's `describe`. */
export const BROWSER_SKIP = process.env.SKIP_BROWSER_TESTS === '1' && 'SKIP_BROWSER_TESTS=1';

/** Chromium, headless; throws, saying how to install it, when it is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: this test drives Debian's Chromium through playwright-core. ` +
        'Install it with `apt-get install -y chromium` (CI does), or set SKIP_BROWSER_TESTS=1 to skip it.',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export interface SignedInPage {
  context: BrowserContext;
  page: Page;
  /** Every console message of the context's pages (CSP refusals are reported there); clear it at will. */
  consoleMessages: string[];
}

/** A page of a fresh context that answers the HTTP Basic challenge with `credentials`. */
export async function signedInPage(
  browser: Browser,
  {
    credentials,
    viewport,
    baseURL,
  }: {
    credentials: { user: string; password: string };
    viewport: { width: number; height: number };
    /** What `page.goto('')` opens. @defaultValue none: every `goto` names its whole URL */
    baseURL?: string;
  },
): Promise<SignedInPage> {
  const context = await browser.newContext({
    baseURL,
    httpCredentials: { username: credentials.user, password: credentials.password },
    viewport,
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const consoleMessages: string[] = [];
  context.on('console', (message) => consoleMessages.push(message.text()));
  return { context, page: await context.newPage(), consoleMessages };
}

/** Saves the whole page as `name` (`dashboard.png`) in the screenshots folder (see SCREENSHOTS). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, name), fullPage: true });
}

export interface DashboardSession extends SignedInPage {
  db: TestDatabase;
  /** The dashboard process, listening on 127.0.0.1 (its `logs` hold the audit lines). */
  dashboard: AppProcess;
  /** A cache of this process, configured from the same environment as the apps: the tests write through it. */
  writer: DemoCacheHandle;
  /** Closes the browser and the writer, stops both processes, and deletes the prefix's keys and the database. */
  close(): Promise<void>;
}

/**
 * A worker and a dashboard as real processes, on a new prefix and database, and a page of Chromium signed in
 * to the dashboard (`page.goto('')` opens its overview). Flush jobs get one attempt: a row the database
 * refuses fails its job at once, and the job waits for an operator. If anything does not start, what did is
 * stopped and removed before this rejects.
 */
export async function startDashboardSession({
  credentials,
  flushWindowMs,
  sampleMs,
  viewport,
}: {
  credentials: { user: string; password: string };
  flushWindowMs: number;
  /** How often the dashboard samples its charts (`DASHBOARD_SAMPLE_MS`). */
  sampleMs: number;
  viewport: { width: number; height: number };
}): Promise<DashboardSession> {
  const browser = await launchChromium();
  const db = await createTestDatabase().catch(async (error: unknown) => {
    await browser.close();
    throw error;
  });
  const prefix = testPrefix();
  const env = {
    REDIS_URL,
    DATABASE_URL: db.url,
    WB_PREFIX: prefix,
    FLUSH_WINDOW_MS: String(flushWindowMs),
    FLUSH_ATTEMPTS: '1',
    WORKER_CLOSE_TIMEOUT_MS: '3000',
  };
  const started = await Promise.allSettled([
    startApp('worker', env),
    startApp('dashboard', {
      ...env,
      DASHBOARD_USER: credentials.user,
      DASHBOARD_PASSWORD: credentials.password,
      DASHBOARD_SAMPLE_MS: String(sampleMs),
      HOST: '127.0.0.1',
    }),
  ]);
  const apps = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  let writer: DemoCacheHandle | undefined;
  const close = async () => {
    await browser.close();
    await writer?.close();
    await Promise.all(apps.map((app) => app.stop()));
    await cleanupRedis(prefix);
    await db.drop();
  };
  try {
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    const dashboard = apps[1] as AppProcess;
    writer = createDemoCache(loadConfig(env, cacheConfigSpec), { info() {}, warn() {}, error() {} });
    const signedIn = await signedInPage(browser, { credentials, viewport, baseURL: `${dashboard.url}/` });
    return { ...signedIn, db, dashboard, writer, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A video's likes in PostgreSQL (`undefined` while it has no row). */
export async function likesInDatabase(db: TestDatabase, id: string): Promise<number | undefined> {
  const { rows } = await db.pool.query<{ likes: number }>(
    'SELECT likes::int AS likes FROM "Video" WHERE id = $1',
    [id],
  );
  return rows[0]?.likes;
}

/**
 * Increments `video` keys every 100 ms until stopped: each round a few more new keys than the last (up to 25),
 * so the dirty keys climb on the chart and each key's flush waits out its window, which the lag shows.
 */
export function writeContinuously({ cache }: DemoCacheHandle): { stop(): Promise<void> } {
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
