// The dashboard in-process (supertest): authentication on every route but /healthz, the stats and metrics
// it serves, and the refusal to retry completed jobs. Where it may listen: unit/config.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Logger } from '@write-behind/core';
import { shardKeys } from '@write-behind/core/internal';
import { type DemoCache, type DemoEntities, demoEntities } from '@write-behind/demo';
import { createTestCache, eventually, REDIS_URL, type TestCache } from '@write-behind/testkit';
import { type Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import request from 'supertest';
import { BOARD_PATH, createApp } from '../src/app.ts';

const silent: Logger = { info() {}, warn() {}, error() {} };
const credentials = { user: 'ops', password: 's3cret' };

describe('the dashboard app', () => {
  let world: TestCache<DemoEntities>;
  let cache: DemoCache;

  before(async () => {
    world = await createTestCache({ entities: demoEntities, logger: silent });
    cache = world.cache;
  });
  after(() => world.close());

  const app = () => createApp({ cache, credentials, logger: silent, processMetrics: false });
  const auth = (r: request.Test) => r.auth(credentials.user, credentials.password);

  test('every route but /healthz needs the credentials', async () => {
    for (const path of ['/', '/api/stats', '/metrics', BOARD_PATH, `${BOARD_PATH}/api/queues`]) {
      const response = await request(app()).get(path).expect(401);
      assert.match(response.headers['www-authenticate'] ?? '', /^Basic realm="write-behind dashboard"/);
      assert.equal(response.body.error.code, 'UNAUTHORIZED');
      await request(app()).get(path).auth(credentials.user, 'wrong').expect(401);
      await request(app()).get(path).auth('wrong', credentials.password).expect(401);
    }
    await request(app()).get('/healthz').expect(200, { status: 'ok' });
  });

  test('stats, metrics and the page', async () => {
    await cache.increment('video', 'd1', 'likes');
    const stats = await auth(request(app()).get('/api/stats')).expect(200);
    assert.equal(stats.body.dirtyKeys, 1);
    assert.ok(stats.body.lagMs >= 0);
    // BullMQ's qualified name of the one flush queue: its prefix (the shard's hash tag), then its name.
    const shard = shardKeys(world.prefix, 0, 1);
    const queueName = `${shard.tag}:${shard.queueName}`;
    assert.deepEqual(
      stats.body.queues.map((q: { queue: string }) => q.queue),
      [queueName],
    );

    const metrics = await auth(request(app()).get('/metrics')).expect(200);
    assert.match(metrics.text, /^write_behind_dirty_keys 1$/m);
    assert.match(metrics.text, /^write_behind_lag_seconds \d/m);
    assert.match(metrics.text, /^write_behind_failed_keys 0$/m);
    assert.ok(
      metrics.text.split('\n').includes(`write_behind_queue_jobs{queue="${queueName}",state="delayed"} 1`),
      metrics.text,
    );
    assert.match(metrics.text, /^write_behind_queue_backlog_jobs 1$/m);

    const page = await auth(request(app()).get('/')).expect(200).expect('content-type', /html/);
    const nonce = /script-src 'nonce-([^']+)'/.exec(page.headers['content-security-policy'] ?? '')?.[1];
    assert.ok(nonce, 'the page has a CSP with a script nonce');
    assert.ok(page.text.includes(`<script nonce="${nonce}" src="assets/overview.js">`));
    assert.ok(page.text.includes('api/stats'));

    await auth(request(app()).get(`${BOARD_PATH}/`)).expect(200);
  });

  test('Bull Board refuses to retry completed jobs, one by one or all at once', async () => {
    const queue = cache.queues[0] as Queue;
    // A job that completes and is kept: the flush worker removes its own completed jobs, so run a stand-in.
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const worker = new Worker('flush', async () => 'done', { connection, prefix: queue.opts.prefix });
    try {
      const job = await queue.add('stand-in', {}, { jobId: 'completed-job', removeOnComplete: false });
      assert.ok(await eventually(async () => (await job.getState()) === 'completed'));
      const one = await auth(request(app()).put(`${BOARD_PATH}/api/queues/flush/completed-job/retry`)).expect(
        405,
      );
      assert.equal(one.body.error.code, 'COMPLETED_RETRY_REFUSED');
      await auth(request(app()).put(`${BOARD_PATH}/api/queues/flush/retry/completed`)).expect(405);
      assert.equal(await job.getState(), 'completed');
      // Anything else reaches Bull Board: an unknown job is its 404.
      await auth(request(app()).put(`${BOARD_PATH}/api/queues/flush/no-such-job/retry`)).expect(404);
    } finally {
      await worker.close();
      connection.disconnect();
    }
  });
});
