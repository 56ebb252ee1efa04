// The operator's command line (`npx write-behind`, packages/write-behind/src/cli.ts) against a running
// dashboard: the inspector's flows (a clean, a dirty, a deleted key; a refused flush, fixed and retried), a
// discard, and a cause group of 50 failed keys retried in batches; every action audited with the user's name.
// The command runs as a process of its own for its wiring (help, exit codes, the environment), and in-process
// (the same `runCli`) for the flows, which saves a second of start-up per call.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FlushWorker, Logger } from '@write-behind/core';
import { type CliIo, runCli } from '@write-behind/core/operator';
import { type DemoEntities, demoEntities, listen } from '@write-behind/demo';
import { createTestCache, eventually, type TestCache } from '@write-behind/testkit';
import { createApp } from '../src/app.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const USER = 'grace';
const PASSWORD = 'hunter2 but longer';
const CONSTRAINT = 'cli_test_refuse';

interface Audit {
  obj: Record<string, unknown>;
  msg: string;
}

describe('the write-behind command line', () => {
  let world: TestCache<DemoEntities>;
  let worker: FlushWorker;
  let server: Server;
  let url: string;
  const audit: Audit[] = [];

  before(async () => {
    const silent: Logger = { info() {}, warn() {}, error() {} };
    world = await createTestCache({
      entities: demoEntities,
      logger: silent,
      flush: { windowMs: 3000, attempts: 1, backoffMs: 20 },
    });
    worker = world.cache.createWorker({ closeTimeoutMs: 2000 });
    await worker.ready;
    const logger: Logger = {
      info: (obj, msg = '') => audit.push({ obj: obj as Record<string, unknown>, msg }),
      warn: (obj, msg = '') => audit.push({ obj: obj as Record<string, unknown>, msg }),
      error() {},
    };
    server = createServer(
      createApp({
        cache: world.cache,
        credentials: { user: USER, password: PASSWORD },
        logger,
        processMetrics: false,
        operator: { retryBatchSize: 20 },
      }),
    );
    url = `http://127.0.0.1:${await listen(server, 0, '127.0.0.1')}/api`;
  });

  after(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await worker?.close();
    await world?.close();
  });

  /** Runs the command in-process; resolves to its status and what it printed. */
  async function cli(...args: string[]): Promise<{ status: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = {
      env: { WRITE_BEHIND_URL: url, WRITE_BEHIND_USER: USER, WRITE_BEHIND_PASSWORD: PASSWORD },
      out: (text) => out.push(text),
      err: (text) => err.push(text),
    };
    const status = await runCli(args, io);
    return { status, out: out.join('\n'), err: err.join('\n') };
  }

  /** `inspect --json`, parsed. */
  async function story(entity: string, id: string) {
    const { status, out, err } = await cli('inspect', entity, id, '--json');
    assert.equal(status, 0, err);
    return JSON.parse(out) as {
      state: string;
      redis: { values: Record<string, unknown> | null; deleted: boolean };
      database: { row: Record<string, unknown> | null; tombstone: unknown };
      job: { state: string; error: { code?: string; message: string } | null } | null;
    };
  }

  test('as a process: help, bad usage, wrong credentials, an inspection', async () => {
    const run = (args: string[], env: Record<string, string>) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', 'packages/write-behind/src/cli.ts', ...args],
          { cwd: ROOT, env: { ...process.env, ...env }, timeout: 30_000 },
          (error, stdout, stderr) =>
            resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const help = await run(['--help'], {});
    assert.equal(help.code, 0);
    assert.match(help.stdout, /write-behind inspect <entity> <id>/);
    assert.equal((await run(['frobnicate'], { WRITE_BEHIND_URL: url })).code, 2);
    const refused = await run(['inspect', 'video', 'v1'], {
      WRITE_BEHIND_URL: url,
      WRITE_BEHIND_USER: USER,
      WRITE_BEHIND_PASSWORD: 'wrong',
    });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /UNAUTHORIZED.*WRITE_BEHIND_PASSWORD/);
    await world.cache.increment('video', 'cli-process', 'likes', 2);
    const inspected = await run(['inspect', 'video', 'cli-process'], {
      WRITE_BEHIND_URL: url,
      WRITE_BEHIND_USER: USER,
      WRITE_BEHIND_PASSWORD: PASSWORD,
    });
    assert.equal(inspected.code, 0, inspected.stderr);
    assert.match(inspected.stdout, /^video cli-process: dirty \(shard 0\)/);
    assert.match(inspected.stdout, /likes\s+2\s+—/);
  });

  test('a clean, a dirty and a deleted key; flush now', async () => {
    await world.cache.increment('video', 'cli-1', 'likes', 3);
    let key = await story('video', 'cli-1');
    assert.equal(key.state, 'dirty');
    assert.equal(key.job?.state, 'delayed');
    const flushed = await cli('flush', 'video', 'cli-1');
    assert.equal(flushed.status, 0, flushed.err);
    assert.match(flushed.out, /flush video cli-1: promoted/);
    assert.ok(await eventually(async () => (await story('video', 'cli-1')).state === 'clean', 10_000, 100));
    key = await story('video', 'cli-1');
    assert.deepEqual(key.redis.values, { likes: 3, views: 0 });
    assert.deepEqual(key.database.row, { likes: 3, views: 0 });
    const text = await cli('inspect', 'video', 'cli-1');
    assert.match(text.out, /likes\s+3\s+3/);

    await world.cache.delete('video', 'cli-1');
    key = await story('video', 'cli-1');
    assert.equal(key.redis.deleted, true);
    assert.equal((await cli('flush', 'video', 'cli-1')).status, 0);
    assert.ok(
      await eventually(async () => (await story('video', 'cli-1')).database.tombstone !== null, 10_000, 100),
    );
    assert.equal((await story('video', 'cli-1')).database.row, null);
    // A clean key has nothing to flush; a key part by name works as well as the canonical text.
    assert.match((await cli('flush', 'video', 'id=cli-1')).out, /: clean: nothing to flush/);
  });

  test('a refused flush, its SQLSTATE; fixed and retried; then retried again: nothing to retry', async () => {
    await world.db.pool.query(
      `ALTER TABLE "Video" ADD CONSTRAINT ${CONSTRAINT} CHECK (id <> 'cli-failed') NOT VALID`,
    );
    try {
      await world.cache.increment('video', 'cli-failed', 'likes', 9);
      await cli('flush', 'video', 'cli-failed');
      assert.ok(
        await eventually(async () => (await story('video', 'cli-failed')).state === 'failed', 10_000, 100),
      );
      const key = await story('video', 'cli-failed');
      assert.equal(key.job?.error?.code, '23514');
      const text = await cli('inspect', 'video', 'cli-failed');
      assert.match(text.out, new RegExp(`last error: SQLSTATE 23514: .*"${CONSTRAINT}"`));
      const failures = await cli('failures');
      assert.match(failures.out, new RegExp(`video\\s+23514\\s+1\\s+1 .*check constraint "${CONSTRAINT}"`));
      const flushNow = await cli('flush', 'video', 'cli-failed');
      assert.equal(flushNow.status, 1);
      assert.match(flushNow.err, /JOB_FAILED/);
    } finally {
      await world.db.pool.query(`ALTER TABLE "Video" DROP CONSTRAINT ${CONSTRAINT}`);
    }
    const retried = await cli('retry', 'video', 'cli-failed');
    assert.equal(retried.status, 0, retried.err);
    assert.ok(
      await eventually(async () => (await story('video', 'cli-failed')).state === 'clean', 10_000, 100),
    );
    assert.deepEqual((await story('video', 'cli-failed')).database.row, { likes: 9, views: 0 });
    const again = await cli('retry', 'video', 'cli-failed');
    assert.equal(again.status, 1);
    assert.match(again.err, /NOTHING_TO_RETRY/);
  });

  test('discard asks for --yes without a terminal, then drops the key', async () => {
    await world.cache.increment('video', 'cli-discard', 'likes', 5);
    const refused = await cli('discard', 'video', 'cli-discard');
    assert.equal(refused.status, 2);
    assert.match(refused.err, /--yes/);
    const done = await cli('discard', 'video', 'cli-discard', '--yes');
    assert.equal(done.status, 0, done.err);
    assert.match(done.out, /discard video cli-discard: discarded/);
    assert.equal((await story('video', 'cli-discard')).state, 'not-cached');
    assert.equal(await world.cache.get('video', 'cli-discard'), null);
  });

  test('retry --cause: a group of 50 failed keys, in batches', async () => {
    await world.db.pool.query(
      `ALTER TABLE "Video" ADD CONSTRAINT ${CONSTRAINT} CHECK (id NOT LIKE 'cli-group-%') NOT VALID`,
    );
    const ids = Array.from({ length: 50 }, (_, i) => `cli-group-${i}`);
    try {
      await Promise.all(ids.map((id, i) => world.cache.increment('video', id, 'likes', i + 1)));
      await world.cache.queues[0]?.promoteJobs();
      assert.ok(
        await eventually(
          async () => /video\s+23514\s+50\s+50/.test((await cli('failures', '--cause', '23514')).out),
          15_000,
          200,
        ),
        'the 50 jobs failed',
      );
      const json = JSON.parse((await cli('failures', '--entity', 'video', '--json')).out);
      assert.equal(json.groups[0].count, 50);
    } finally {
      await world.db.pool.query(`ALTER TABLE "Video" DROP CONSTRAINT ${CONSTRAINT}`);
    }
    const retried = await cli('retry', '--cause', '23514', '--entity', 'video', '--batch-size', '20');
    assert.equal(retried.status, 0, retried.err);
    assert.match(retried.err, /batch 3 of 3: retried 50 of 50/);
    assert.match(retried.out, /retried 50 of 50 failed jobs in 3 batches: 50 flushed, 0 failed again/);
    const { rows } = await world.db.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM "Video" WHERE id LIKE 'cli-group-%'`,
    );
    assert.equal(Number(rows[0]?.n), 50);
    assert.match((await cli('failures', '--cause', '23514')).out, /no failed jobs/);
  });

  test('retry the selected: the keys the failures page sends, through the API', async () => {
    await world.db.pool.query(
      `ALTER TABLE "Video" ADD CONSTRAINT ${CONSTRAINT} CHECK (id NOT LIKE 'cli-pick-%') NOT VALID`,
    );
    const ids = ['cli-pick-0', 'cli-pick-1', 'cli-pick-2'];
    try {
      await Promise.all(ids.map((id) => world.cache.increment('video', id, 'likes', 4)));
      await world.cache.queues[0]?.promoteJobs();
      assert.ok(await eventually(async () => (await world.cache.stats()).failedKeys === 3, 15_000, 100));
    } finally {
      await world.db.pool.query(`ALTER TABLE "Video" DROP CONSTRAINT ${CONSTRAINT}`);
    }
    const headers = {
      authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
      'content-type': 'application/json',
      // As the page sends it: same origin.
      'sec-fetch-site': 'same-origin',
    };
    const response = await fetch(`${url}/failures/retry`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ keys: ids.slice(0, 2).map((id) => ({ entity: 'video', id })), wait: true }),
    });
    assert.equal(response.status, 200);
    const { run } = (await response.json()) as { run: { progress: { selected: number; flushed: number } } };
    assert.equal(run.progress.selected, 2);
    assert.equal(run.progress.flushed, 2);
    assert.equal((await story('video', 'cli-pick-2')).state, 'failed', 'the key not selected still waits');
    // Another site cannot make the operator's browser send it.
    const forged = await fetch(`${url}/failures/retry`, {
      method: 'POST',
      headers: { ...headers, 'sec-fetch-site': 'cross-site' },
      body: JSON.stringify({ keys: [{ entity: 'video', id: 'cli-pick-2' }] }),
    });
    assert.equal(forged.status, 403);
    assert.equal((await cli('retry', 'video', 'cli-pick-2')).status, 0);
  });

  test('every action was audited with the user name', () => {
    const actions = audit
      .filter((a) => a.obj.actor !== undefined)
      .map((a) => `${a.obj.actor} ${a.obj.action} ${a.obj.outcome}`);
    for (const expected of [
      'grace flush promoted',
      'grace flush JOB_FAILED',
      'grace retry retried',
      'grace retry NOTHING_TO_RETRY',
      'grace discard discarded',
      'grace retry-failures started',
      'grace retry-failures done',
    ]) {
      assert.ok(actions.includes(expected), `${expected} in ${JSON.stringify(actions)}`);
    }
  });
});
