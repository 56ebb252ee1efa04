// The dashboard's defences in a real browser (Debian's Chromium through playwright-core, as
// browser.test.ts): an operator logged in to the dashboard visits a page of another site, which frames the
// dashboard (clickjacking) and posts a form that would add a job to a flush queue (cross-site request
// forgery). The frame stays empty and the form gets 403, and no job is added. Bull Board and the lag page
// still render under their Content-Security-Policy, with nothing refused but Bull Board's web fonts.
//
// Needs /usr/bin/chromium; SKIP_BROWSER_TESTS=1 skips it.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Logger } from '@write-behind/core';
import { type DemoEntities, demoEntities, listen } from '@write-behind/demo';
import { createTestCache, eventually, type TestCache } from '@write-behind/testkit';
import type { Queue } from 'bullmq';
import type { Browser, Page } from 'playwright-core';
import { BOARD_PATH, createApp } from '../src/app.ts';
import { BROWSER_SKIP, launchChromium, signedInPage } from './browser-harness.ts';

const USER = 'operator';
const PASSWORD = 'correct horse battery staple';
const silent: Logger = { info() {}, warn() {}, error() {} };

/**
 * The other site's page: it frames the dashboard, and has a form that posts JSON as text/plain (no CORS
 * preflight) to Bull Board's add-job endpoint, the classic way to forge a JSON request.
 */
function attackerPage(dashboardUrl: string): string {
  const field = '{"name":"forged","data":{"pad":"';
  return `<!doctype html>
<html><head><title>cat pictures</title></head><body>
<h1>cat pictures</h1>
<iframe id="victim" src="${dashboardUrl}/" width="800" height="400"></iframe>
<form id="forge" method="POST" enctype="text/plain" action="${dashboardUrl}${BOARD_PATH}/api/queues/flush/add">
  <input type="hidden" name='${field}' value='"}}'>
  <button id="send" type="submit">see more cats</button>
</form>
</body></html>`;
}

describe('the dashboard against another site, in Chromium', { skip: BROWSER_SKIP }, () => {
  let world: TestCache<DemoEntities>;
  let queue: Queue;
  let dashboard: Server;
  let dashboardUrl: string;
  let attacker: Server;
  let attackerUrl: string;
  let browser: Browser;
  let page: Page;
  /** Every console message of the browser's pages: CSP refusals are reported there. */
  let consoleMessages: string[];

  before(async () => {
    browser = await launchChromium();
    world = await createTestCache({ entities: demoEntities, logger: silent });
    queue = world.cache.queues[0] as Queue;
    dashboard = createServer(
      createApp({ cache: world.cache, credentials: { user: USER, password: PASSWORD }, logger: silent }),
    );
    dashboardUrl = `http://127.0.0.1:${await listen(dashboard, 0, '127.0.0.1')}`;
    // Another site, not only another port: `localhost` against the dashboard's 127.0.0.1.
    attacker = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' }).end(attackerPage(dashboardUrl));
    });
    attackerUrl = `http://localhost:${await listen(attacker, 0, '127.0.0.1')}`;

    ({ page, consoleMessages } = await signedInPage(browser, {
      credentials: { user: USER, password: PASSWORD },
      viewport: { width: 1200, height: 760 },
    }));
  });

  after(async () => {
    await browser?.close();
    await Promise.all(
      [dashboard, attacker].map(
        (server) => server && new Promise<void>((resolve) => server.close(() => resolve())),
      ),
    );
    await world?.close();
  });

  const jobCount = async () => Object.values(await queue.getJobCounts()).reduce((a, b) => a + b, 0);

  test('Bull Board and the lag page render under their policies', async () => {
    // The operator logs in: from now on the browser holds the dashboard's credentials.
    assert.equal((await page.goto(`${dashboardUrl}/`))?.status(), 200);
    assert.ok(
      await eventually(
        async () => /^\d+$/.test((await page.locator('#dirty').textContent()) ?? ''),
        10_000,
        50,
      ),
      'the lag page runs its script and reads its stats',
    );
    assert.equal(await page.locator('#status').textContent(), '');

    assert.equal((await page.goto(`${dashboardUrl}${BOARD_PATH}/`))?.status(), 200);
    await page.locator('#bull-board-sidebar').getByRole('link', { name: 'flush', exact: true }).waitFor();
    await page.locator('#bull-board-sidebar').getByRole('link', { name: 'flush', exact: true }).click();
    await page.getByRole('link', { name: /^failed/i }).waitFor();

    const refused = consoleMessages.filter((text) => /Content Security Policy/i.test(text));
    // Bull Board's page asks for Google Fonts, which the policy leaves out on purpose.
    const unexpected = refused.filter((text) => !text.includes('https://fonts.googleapis.com/'));
    assert.deepEqual(unexpected, [], 'nothing else is refused');
  });

  test('another site cannot frame the dashboard, nor add a job with a forged form', async () => {
    const before = await jobCount();
    consoleMessages.length = 0;
    assert.equal((await page.goto(`${attackerUrl}/`))?.status(), 200);
    await page.locator('h1').waitFor();

    // The frame: Chromium refuses to render the dashboard in it, and says why.
    assert.ok(
      await eventually(
        () =>
          consoleMessages.some((text) => /frame-ancestors 'none'/.test(text) && text.includes(dashboardUrl)),
        10_000,
        50,
      ),
      `Chromium reports the refused frame: ${JSON.stringify(consoleMessages)}`,
    );
    const victim = page.frames().find((frame) => frame !== page.mainFrame());
    assert.ok(victim, 'the page has its frame');
    assert.ok(!victim.url().startsWith(dashboardUrl), `the frame shows no dashboard page: ${victim.url()}`);
    // What is in it is Chromium's error page, not the dashboard's figures.
    assert.equal(await page.frameLocator('#victim').locator('#lag').count(), 0, 'no dashboard content');

    // The form: the browser sends it, with where it came from; the dashboard refuses it.
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`${BOARD_PATH}/api/queues/flush/add`)),
      page.locator('#send').click(),
    ]);
    const sent = await response.request().allHeaders();
    assert.equal(sent['sec-fetch-site'], 'cross-site');
    assert.equal(sent.origin, attackerUrl);
    assert.equal(response.status(), 403);
    assert.deepEqual((await response.json()).error.code, 'CROSS_SITE_REFUSED');
    assert.equal(await jobCount(), before, 'no job was added');
  });
});
