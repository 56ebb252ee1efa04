// The demo apps as real processes on a real Redis Cluster (3 masters, 3 replicas, announcing host names as
// docker-compose.yml's cluster profile does), configured only by REDIS_CLUSTER_NODES: it wins over REDIS_URL (pointed here at a port where nothing listens), writes
// acknowledged by the api land on every master and reach PostgreSQL through the worker, and the dashboard
// reports every shard. `npm start` takes the same variable and starts no Redis of its own.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dataKey, shardKeys, shardOf } from '@write-behind/core/internal';
import {
  type AppProcess,
  createTestDatabase,
  eventually,
  mastersOfShards,
  type RedisCluster,
  spreadPrefix,
  startApp,
  startRedisCluster,
  type TestDatabase,
  videoRow,
} from '@write-behind/testkit';
import type { Cluster } from 'ioredis';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SHARDS = 6;
const USER = 'operator';
const PASSWORD = 'cluster dashboard password';
const AUTH = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };

let cluster: RedisCluster;
let redis: Cluster;
let db: TestDatabase;
let env: Record<string, string>;
const apps: AppProcess[] = [];

before(async () => {
  // As in docker-compose.yml's cluster profile: the nodes announce a host name, which CLUSTER SLOTS gives
  // clients instead of an address, and the seeds are host names.
  cluster = await startRedisCluster({
    args: ['--cluster-announce-hostname', 'localhost', '--cluster-preferred-endpoint-type', 'hostname'],
  });
  redis = cluster.connect();
  db = await createTestDatabase();
  env = {
    REDIS_CLUSTER_NODES: cluster.startupNodes.map(({ port }) => `localhost:${port}`).join(','),
    // Nothing listens here: an app that used REDIS_URL could not write at all.
    REDIS_URL: 'redis://127.0.0.1:1',
    DATABASE_URL: db.url,
    WB_PREFIX: await spreadPrefix(cluster, redis, SHARDS),
    WB_SHARDS: String(SHARDS),
    FLUSH_WINDOW_MS: '100',
    WORKER_CLOSE_TIMEOUT_MS: '3000',
  };
});

after(async () => {
  await Promise.all(apps.map((app) => app.stop()));
  redis?.disconnect();
  await cluster?.stop();
  await db?.drop();
});

/** One video id per shard, in shard order. */
function idPerShard(label: string): string[] {
  const ids: string[] = [];
  for (let n = 0; ids.length < SHARDS; n++) {
    const id = `${label}-${n}`;
    if (shardOf('video', id, SHARDS) === ids.length) ids.push(id);
  }
  return ids;
}

async function like(apiUrl: string, id: string, by: number): Promise<void> {
  const response = await fetch(`${apiUrl}/videos/${id}/likes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ by }),
  });
  assert.equal(response.status, 200, await response.text());
}

test('the api, the worker and the dashboard on REDIS_CLUSTER_NODES: writes on every master reach PostgreSQL', async () => {
  const started = await Promise.allSettled([
    startApp('api', env),
    startApp('worker', env),
    startApp('dashboard', { ...env, DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD, HOST: '127.0.0.1' }),
  ]);
  // Those that started are stopped by `after` even if another did not.
  for (const result of started) if (result.status === 'fulfilled') apps.push(result.value);
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  const [api, worker, dashboard] = apps as [AppProcess, AppProcess, AppProcess];
  // Listening comes before healthy (the cluster's slots, the database's check): wait for the answer.
  const healthy = (url: string) => eventually(async () => (await fetch(`${url}/healthz`)).status === 200);
  assert.ok(await healthy(api.url), 'the api reports healthy');
  assert.ok(await healthy(worker.url), 'the worker reports healthy');

  const ids = idPerShard('apps');
  for (const [i, id] of ids.entries()) await like(api.url, id, i + 1);
  // The keys are on the cluster, under the prefix's six hash tags, which three masters serve.
  assert.equal(new Set(await mastersOfShards(cluster, redis, env.WB_PREFIX as string, SHARDS)).size, 3);
  for (const [shard, id] of ids.entries()) {
    const key = dataKey(shardKeys(env.WB_PREFIX as string, shard, SHARDS), 'video', id);
    assert.equal(await redis.exists(key), 1, `${key} is on the cluster`);
  }
  for (const [i, id] of ids.entries()) {
    assert.ok(await eventually(async () => (await videoRow(db, id))?.likes === i + 1), `${id} not flushed`);
  }

  const stats = await fetch(`${dashboard.url}/api/stats`, { headers: AUTH });
  assert.equal(stats.status, 200);
  const body = (await stats.json()) as { dirtyKeys: number; queues: { queue: string }[] };
  assert.deepEqual(
    body.queues.map((q) => q.queue),
    Array.from({ length: SHARDS }, (_, shard) => {
      const keys = shardKeys(env.WB_PREFIX as string, shard, SHARDS);
      return `${keys.tag}:${keys.queueName}`;
    }),
  );
  const board = await fetch(`${dashboard.url}/admin/queues/api/queues`, { headers: AUTH });
  assert.equal(board.status, 200);
  assert.equal(((await board.json()) as { queues: unknown[] }).queues.length, SHARDS);
  const flushed = await fetch(`${worker.url}/metrics`);
  assert.match(await flushed.text(), new RegExp(`^write_behind_flush_keys_total ${SHARDS}$`, 'm'));

  for (const app of apps.splice(0)) assert.deepEqual(await app.stop(), { code: 0, signal: null }, app.name);
});

test('`npm start` with REDIS_CLUSTER_NODES runs the apps on the cluster and starts no Redis of its own', async () => {
  const child = spawn(process.execPath, ['scripts/start.mjs', 'api', 'worker'], {
    cwd: root,
    env: { ...process.env, ...env, API_PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'info', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that a launcher that does not stop can be killed with its apps.
    detached: true,
  });
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr])
    createInterface({ input: stream }).on('line', (l) => lines.push(l));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    let apiPort: number | undefined;
    const ready = () => {
      for (const line of lines) {
        const json = /^\[api\]\s+(\{.*\})$/.exec(line)?.[1];
        const entry = json ? (JSON.parse(json) as { msg?: string; port?: number }) : undefined;
        if (entry?.msg === 'api listening') apiPort = entry.port;
      }
      return apiPort !== undefined && lines.some((line) => /^\[worker\].*"worker ready"/.test(line));
    };
    assert.ok(await eventually(ready, 60_000), `npm start never got ready:\n${lines.join('\n')}`);
    assert.ok(
      lines.some((line) =>
        line.includes(`Redis:      cluster ${env.REDIS_CLUSTER_NODES} (REDIS_CLUSTER_NODES)`),
      ),
      lines.join('\n'),
    );
    assert.ok(!lines.some((line) => /local Redis|^\[services\]/.test(line)), lines.join('\n'));

    const [id] = idPerShard('start');
    await like(`http://127.0.0.1:${apiPort}`, id as string, 7);
    assert.ok(await eventually(async () => (await videoRow(db, id as string))?.likes === 7), 'not flushed');
  } finally {
    // The launcher passes SIGTERM on to the apps and exits once they have drained.
    child.kill('SIGTERM');
    const timer = setTimeout(() => process.kill(-(child.pid as number), 'SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
  assert.equal(await exited, 0, lines.join('\n'));
});
